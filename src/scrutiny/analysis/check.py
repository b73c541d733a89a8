"""Score a claim: its arms' score tables from the store (or from a file of scores), and a verdict per hypothesis.

Nothing here runs a trial or writes the store: :mod:`scrutiny.workflows.check` runs what the store lacks, records
the pre-registration, computes what report sections need (networks they show, attributions) and then calls
:func:`score_claim`. A :class:`ClaimSetup` is the claim at a scale: its resolved arm specs and verdict seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from scrutiny.analysis.scores import ArmScores, collect_arm
from scrutiny.analysis.verdicts import RULES_TEXT, Rules, Verdict, evaluate_family
from scrutiny.errors import StoreError
from scrutiny.spec import Spec, diff, parse_seeds, trial_id
from scrutiny.spec.claim import Claim, Scale, arm_specs, claim_seeds, load_claim
from scrutiny.store import Store

# computes, from a result whose arms are scored, keyword arguments per section (index in the claim's list)
SectionInputs = Callable[["ClaimResult"], Mapping[int, Mapping[str, Any]]]


@dataclass
class ClaimSetup:
    """A claim at a scale: the claim, its file, the scale, the verdict seeds and each arm's resolved spec."""

    claim: Claim
    path: Path
    scale: str
    seeds: list[int]
    specs: dict[str, Spec]

    def trial_ids(self) -> list[str]:
        """The ids of every arm's trials at the seeds, each once (an arm shared by two names counts once)."""
        ids = (trial_id(spec, s) for spec in self.specs.values() for s in self.seeds)
        return list(dict.fromkeys(ids))


@dataclass
class ClaimResult:
    """Everything a report shows: the claim, the arms' scores and costs, and a verdict per hypothesis."""

    claim: Claim
    path: Path
    scale: str
    seeds: list[int]
    specs: dict[str, Spec]
    arms: dict[str, ArmScores]
    verdicts: list[Verdict]
    differences: list[dict[str, Any]] = field(default_factory=list)
    sweep: dict[str, Any] = field(default_factory=dict)
    sections: list[Any] = field(default_factory=list)
    preregistration: dict[str, Any] | None = None
    looks: list[dict[str, Any]] = field(default_factory=list)
    scores_file: str | None = None
    without_duplicates: dict[str, Any] | None = None
    code_versions: list[dict[str, Any]] = field(default_factory=list)

    def code_note(self) -> str | None:
        """One line on the versions of scrutiny's code that the scored trials ran on; it says so where they differ
        (``None`` without any trial that records its code, e.g. for scores from a file)."""
        versions = self.code_versions
        if not versions:
            return None
        n = sum(v["trials"] for v in versions)
        if len(versions) == 1:
            return f"All {n} trials scored ran on scrutiny {versions[0]['label']}."
        listed = "; ".join(f"{v['label']} ({v['trials']} trials: {', '.join(v['arms'])})" for v in versions)
        return (
            f"Mixed code: the {n} trials scored ran on {len(versions)} versions of scrutiny: {listed}. "
            "A difference between arms may come from the code, not the setup."
        )

    def rules(self) -> dict[str, Any]:
        """The decision rules in force: α, the multiplicity rule, the family and its size, the failure policy."""
        c = self.claim
        confirmatory = [v for v in self.verdicts if not v.exploratory]
        return {
            "alpha": c.alpha,
            "multiplicity": c.multiplicity,
            "family_size": len(confirmatory),
            "exploratory": sum(v.exploratory for v in self.verdicts),
            "failed_seeds": c.failed_seeds.model_dump(),
            "pairing": c.pairing,
            "sequential": bool(self.looks),
            "text": RULES_TEXT,
        }

    def costs(self) -> dict[str, dict[str, Any]]:
        """Per arm: mean wall and device seconds per trial, FLOPs per training step, total training FLOPs."""
        out = {}
        for name, arm in self.arms.items():
            out[name] = {
                "n": arm.n,
                "wall_time_s_mean": _mean(arm.wall_time_s),
                "device_time_s_mean": _mean(arm.device_time_s),
                "device_time_s_total": float(np.nansum(arm.device_time_s)) if arm.n else None,
                "flops_per_train_step": arm.flops_per_step,
                "total_train_flops": arm.total_flops,
                "n_params": arm.n_params,
                "device": arm.device,
            }
        return out

    def cost_per_point(self, v: Verdict) -> dict[str, Any] | None:
        """What arm ``a`` costs over arm ``b`` per 0.01 gained (:func:`scrutiny.analysis.display.cost_per_point`)."""
        from dataclasses import asdict

        from scrutiny.analysis.display import cost_per_point

        cost = cost_per_point(self, v)
        return None if cost is None else asdict(cost)

    def to_dict(self) -> dict[str, Any]:
        c = self.claim
        # the claim's scales are keyed by the built-in scale names; self.scale is any str, so look it up as one
        scale = cast("Mapping[str, Scale]", c.scales).get(self.scale)
        return {
            "title": c.title,
            "source": c.source.model_dump(),
            "claim_file": str(self.path),
            "scale": self.scale,
            "scale_note": scale.note if scale else None,
            "metric": c.metric,
            "higher_is_better": c.higher_is_better,
            "seeds": self.seeds,
            "arms": {
                n: {**a.to_dict(), "spec": self.specs[n].to_dict() if n in self.specs else None}
                for n, a in self.arms.items()
            },
            "verdicts": [{**v.to_dict(), "cost_per_point": self.cost_per_point(v)} for v in self.verdicts],
            "costs": self.costs(),
            "differences": self.differences,
            "sweep": self.sweep,
            "notes": list(c.notes),
            "sections": [section.to_dict() for section in self.sections],
            "rules": self.rules(),
            "preregistration": self.preregistration,
            "tuning": _tuning(c, self.seeds),
            "looks": self.looks,
            "scores_file": self.scores_file,
            "without_duplicates": self.without_duplicates,
            "code_versions": self.code_versions,
            "code_note": self.code_note(),
        }


