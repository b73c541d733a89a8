"""Build the arms of an ablation as specs, run them as trials in the store, and read their scores back.

An arm is A's resolved spec with the keys of some factors set to B's values, then resolved again. A key that B
lacks is removed and a key that A lacks is added (the model keyword arguments of B's model, say), so switching the
``model`` factor switches the whole builder. Each arm is an ordinary spec: its trials are identified by content
hash, so arms shared by several designs (A, B, the single switches) run once, and an interrupted ablation resumes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scrutiny.ablation.attribution import Attribution, attribute
from scrutiny.ablation.designs import (
    DEFAULT_MAX_FACTORIAL,
    Arm,
    DesignPlan,
    Factor,
    arm_name,
    make_factors,
    plan_design,
)
from scrutiny.errors import ScrutinyError, SpecError
from scrutiny.execute import Reporter, SweepResult, run_trials
from scrutiny.spec import ABSENT, Difference, Spec, diff, flatten, resolve, spec_hash, trial_id
from scrutiny.store import Store


@dataclass
class AblationPlan:
    """Everything an ablation runs: the two specs, their differences, the factors, the design and the arm specs."""

    a: Spec
    b: Spec
    differences: list[Difference]
    factors: list[Factor]
    design: DesignPlan
    arm_specs: dict[Arm, Spec]
    seeds: list[int]

    def arm_name(self, arm: Arm) -> str:
        return arm_name(arm, self.design.factors)

    def items(self) -> list[tuple[Spec, int]]:
        """(spec, seed) pairs of every arm, A and B first."""
        return [(self.arm_specs[arm], s) for arm in self.design.arms for s in self.seeds]

    def keys(self) -> dict[str, tuple[str, ...]]:
        return {f.name: f.keys for f in self.factors}

    def default_metric(self) -> str:
        return f"final_{self.a.eval.split}_acc"

    def arm_table(self, store: Store | None = None) -> list[dict[str, Any]]:
        """One row per arm: name, switched factors, spec hash, and (with a store) how many trials it lacks."""
        rows = []
        for arm in self.design.arms:
            spec = self.arm_specs[arm]
            row: dict[str, Any] = {
                "arm": self.arm_name(arm),
                "switched": [f for f in self.design.factors if f in arm],
                "spec_hash": spec_hash(spec),
                "trials": len(self.seeds),
            }
            if store is not None:
                row["to_run"] = sum(store.status(trial_id(spec, s)) in ("missing", "incomplete") for s in self.seeds)
            rows.append(row)
        return rows


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = copy.deepcopy(value)


def _delete(data: dict[str, Any], key: str) -> None:
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        node = node.get(part)
        if not isinstance(node, dict):
            return
    node.pop(parts[-1], None)


def build_arm(a: Spec, b: Spec, keys: Sequence[str], *, label: str | None = None) -> Spec:
    """A's resolved spec with ``keys`` set to B's values (removed where B lacks them), resolved again.

    Raises:
        ScrutinyError: The mixed spec does not validate (the message names the keys that were switched).
    """
    data = a.to_dict()
    b_flat = flatten(b.to_dict())
    absent = [k for k in keys if b_flat.get(k, ABSENT) is ABSENT]
    for key in absent:
        _delete(data, key)
    for key in keys:
        if key not in absent:
            _set(data, key, b_flat[key])
    if label is not None:
        data["label"] = label
    try:
        return resolve(data, fallback="<arm>")
    except SpecError as exc:
        raise ScrutinyError(
            f"arm with {', '.join(keys) or 'nothing'} switched to B does not validate ({exc}); group the coupled keys "
            "with --group NAME=key1,key2"
        ) from None


def plan_ablation(
    a: Spec,
    b: Spec,
    seeds: Sequence[int],
    *,
    design: str = "one-at-a-time",
    groups: Mapping[str, Sequence[str]] | None = None,
    max_factorial: int = DEFAULT_MAX_FACTORIAL,
    force: bool = False,
    permutations: int | None = None,
    seed: int | None = None,
) -> AblationPlan:
    """Plan an ablation of the gap between resolved specs ``a`` and ``b`` (see :func:`plan_design`)."""
    if not seeds:
        raise ScrutinyError("--seeds: at least one seed is needed")
    differences = diff(a, b)
    factors = make_factors(differences, groups)
    dplan = plan_design(
        design,
        [f.name for f in factors],
        max_factorial=max_factorial,
        force=force,
        permutations=permutations,
        seed=seed,
    )
    by_name = {f.name: f for f in factors}
    base = a.label or "A"
    arm_specs: dict[Arm, Spec] = {}
    for arm in dplan.arms:
        keys = [k for name in dplan.factors if name in arm for k in by_name[name].keys]
        name = arm_name(arm, dplan.factors)
        label = a.label if not arm else (b.label if arm == dplan.full else f"{base} [{name}]")
        arm_specs[arm] = build_arm(a, b, keys, label=label)
    return AblationPlan(a, b, differences, factors, dplan, arm_specs, list(dict.fromkeys(seeds)))


def run_ablation(
    plan: AblationPlan,
    store: Store,
    *,
    workers: int = 1,
    threads: int | None = None,
    retry_failed: bool = False,
    reporter: Reporter | None = None,
) -> SweepResult:
    """Run every trial of every arm that ``store`` lacks (resumable; see :func:`scrutiny.execute.run_trials`)."""
    return run_trials(
        plan.items(), store, workers=workers, threads=threads, retry_failed=retry_failed, reporter=reporter
    )


def collect_scores(plan: AblationPlan, store: Store, metric: str) -> tuple[dict[Arm, np.ndarray], list[int], list[str]]:
    """Per-seed scores of every arm, on the seeds that every arm has a number for.

    Returns:
        ``(scores, seeds, problems)``: arm -> scores ``(n_seeds,)`` in the order of ``seeds``; and one line per trial
        that gave no score (missing, failed, diverged, or without ``metric``).

    Raises:
        ScrutinyError: A complete trial's result lacks ``metric`` (the message lists the available ones).
    """
    values: dict[Arm, dict[int, float]] = {}
    problems: list[str] = []
    for arm in plan.design.arms:
        spec = plan.arm_specs[arm]
        values[arm] = {}
        for s in plan.seeds:
            tid = trial_id(spec, s)
            status = store.status(tid)
            if status != "complete":
                problems.append(f"{plan.arm_name(arm)} seed {s} ({tid}): {status}")
                continue
            result = store.result(tid)
            if metric not in result:
                options = sorted(k for k in result if k.startswith(("final_", "best_")))
                raise ScrutinyError(f"--metric: {metric!r} is not in {tid}'s result; available: {', '.join(options)}")
            value = result[metric]
            if isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value):
                values[arm][s] = float(value)
            else:
                problems.append(f"{plan.arm_name(arm)} seed {s} ({tid}): {metric} is {value!r}")
    seeds = [s for s in plan.seeds if all(s in v for v in values.values())]
    scores = {arm: np.array([v[s] for s in seeds], dtype=np.float64) for arm, v in values.items()}
    return scores, seeds, problems


def attribute_from_store(
    plan: AblationPlan,
    store: Store,
    *,
    metric: str | None = None,
    confidence: float = 0.95,
    reps: int = 10_000,
    seed: int = 0,
) -> tuple[Attribution, list[str]]:
    """Read the arms' scores from ``store`` and attribute the gap; also return the trials that gave no score.

    Raises:
        ScrutinyError: No seed has a score in every arm.
    """
    metric = metric or plan.default_metric()
    scores, seeds, problems = collect_scores(plan, store, metric)
    if not seeds:
        raise ScrutinyError(
            f"no seed has a '{metric}' score in every arm ({len(problems)} trials without one, e.g. "
            f"{problems[0] if problems else '?'}); run the ablation first"
        )
    result = attribute(
        plan.design, scores, metric=metric, seeds=seeds, keys=plan.keys(), confidence=confidence, reps=reps, seed=seed
    )
    return result, problems
