"""Check a claim: run what the store lacks for every arm at a scale, then score, test and cost the arms."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scrutiny.analysis.scores import ArmScores, collect_arm
from scrutiny.analysis.verdicts import RULES_TEXT, Rules, Verdict, evaluate_family
from scrutiny.execute import PlannedTrial, Reporter, SweepResult, plan, run_trials
from scrutiny.spec import Spec, diff, spec_hash
from scrutiny.spec.claim import Claim, arm_specs, claim_seeds, load_claim
from scrutiny.store import Store


@dataclass
class ClaimPlan:
    """The trials a claim needs at a scale."""

    claim: Claim
    path: Path
    scale: str
    seeds: list[int]
    specs: dict[str, Spec]
    trials: list[PlannedTrial]

    def to_run(self, retry_failed: bool = False) -> list[PlannedTrial]:
        return [t for t in self.trials if t.needs_run(retry_failed)]

    def estimate_seconds(self, store: Store) -> dict[str, float | None]:
        """Per arm: mean wall time of its finished trials times the trials still to run (None: nothing to go on)."""
        out: dict[str, float | None] = {}
        for name, spec in self.specs.items():
            h = spec_hash(spec)
            mine = [t for t in self.trials if spec_hash(t.spec) == h]
            times = [store.result(t.trial_id).get("wall_time_s") for t in mine if t.status == "complete"]
            times = [t for t in times if t]
            todo = sum(1 for t in mine if t.needs_run(False))
            out[name] = float(np.mean(times)) * todo if times else (0.0 if todo == 0 else None)
        return out


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

    def cost_per_point(self, v: Verdict) -> dict[str, float] | None:
        """For ``a > b``: extra device seconds and FLOPs of A over B per 0.01 of the metric gained."""
        if v.kind != "greater" or v.estimate is None or v.estimate <= 0:
            return None
        a, b = self.arms[v.a], self.arms[v.b]  # type: ignore[index]
        points = v.estimate / 0.01
        out = {"points": points}
        da, db = _mean(a.device_time_s), _mean(b.device_time_s)
        if da is not None and db is not None:
            out["device_seconds_per_point"] = (da - db) / points
        if a.total_flops is not None and b.total_flops is not None and a.n and b.n:
            out["train_flops_per_point"] = (a.total_flops / a.n - b.total_flops / b.n) / points
        return out

    def to_dict(self) -> dict[str, Any]:
        c = self.claim
        return {
            "title": c.title,
            "source": c.source.model_dump(),
            "claim_file": str(self.path),
            "scale": self.scale,
            "scale_note": (c.scales.get(self.scale).note if c.scales.get(self.scale) else None),  # type: ignore[attr-defined]
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
        }


def _tuning(claim: Claim, verdict_seeds: list[int]) -> dict[str, Any]:
    """What the claim declares about how its settings were chosen, and what of it a reviewer should flag."""
    t = claim.tuning
    flags = []
    if t is None:
        return {"declared": False, "flags": ["the claim does not declare how its arms' settings were chosen"]}
    from scrutiny.trials.seeding import parse_seeds

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


def plan_claim(
    path: str | Path,
    scale: str | None,
    store: Store,
    *,
    overrides: list[str] | None = None,
    seeds: str | None = None,
    arm_overrides: dict[str, list[str]] | None = None,
) -> ClaimPlan:
    """Load a claim and list its trials at ``scale`` (default: the claim's ``default_scale``).

    ``overrides`` apply to every arm; ``arm_overrides`` (arm -> ``key=value``s) to one arm each, e.g. its weights.
    """
    path = Path(path)
    claim = load_claim(path)
    scale = scale or claim.default_scale
    specs = arm_specs(claim, path, scale, overrides, arm_overrides)
    seed_list = claim_seeds(claim, scale, seeds)
    trials = plan([(spec, s) for spec in specs.values() for s in seed_list], store)
    return ClaimPlan(claim, path, scale, seed_list, specs, trials)


def check_inputs(p: ClaimPlan) -> None:
    """Fail in one line when the scale ``requires`` local inputs that the specs lack.

    ``data_root``: every arm's ``data.root`` must be a folder. ``weights``: every evaluation-only arm
    (``train.epochs: 0``) must load ``model.weights``, or it would evaluate a random network. scrutiny downloads
    neither.
    """
    from scrutiny.errors import ScrutinyError
    from scrutiny.spec.claim import Scale

    requires = p.claim.scales.get(p.scale, Scale()).requires  # type: ignore[call-overload]
    need = []
    if "data_root" in requires:
        bad = sorted(
            {
                str(s.data.root)
                for s in p.specs.values()
                if not s.data.root or not Path(s.data.root).expanduser().is_dir()
            }
        )
        if bad:
            need.append(f"--data-root DIR (a local dataset folder; got {', '.join(bad)})")
    if "weights" in requires:
        missing = [n for n, s in p.specs.items() if s.train.epochs == 0 and s.model.weights is None]
        if missing:
            need.append("--weights ARM=FILE for " + ", ".join(missing))
    if need:
        raise ScrutinyError(f"{p.path.parent.name} at scale {p.scale} needs local inputs: give " + " and ".join(need))


def check_claim(
    claim_plan: ClaimPlan,
    store: Store,
    *,
    workers: int = 1,
    threads: int | None = None,
    retry_failed: bool = False,
    reporter: Reporter | None = None,
    seed: int = 0,
    max_seeds: int | None = None,
    round_size: int = 2,
    executor: Any = None,
) -> ClaimResult:
    """Run the plan's missing trials (resumably), then score every arm and evaluate every hypothesis.

    ``executor`` (a :class:`scrutiny.execute.Executor`) says where the trials run; default: this machine.

    With ``max_seeds``, seeds are added in rounds of ``round_size`` per undecided arm until every confirmatory
    hypothesis is decided or ``max_seeds`` is reached, with alpha spending over the looks
    (:mod:`scrutiny.analysis.sequential`).
    """
    p = claim_plan
    check_inputs(p)
    register_claim(p, store)

    def run(seeds_per_arm: dict[str, list[int]]) -> SweepResult:
        pairs = [(p.specs[a], s) for a, seeds in seeds_per_arm.items() for s in seeds]
        options = {"workers": workers, "threads": threads, "retry_failed": retry_failed, "executor": executor}
        return run_trials(pairs, store, reporter=reporter, **options)

    if max_seeds is None:
        sweep = run({a: p.seeds for a in p.specs})
        return score_claim(p, store, sweep=sweep, seed=seed)
    from scrutiny.analysis.sequential import run_looks, schedule

    looks = schedule(len(p.seeds), max_seeds, round_size)
    first_new = max(p.seeds) + 1
    pool = list(p.seeds) + list(range(first_new, first_new + max_seeds - len(p.seeds)))
    sweeps: list[SweepResult] = []

    def score_at(counts: dict[str, int]) -> dict[str, ArmScores]:
        sweeps.append(run({a: pool[:n] for a, n in counts.items()}))
        return _collect(p, store, {a: pool[:n] for a, n in counts.items()})

    hyps = [h for h in p.claim.hypotheses if h.applies(p.scale)]
    rules = Rules.of_claim(p.claim, seed=seed)
    verdicts, made, arms = run_looks(hyps, rules, looks, score_at, list(p.specs))
    result = _result(p, store, arms, verdicts, sweeps[-1] if sweeps else None)
    result.looks = [look.to_dict() for look in made]
    if any(s.interrupted for s in sweeps):
        result.sweep["interrupted"] = True
    return result


def register_claim(p: ClaimPlan, store: Store) -> dict[str, Any]:
    """Record what the claim will decide at this scale before its trials run (see :mod:`.preregistration`)."""
    from scrutiny.analysis.preregistration import register

    complete = {t.trial_id for t in p.trials if t.status == "complete"}
    return register(store.root, p.claim, p.path, p.scale, p.specs, p.seeds, complete)


def _collect(p: ClaimPlan, store: Store, seeds: dict[str, list[int]] | None = None) -> dict[str, ArmScores]:
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
            epoch_fields=sorted(
                {m for h in p.claim.hypotheses if h.applies(p.scale) for m in (h.metric, h.metric_b) if m and "@" in m}
            ),
        )
    return arms


def score_claim(p: ClaimPlan, store: Store, *, sweep: SweepResult | None = None, seed: int = 0) -> ClaimResult:
    """Score a claim from what the store holds (runs nothing)."""
    arms = _collect(p, store)
    hyps = [h for h in p.claim.hypotheses if h.applies(p.scale)]
    verdicts = evaluate_family(hyps, arms, Rules.of_claim(p.claim, seed=seed))
    return _result(p, store, arms, verdicts, sweep)


def _result(
    p: ClaimPlan, store: Store, arms: dict[str, ArmScores], verdicts: list[Verdict], sweep: SweepResult | None
) -> ClaimResult:
    from scrutiny.analysis.preregistration import status

    names = list(p.specs)
    differences = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            for d in diff(p.specs[a], p.specs[b]):
                differences.append({"a": a, "b": b, "key": d.key, "value_a": _plain(d.a), "value_b": _plain(d.b)})
    sweep_info = {}
    if sweep is not None:
        sweep_info = {
            "ran": len(sweep.ran),
            "skipped": len(sweep.skipped),
            "interrupted": sweep.interrupted,
            "counts": sweep.counts(),
        }
    result = ClaimResult(p.claim, p.path, p.scale, p.seeds, p.specs, arms, verdicts, differences, sweep_info)
    result.preregistration = status(store.root, p.claim, p.path, p.scale, p.specs, p.seeds)
    started = [
        arms[name].started_at for name in arms if getattr(arms[name], "started_at", None)
    ]  # the first trial of these seeds, as the store records it
    result.preregistration["first_trial_at"] = min(started) if started else None
    if p.claim.sections:
        from scrutiny.analysis.sections import build_sections

        result.sections = build_sections(result, store)
    return result


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


def decide_without_duplicates(result: ClaimResult, store: Store, audit_path: str | Path, seed: int = 0) -> None:
    """Decide the claim's hypotheses again on the test examples a duplicates audit does not flag.

    Sets ``result.without_duplicates``: per hypothesis, the verdict on the duplicate-free subset (``None`` where
    its metric cannot be recomputed from per-example outputs), which verdicts changed, and the trials that lack
    outputs (named with the spec key that saves them).
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


def _sides(h: Any, claim_metric: str) -> list[tuple[str, str]]:
    metric = h.metric or claim_metric
    return [(h.a, metric)] + ([(h.b, h.metric_b or metric)] if h.b else [])


def _has(arms: dict[str, ArmScores], arm: str, metric: str) -> bool:
    a = arms.get(arm)
    return a is not None and (metric == a.metric or metric in a.others)