def _tuning(claim: Claim, verdict_seeds: list[int]) -> dict[str, Any]:
    """What the claim declares about how its settings were chosen, and what of it a reviewer should flag."""
    t = claim.tuning
    flags = []
    if t is None:
        return {"declared": False, "flags": ["the claim does not declare how its arms' settings were chosen"]}
    seeds = (parse_seeds(",".join(map(str, t.seeds)) if isinstance(t.seeds, list) else t.seeds)) if t.seeds else []
    overlap = sorted(set(seeds) & set(verdict_seeds))
    if overlap:
        flags.append(f"settings were tuned on verdict seeds {overlap}")
    if t.split == "test":
        flags.append("settings were chosen on the test split")
    undeclared = sorted(set(claim.arms) - set(t.configurations))
    if t.configurations and undeclared:
        flags.append(f"no configuration count declared for arm(s) {', '.join(undeclared)}")
    counts = set(t.configurations.values())
    if len(counts) > 1:
        flags.append(
            "arms got different numbers of configurations: "
            + ", ".join(f"{a} {n}" for a, n in t.configurations.items())
        )
    return {"declared": True, **t.model_dump(), "tuning_seeds": seeds, "flags": flags}


def _mean(x: np.ndarray) -> float | None:
    return float(np.nanmean(x)) if x.size and not np.all(np.isnan(x)) else None


def claim_setup(
    path: str | Path,
    scale: str | None = None,
    *,
    overrides: list[str] | None = None,
    seeds: str | None = None,
    arm_overrides: dict[str, list[str]] | None = None,
) -> ClaimSetup:
    """Load a claim and resolve its arms' specs and seeds at ``scale`` (default: the claim's ``default_scale``).

    Args:
        path: The claim YAML.
        scale: ``smoke``, ``cpu``, ``paper`` or another scale the claim declares.
        overrides: ``key=value`` overrides applied to every arm.
        seeds: The verdict seeds instead of the scale's: ``"0-4"`` or ``"0,3,7"``.
        arm_overrides: Arm -> ``key=value`` overrides of that arm alone (e.g. its ``model.weights``).

    Raises:
        SpecError: The claim or an arm's spec does not validate (one line naming the file and the key).
    """
    path = Path(path)
    claim = load_claim(path)
    scale = scale or claim.default_scale
    specs = arm_specs(claim, path, scale, overrides, arm_overrides)
    return ClaimSetup(claim, path, scale, claim_seeds(claim, scale, seeds), specs)


