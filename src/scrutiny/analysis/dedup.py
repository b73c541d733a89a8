"""Scores without leaked test images: each arm re-scored on the test examples that have no training duplicate.

A duplicates audit (:func:`scrutiny.audit.duplicates.audit_duplicates`, saved as JSON) names the evaluated split's
examples that match a training image. Each trial's final evaluation is recomputed from its stored per-example
outputs (``outputs.npz``, written when the spec sets ``eval.save_outputs: true``) over the other examples, giving
``final_<split>_acc``, ``_loss``, ``_correct`` and ``_n`` on the duplicate-free subset. Other metrics (best-epoch
fields, probe results) cannot be recomputed from those outputs and are left out of the re-scored arms, so that no
hypothesis is decided on them with the leaked images still counted. A trial without outputs is named with the
spec key that saves them, and left out of its arm's re-scored seeds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scrutiny.analysis.scores import ArmScores, collect_arm
from scrutiny.audit.duplicates import DuplicateAudit
from scrutiny.errors import ScrutinyError
from scrutiny.spec import trial_id
from scrutiny.store import Store

SAVE_OUTPUTS_KEY = "eval.save_outputs"
_FIELDS = ("acc", "loss", "correct", "n")


@dataclass
class MissingOutputs:
    """A complete trial that stored no per-example outputs, so it cannot be re-scored."""

    arm: str
    trial_id: str
    path: str
    key: str = SAVE_OUTPUTS_KEY

    def message(self) -> str:
        return f"{self.path}: no per-example outputs for arm '{self.arm}'; run its trials with {self.key}: true"


@dataclass
class DedupScores:
    """Per-arm scores on the duplicate-free subset.

    Attributes:
        arms: Arm name -> :class:`ArmScores` whose ``scores`` and ``others`` are recomputed on the kept examples
            (only seeds with stored outputs; ``others`` holds only the recomputed fields).
        missing: Trials that lack per-example outputs.
        excluded: Per evaluated split: the indices left out, int64 ``(k,)``.
        n_total: Per evaluated split: examples before exclusion.
        dropped: Per arm: metrics that could not be recomputed and are absent from its re-scored ``others``.
    """

    arms: dict[str, ArmScores]
    missing: list[MissingOutputs]
    excluded: dict[str, np.ndarray]
    n_total: dict[str, int]
    audit_path: str | None = None
    dropped: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "audit": self.audit_path,
            "excluded": {s: v.tolist() for s, v in self.excluded.items()},
            "n_total": self.n_total,
            "n_kept": {s: self.n_total[s] - len(v) for s, v in self.excluded.items()},
            "missing_outputs": [dataclasses.asdict(m) | {"message": m.message()} for m in self.missing],
            "dropped_metrics": self.dropped,
            "arms": {n: a.to_dict() for n, a in self.arms.items()},
        }


def rescore_without_duplicates(
    claim, store: Store, audit: DuplicateAudit, *, detectors: Sequence[str] | None = None
) -> DedupScores:
    """Re-score every arm of a claim on the test examples that ``audit`` does not flag.

    Args:
        claim: A ``ClaimResult`` (its ``arms`` are re-scored) or a ``ClaimPlan`` (its arms are first read from
            ``store``, as :func:`scrutiny.analysis.check.score_claim` reads them).
        store: The trial store.
        audit: A loaded audit (:func:`scrutiny.audit.duplicates.load_audit`) of the arms' dataset.
        detectors: Which detectors' pairs to exclude (default: every detector the audit ran).

    Raises:
        ScrutinyError: The audit is of another dataset or did not audit the evaluated split; a trial's outputs
            do not line up with the audited split (size or labels); the claim's metric cannot be recomputed.
    """
    arms = getattr(claim, "arms", None) or _collect(claim, store)
    where = audit.path or "audit"
    out: dict[str, ArmScores] = {}
    missing: list[MissingOutputs] = []
    excluded: dict[str, np.ndarray] = {}
    n_total: dict[str, int] = {}
    dropped: dict[str, list[str]] = {}
    for name, arm in arms.items():
        spec = claim.specs[name]
        split = spec.eval.split
        if audit.dataset.get("name") not in (None, spec.data.name):
            raise ScrutinyError(
                f"{where}: dataset: the audit is of '{audit.dataset.get('name')}', arm '{name}' uses '{spec.data.name}'"
            )
        if split not in audit.audited:
            raise ScrutinyError(f"{where}: splits: '{split}' (arm '{name}') was not audited; it has {audit.audited}")
        flagged = audit.flagged(split, detectors)
        n = int(audit.splits[split]["n"])
        keep = np.ones(n, dtype=bool)
        keep[flagged] = False
        excluded[split], n_total[split] = flagged, n
        fields = {f"final_{split}_{k}" for k in _FIELDS}
        if arm.metric not in fields:
            raise ScrutinyError(
                f"metric: '{arm.metric}' cannot be recomputed without the duplicates; only "
                f"{', '.join(sorted(fields))} come from the per-example outputs"
            )
        rows: list[int] = []
        values: dict[str, list[float]] = {f: [] for f in sorted(fields)}
        for k, seed in enumerate(arm.complete_seeds):
            tid = trial_id(spec, seed)
            path = store.trial_dir(tid) / "outputs.npz"
            if not path.exists():
                missing.append(MissingOutputs(name, tid, str(path)))
                continue
            for f, v in _rescore(store, tid, split, keep, audit.splits[split].get("labels"), where).items():
                values[f"final_{split}_{f}"].append(v)
            rows.append(k)
        others = {f: np.array(v, dtype=float) for f, v in values.items()}
        dropped[name] = sorted(set(arm.others) - fields)
        out[name] = dataclasses.replace(
            arm,
            scores=others[arm.metric],
            complete_seeds=[arm.complete_seeds[k] for k in rows],
            others=others,
            curves=arm.curves[rows] if arm.curves.shape[0] == arm.n else arm.curves,
            wall_time_s=arm.wall_time_s[rows] if arm.wall_time_s.size == arm.n else arm.wall_time_s,
            device_time_s=arm.device_time_s[rows] if arm.device_time_s.size == arm.n else arm.device_time_s,
        )
    return DedupScores(out, missing, excluded, n_total, audit.path, dropped)


def _rescore(store: Store, tid: str, split: str, keep: np.ndarray, labels, where: str) -> dict[str, float]:
    arrays = store.arrays(tid, "outputs.npz")
    path = store.trial_dir(tid) / "outputs.npz"
    task = store.result(tid).get("task", "classification")
    if task != "classification":
        raise ScrutinyError(f"{path}: task '{task}': only classification outputs can be re-scored")
    try:
        pred, target, loss = (np.asarray(arrays[f"{split}_{k}"]) for k in ("pred", "target", "loss"))
    except KeyError as exc:
        raise ScrutinyError(f"{path}: no '{exc.args[0]}' array") from None
    if len(pred) != len(keep):
        raise ScrutinyError(f"{path}: {len(pred)} '{split}' outputs, but {where} audited {len(keep)} examples")
    if labels is not None and not np.array_equal(target, np.asarray(labels)):
        raise ScrutinyError(f"{path}: the '{split}' labels differ from those in {where} (another split or order)")
    hits = pred[keep] == target[keep]
    n = int(keep.sum())
    return {
        "acc": float(hits.sum()) / n if n else float("nan"),
        "loss": float(loss[keep].astype(np.float64).sum()) / n if n else float("nan"),
        "correct": float(hits.sum()),
        "n": float(n),
    }


def _collect(plan, store: Store) -> dict[str, ArmScores]:
    arms = {}
    for name, spec in plan.specs.items():
        arm = plan.claim.arms[name]
        reported = arm.reported.model_dump() if arm.reported else None
        arms[name] = collect_arm(store, name, spec, plan.seeds, plan.claim.metric, label=arm.label, reported=reported)
    return arms
