"""Score tables from the store: per arm, the metric of every complete seed, learning curves and costs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scrutiny.spec import Spec, spec_hash, trial_id
from scrutiny.store import Store

LOSS = "train_loss_epoch_avg"  # the per-epoch training loss the trial loop logs


@dataclass
class ArmScores:
    """What the store holds for one arm (a spec across seeds).

    Attributes:
        scores: The metric of each complete trial, in seed order, shape ``(n_complete,)``.
        complete_seeds: The seeds of ``scores``.
        curve_epochs: Epochs at which the evaluated split was scored, shape ``(n_epochs,)``.
        curves: Per-epoch accuracy of the evaluated split for each complete trial, shape ``(n_complete, n_epochs)``
            (NaN where an epoch was not evaluated).
        loss_epochs: Epochs with a training loss (``train_loss_epoch_avg``), shape ``(n_loss_epochs,)``.
        loss_curves: Per-epoch mean training loss of each complete trial, shape ``(n_complete, n_loss_epochs)``.
        wall_time_s: Wall time of each complete trial, shape ``(n_complete,)``.
        device_time_s: Time spent in the training and evaluation epochs, shape ``(n_complete,)``.
        flops_per_step: FLOPs of one training step's forward and backward passes (``None`` where not counted).
        train_steps: Optimizer steps of one trial.
        failures: ``(trial id, status, error)`` of trials that did not complete.
        seed_status: The status of every planned seed (``complete``, ``failed``, ``diverged``, ``missing``, ...).
        outcomes: Per-example correctness of the final evaluation, shape ``(n_complete, n_examples)``, for the
            claim's accuracy metric when every complete trial stored its outputs (``eval.save_outputs``).
        selected_on_test: Fields (``best_*``) that some complete trial selected on the split it reports.
        started_at: When the first of its complete trials started (ISO time), for the pre-registration record.
    """

    name: str
    label: str
    spec_hash: str
    metric: str
    seeds: list[int]
    scores: np.ndarray
    complete_seeds: list[int]
    status: dict[str, int]
    curve_epochs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    curves: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    loss_epochs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    loss_curves: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    wall_time_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    device_time_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    flops_per_step: float | None = None
    train_steps: int | None = None
    n_params: int | None = None
    device: str | None = None
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    reported: dict[str, Any] | None = None
    others: dict[str, np.ndarray] = field(default_factory=dict)
    seed_status: dict[int, str] = field(default_factory=dict)
    outcomes: np.ndarray | None = None
    selected_on_test: tuple[str, ...] = ()
    started_at: str | None = None

    def values(self, metric: str) -> np.ndarray:
        """Per-seed values ``(n_complete,)`` of ``metric`` (the claim's metric or any other numeric final field)."""
        if metric == self.metric or self.n == 0:  # no complete trial: no values of any metric
            return self.scores
        if metric not in self.others:
            from scrutiny.errors import ScrutinyError

            raise ScrutinyError(f"metric: arm '{self.name}' has no '{metric}'; it has {', '.join(sorted(self.others))}")
        return self.others[metric]

    @property
    def n(self) -> int:
        return int(self.scores.size)

    @property
    def total_flops(self) -> float | None:
        """Training FLOPs summed over the complete seeds (forward + backward of every step)."""
        if self.flops_per_step is None or self.train_steps is None:
            return None
        return float(self.flops_per_step) * self.train_steps * self.n

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "spec_hash": self.spec_hash,
            "metric": self.metric,
            "seeds": self.seeds,
            "complete_seeds": self.complete_seeds,
            "scores": self.scores.tolist(),
            "status": self.status,
            "n": self.n,
            "mean": float(self.scores.mean()) if self.n else None,
            "sd": float(self.scores.std(ddof=1)) if self.n > 1 else None,
            "n_params": self.n_params,
            "device": self.device,
            "wall_time_s": self.wall_time_s.tolist(),
            "device_time_s": self.device_time_s.tolist(),
            "flops_per_train_step": self.flops_per_step,
            "train_steps": self.train_steps,
            "total_train_flops": self.total_flops,
            "failures": [list(f) for f in self.failures],
            "seed_status": {str(k): v for k, v in self.seed_status.items()},
            "selected_on_test": list(self.selected_on_test),
            "test_set_size": int(self.outcomes.shape[1]) if self.outcomes is not None else None,
            "reported": self.reported,
        }