def collect_arms(setup: ClaimSetup, store: Store, seeds: Mapping[str, list[int]] | None = None) -> dict[str, ArmScores]:
    """Each arm's score table from the store, at the setup's seeds (or ``seeds[arm]``)."""
    p = setup
    epoch_fields = sorted(
        {m for h in p.claim.hypotheses if h.applies(p.scale) for m in (h.metric, h.metric_b) if m and "@" in m}
    )
    arms = {}
    for name, spec in p.specs.items():
        arm = p.claim.arms[name]
        arms[name] = collect_arm(
            store,
            name,
            spec,
            (seeds or {}).get(name, p.seeds),
            p.claim.metric,
            label=arm.label,
            reported=arm.reported.model_dump() if arm.reported else None,
            epoch_fields=epoch_fields,
        )
    return arms


def score_claim(
    setup: ClaimSetup,
    store: Store,
    *,
    sweep: Mapping[str, Any] | None = None,
    seed: int = 0,
    section_inputs: SectionInputs | None = None,
) -> ClaimResult:
    """Score a claim from what the store holds (runs nothing): every arm's scores and every hypothesis's verdict.

    Args:
        setup: The claim at a scale (:func:`claim_setup`).
        store: The trial store, read only.
        sweep: What the sweep before it did (``ran``, ``skipped``, ``interrupted``, ``counts``), for the report.
        seed: Seed of the resampling tests.
        section_inputs: Computes what the claim's report sections need beyond the scores (see
            :func:`scrutiny.workflows.sections.section_inputs`); without it such a section says what it lacks.

    Returns:
        The claim's result: per arm its scores and costs, per hypothesis its verdict, the report sections.
    """
    arms = collect_arms(setup, store)
    hyps = [h for h in setup.claim.hypotheses if h.applies(setup.scale)]
    verdicts = evaluate_family(hyps, arms, Rules.of_claim(setup.claim, seed=seed))
    return claim_result(setup, store, arms, verdicts, sweep, section_inputs)


def claim_result(
    setup: ClaimSetup,
    store: Store,
    arms: dict[str, ArmScores],
    verdicts: list[Verdict],
    sweep: Mapping[str, Any] | None = None,
    section_inputs: SectionInputs | None = None,
) -> ClaimResult:
    """The result of scored arms and their verdicts: the specs' differences, the pre-registration, the sections."""
    from scrutiny.analysis.preregistration import status

    p = setup
    names = list(p.specs)
    differences = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            for d in diff(p.specs[a], p.specs[b]):
                differences.append({"a": a, "b": b, "key": d.key, "value_a": _plain(d.a), "value_b": _plain(d.b)})
    result = ClaimResult(p.claim, p.path, p.scale, p.seeds, p.specs, arms, verdicts, differences, dict(sweep or {}))
    result.code_versions = code_versions(store, arms)
    result.preregistration = status(store.root, p.claim, p.path, p.scale, p.specs, p.seeds)
    # the first trial of these seeds, as the store records it
    started = [t for t in (a.started_at for a in arms.values()) if t]
    result.preregistration["first_trial_at"] = min(started) if started else None
    if p.claim.sections:
        from scrutiny.analysis.sections import build_sections

        computed = section_inputs(result) if section_inputs is not None else None
        result.sections = build_sections(result, store, computed)
    return result


_FINISHED = ("complete", "failed", "diverged")


def code_versions(store: Store, arms: Mapping[str, ArmScores]) -> list[dict[str, Any]]:
    """The distinct versions of scrutiny's code that the arms' finished trials ran on, most trials first.

    Read from each trial's ``trial.json`` (``environment.scrutiny``: version, commit, and a digest of the changes
    of a modified checkout); a trial from before that was recorded counts under its version with "commit not
    recorded". A trial shared by two arms counts once.

    Returns:
        Per version: ``label`` (one line), ``version``, ``commit``, ``dirty``, ``trials`` (how many) and ``arms``.
    """
    groups: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for name, arm in arms.items():
        for seed, st in arm.seed_status.items():
            tid = trial_id(arm.spec_hash, seed)
            if st not in _FINISHED or tid in seen:
                continue
            seen.add(tid)
            try:
                trial = store.trial(tid)
            except StoreError:
                continue  # a trial whose process died before its start record: nothing says what it ran
            version = _code_version(trial)
            group = groups.setdefault(version["label"], {**version, "trials": 0, "arms": []})
            group["trials"] += 1
            if name not in group["arms"]:
                group["arms"].append(name)
    return sorted(groups.values(), key=lambda g: (-g["trials"], g["label"]))


