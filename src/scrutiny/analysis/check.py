"""Check a claim: run what the store lacks for every arm at a scale, then score, test and cost the arms."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scrutiny.analysis.scores import ArmScores, collect_arm
from scrutiny.analysis.verdicts import Verdict, evaluate
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
            "arms": {n: {**a.to_dict(), "spec": self.specs[n].to_dict()} for n, a in self.arms.items()},
            "verdicts": [{**v.to_dict(), "cost_per_point": self.cost_per_point(v)} for v in self.verdicts],
            "costs": self.costs(),
            "differences": self.differences,
            "sweep": self.sweep,
            "notes": list(c.notes),
            "sections": [section.to_dict() for section in self.sections],
        }


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
) -> ClaimResult:
    """Run the plan's missing trials (resumably), then score every arm and evaluate every hypothesis."""
    p = claim_plan
    check_inputs(p)
    sweep = run_trials(
        [(t.spec, t.seed) for t in p.trials],
        store,
        workers=workers,
        threads=threads,
        retry_failed=retry_failed,
        reporter=reporter,
    )
    return score_claim(p, store, sweep=sweep, seed=seed)


def score_claim(p: ClaimPlan, store: Store, *, sweep: SweepResult | None = None, seed: int = 0) -> ClaimResult:
    """Score a claim from what the store holds (runs nothing)."""
    arms = {}
    for name, spec in p.specs.items():
        arm = p.claim.arms[name]
        arms[name] = collect_arm(
            store,
            name,
            spec,
            p.seeds,
            p.claim.metric,
            label=arm.label,
            reported=arm.reported.model_dump() if arm.reported else None,
        )
    verdicts = [
        evaluate(h, arms, p.claim.higher_is_better, seed=seed) for h in p.claim.hypotheses if h.applies(p.scale)
    ]
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
    if p.claim.sections:
        from scrutiny.analysis.sections import build_sections

        result.sections = build_sections(result, store)
    return result


def _plain(value: Any) -> Any:
    from scrutiny.spec import ABSENT

    return None if value is ABSENT else value