def collect_arm(
    store: Store,
    name: str,
    spec: Spec,
    seeds: Sequence[int],
    metric: str,
    *,
    label: str | None = None,
    reported: dict[str, Any] | None = None,
    epoch_fields: Sequence[str] = (),
) -> ArmScores:
    """Read the trials of ``spec`` × ``seeds`` from ``store``; missing trials count as status ``missing``.

    ``epoch_fields``: ``<key>@<epoch>`` names (e.g. ``test_acc@2``) read from each trial's per-epoch metrics, so a
    hypothesis can name an epoch without a separate, shorter run.
    """
    status: dict[str, int] = {}
    seed_status: dict[int, str] = {}
    scores, done, curves, losses, walls, devices, failures, results = [], [], [], [], [], [], [], []
    info: dict[str, Any] = {}
    split = spec.eval.split
    for seed in seeds:
        tid = trial_id(spec, seed)
        st = store.status(tid)
        status[st] = status.get(st, 0) + 1
        seed_status[int(seed)] = st
        if st != "complete":
            if st in ("failed", "diverged"):
                failures.append((tid, st, store.result(tid).get("error", "")))
            continue
        result = store.result(tid)
        if metric not in result or result[metric] is None:
            from scrutiny.errors import ScrutinyError

            have = sorted(k for k in result if k.startswith(("final_", "best_")) or k in result.get("probe_fields", ()))
            raise ScrutinyError(f"metric: trial {tid} has no '{metric}'; it has {', '.join(have)}")
        scores.append(float(result[metric]))
        done.append(seed)
        results.append(result)
        rows = store.metrics(tid)
        result = {**result, **_at_epochs(rows, epoch_fields, tid)}
        results[-1] = result
        curves.append({row["epoch"]: row.get(f"{split}_acc") for row in rows if f"{split}_acc" in row})
        losses.append({row["epoch"]: row.get(LOSS) for row in rows if LOSS in row})
        walls.append(float(result.get("wall_time_s") or np.nan))
        devices.append(float(result.get("device_time_s") or np.nan))
        info = result
    epochs, curve = _per_epoch(curves)
    loss_epochs, loss_curve = _per_epoch(losses)
    numeric = {
        k
        for r in results
        for k, v in r.items()
        if (k.startswith(("final_", "best_")) or k in r.get("probe_fields", ())) and _number(v)
    }
    numeric |= set(epoch_fields)
    others = {
        k: np.array([float(r[k]) for r in results], dtype=float)
        for k in sorted(numeric)
        if all(_number(r.get(k)) for r in results)
    }
    outcomes = _outcomes(store, [trial_id(spec, s) for s in done], split) if metric == f"final_{split}_acc" else None
    on_test = tuple(sorted({k for r in results for k in r.get("selected_on_test_fields", ())}))
    if any(r.get("selected_on_test") for r in results) and not on_test:
        on_test = tuple(sorted({k for r in results for k in r if k.startswith("best_")}))
    return ArmScores(
        name=name,
        label=label or spec.label or name,
        spec_hash=spec_hash(spec),
        metric=metric,
        seeds=list(seeds),
        scores=np.array(scores, dtype=float),
        complete_seeds=done,
        status=status,
        curve_epochs=epochs,
        curves=curve,
        loss_epochs=loss_epochs,
        loss_curves=loss_curve,
        wall_time_s=np.array(walls),
        device_time_s=np.array(devices),
        flops_per_step=info.get("flops_per_train_step"),
        train_steps=info.get("train_steps"),
        n_params=info.get("n_params"),
        device=info.get("device"),
        failures=failures,
        reported=reported,
        others=others,
        seed_status=seed_status,
        outcomes=outcomes,
        selected_on_test=on_test,
        started_at=min((str(r["started_at"]) for r in results if r.get("started_at")), default=None),
    )


def _per_epoch(curves: list[dict[int, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """``(epochs, values)`` from one ``{epoch: value}`` per trial: the union of epochs, NaN where a trial lacks one."""
    epochs = np.array(sorted({e for c in curves for e in c}), dtype=int)
    values = [[np.nan if c.get(int(e)) is None else c[int(e)] for e in epochs] for c in curves]
    return epochs, np.array(values, dtype=float).reshape(len(curves), len(epochs))


def _at_epochs(rows: list[dict[str, Any]], fields: Sequence[str], tid: str) -> dict[str, float]:
    """``{"<key>@<epoch>": value}`` from one trial's per-epoch rows; a field the rows lack is a one-line error."""
    out: dict[str, float] = {}
    by_epoch = {int(row["epoch"]): row for row in rows if "epoch" in row}
    for name in fields:
        key, _, epoch = name.rpartition("@")
        row = by_epoch.get(int(epoch))
        if row is None or not _number(row.get(key)):
            from scrutiny.errors import ScrutinyError

            where = f"epochs {min(by_epoch)}-{max(by_epoch)}" if by_epoch else "no epochs"
            have = sorted(k for k in (row or next(iter(by_epoch.values()), {})) if k != "epoch")
            raise ScrutinyError(
                f"metric: trial {tid} has no '{key}' at epoch {epoch} (it logged {where}; fields: {', '.join(have)})"
            )
        out[name] = float(row[key])
    return out


def _outcomes(store: Store, trial_ids: list[str], split: str) -> np.ndarray | None:
    """Per-example correctness ``(n_trials, n_examples)`` from each trial's ``outputs.npz``, or None if any lacks it."""
    rows = []
    for tid in trial_ids:
        try:
            arrays = store.arrays(tid, "outputs.npz")
        except Exception:  # no outputs saved (or unreadable): no test-set variance for this arm
            return None
        pred, target = arrays.get(f"{split}_pred"), arrays.get(f"{split}_target")
        if pred is None or target is None or np.shape(pred) != np.shape(target) or np.ndim(pred) != 1:
            return None
        rows.append(np.asarray(pred) == np.asarray(target))
    if not rows or len({r.size for r in rows}) != 1:
        return None
    return np.stack(rows).astype(float)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