def _code_version(trial: Mapping[str, Any]) -> dict[str, Any]:
    source = (trial.get("environment") or {}).get("scrutiny")
    if not isinstance(source, Mapping):
        version = trial.get("scrutiny_version")
        return {"label": f"{version} (commit not recorded)", "version": version, "commit": None, "dirty": None}
    version, commit, dirty = source.get("version"), source.get("commit"), source.get("dirty")
    if not commit:
        label = f"{version} (not a git checkout)"
    else:
        label = f"{version} at {str(commit)[:12]}"
        if dirty:
            label += f" with uncommitted changes {str(source.get('changes_sha256') or '')[:8]}".rstrip()
    return {"label": label, "version": version, "commit": commit, "dirty": dirty}


def _plain(value: Any) -> Any:
    from scrutiny.spec import ABSENT

    return None if value is ABSENT else value


def score_claim_file(path: str | Path, scores: str | Path, scale: str | None = None, seed: int = 0) -> ClaimResult:
    """Decide a claim on per-seed scores from a CSV or JSON file (runs nothing; the claim's specs are not read).

    The file's rows name the claim's arms; every metric that a hypothesis at ``scale`` names must be a column.
    """
    from scrutiny.analysis.scores_file import arms_from_rows, read_score_rows

    path = Path(path)
    claim = load_claim(path)
    scale = scale or claim.default_scale
    hyps = [h for h in claim.hypotheses if h.applies(scale)]
    metrics = {claim.metric} | {m for h in hyps for m in (h.metric, h.metric_b) if m}
    rows = read_score_rows(scores)
    arms = arms_from_rows(
        rows,
        scores,
        {n: a.label for n, a in claim.arms.items()},
        metrics,
        claim.metric,
        {n: a.reported.model_dump() if a.reported else None for n, a in claim.arms.items()},
    )
    verdicts = evaluate_family(hyps, arms, Rules.of_claim(claim, seed=seed))
    seeds = sorted({s for a in arms.values() for s in a.seeds})
    result = ClaimResult(claim, path, scale, seeds, {}, arms, verdicts)
    result.scores_file = str(scores)
    return result


def decide_without_duplicates(
    result: ClaimResult, store: Store, audit_path: str | Path, seed: int = 0
) -> dict[str, Any]:
    """Decide the claim's hypotheses again on the test examples a duplicates audit does not flag.

    Sets and returns ``result.without_duplicates``: per hypothesis, the verdict on the duplicate-free subset
    (``None`` where its metric cannot be recomputed from per-example outputs), which verdicts changed, and the trials
    that lack outputs (named with the spec key that saves them).
    """
    from dataclasses import replace

    from scrutiny.analysis.dedup import rescore_without_duplicates
    from scrutiny.audit.duplicates import load_audit

    dedup = rescore_without_duplicates(result, store, load_audit(audit_path))
    arms = {name: replace(arm, outcomes=None) for name, arm in dedup.arms.items()}
    hyps = [h for h in result.claim.hypotheses if h.applies(result.scale)]
    usable = [h for h in hyps if all(_has(arms, arm, m) for arm, m in _sides(h, result.claim.metric))]
    decided = dict(zip(map(id, usable), evaluate_family(usable, arms, Rules.of_claim(result.claim, seed)), strict=True))
    verdicts = [decided.get(id(h)) for h in hyps]
    changed = [
        v.hypothesis for v, w in zip(result.verdicts, verdicts, strict=True) if w is not None and w.verdict != v.verdict
    ]
    result.without_duplicates = {
        **dedup.to_dict(),
        "verdicts": [w.to_dict() if w is not None else None for w in verdicts],
        "changed": changed,
        "not_recomputable": [h.text() for h in hyps if h not in usable],
    }
    return result.without_duplicates


def _sides(h: Any, claim_metric: str) -> list[tuple[str, str]]:
    metric = h.metric or claim_metric
    return [(h.a, metric)] + ([(h.b, h.metric_b or metric)] if h.b else [])


def _has(arms: dict[str, ArmScores], arm: str, metric: str) -> bool:
    a = arms.get(arm)
    return a is not None and (metric == a.metric or metric in a.others)
