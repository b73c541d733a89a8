"""Attribute the gap between two setups to factors, from per-seed scores of the arms of a design.

Every quantity is a linear contrast of arm scores, ``Σ_arm w_arm · v(arm)``. It is evaluated per seed (all arms
share the seeds, so each seed gives one value of the contrast) and summarised by its mean over seeds, with a
percentile bootstrap interval from resampling seeds (:func:`scrutiny.stats.bootstrap_ci`, statistic ``mean``; one
integer seed, so every contrast is computed on the same resamples).

Per design, ``effects`` holds:

- ``one-at-a-time``: ``v({i}) - v(∅)``, the gain from switching factor ``i`` alone in A;
- ``leave-one-out``: ``v(N) - v(N \\ {i})``, the loss from leaving factor ``i`` at A's value in B;
- ``factorial``: the main effect ``mean_S [v(S ∪ {i}) - v(S)]`` over every subset ``S`` of the other factors;
- ``shapley``: the Shapley value ``Σ_S |S|!(k-|S|-1)!/k! · [v(S ∪ {i}) - v(S)]`` (exact), or the mean over the
  sampled orders of ``v(P ∪ {i}) - v(P)`` with ``P`` the factors before ``i`` (sampled). Both sum to the gap.

``factorial`` and exact ``shapley`` also give the Shapley values and the two-way interaction contrasts
``mean_S [v(S+i+j) - v(S+i) - v(S+j) + v(S)]`` over subsets ``S`` of the remaining factors. For the designs whose
effects need not sum to the gap, ``residual = gap - Σ effects`` measures what they miss (interactions).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from scrutiny.ablation.designs import Arm, DesignPlan, arm_name
from scrutiny.errors import ScrutinyError
from scrutiny.stats import bootstrap_ci

Contrast = dict[Arm, float]


@dataclass(frozen=True)
class Estimate:
    """A contrast's mean over seeds with its bootstrap interval (``None`` bounds with fewer than two seeds)."""

    name: str
    estimate: float
    low: float | None
    high: float | None
    keys: tuple[str, ...] = ()


@dataclass
class Attribution:
    """The attribution of ``b.estimate - a.estimate`` to factors.

    Attributes:
        design: The design's name.
        metric: The score's name (a key of each trial's result, e.g. ``final_test_acc``).
        exact: False for sampled Shapley values.
        a, b, gap: Score of A, of B, and ``B - A``.
        effects: One per factor, as defined by the design (see the module docstring).
        shapley: Shapley values where the design gives them (``factorial``, ``shapley``), else empty.
        residual: ``gap - Σ effects`` where the effects need not sum to the gap, else ``None``.
        interactions: Two-way interaction contrasts (``factorial`` and exact ``shapley``), named ``"f1 × f2"``.
        seeds: The seeds every arm has a score for.
        arm_means: Arm name -> mean score over ``seeds``.
    """

    design: str
    metric: str
    exact: bool
    a: Estimate
    b: Estimate
    gap: Estimate
    effects: list[Estimate]
    shapley: list[Estimate] = field(default_factory=list)
    residual: Estimate | None = None
    interactions: list[Estimate] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    confidence: float = 0.95
    arm_means: dict[str, float] = field(default_factory=dict)

    def contributions(self) -> list[Estimate]:
        """Bars from A's score to B's: Shapley values if any, else the effects plus the residual."""
        if self.shapley:
            return list(self.shapley)
        return self.effects + ([self.residual] if self.residual is not None else [])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _evaluate(contrast: Contrast, scores: Mapping[Arm, np.ndarray]) -> np.ndarray:
    """Per-seed values ``(n_seeds,)`` of a contrast."""
    first = next(iter(scores.values()))
    out = np.zeros(len(first), dtype=np.float64)
    for arm, w in contrast.items():
        if w:
            out += w * scores[arm]
    return out


def one_at_a_time(factors: Sequence[str]) -> dict[str, Contrast]:
    return {f: {frozenset([f]): 1.0, frozenset(): -1.0} for f in factors}


def leave_one_out(factors: Sequence[str]) -> dict[str, Contrast]:
    full = frozenset(factors)
    return {f: {full: 1.0, full - {f}: -1.0} for f in factors}


def _add(c: Contrast, arm: Arm, w: float) -> None:
    c[arm] = c.get(arm, 0.0) + w


def main_effects(factors: Sequence[str]) -> dict[str, Contrast]:
    k = len(factors)
    out = {}
    for f in factors:
        rest = [g for g in factors if g != f]
        c: Contrast = {}
        for r in range(k):
            for sub in itertools.combinations(rest, r):
                s = frozenset(sub)
                _add(c, s | {f}, 1.0 / 2 ** (k - 1))
                _add(c, s, -1.0 / 2 ** (k - 1))
        out[f] = c
    return out


def shapley_exact(factors: Sequence[str]) -> dict[str, Contrast]:
    k = len(factors)
    out = {}
    for f in factors:
        rest = [g for g in factors if g != f]
        c: Contrast = {}
        for r in range(k):
            w = math.factorial(r) * math.factorial(k - r - 1) / math.factorial(k)
            for sub in itertools.combinations(rest, r):
                s = frozenset(sub)
                _add(c, s | {f}, w)
                _add(c, s, -w)
        out[f] = c
    return out


def shapley_sampled(factors: Sequence[str], orders: Sequence[Sequence[str]]) -> dict[str, Contrast]:
    out: dict[str, Contrast] = {f: {} for f in factors}
    for order in orders:
        for j, f in enumerate(order):
            _add(out[f], frozenset(order[: j + 1]), 1.0 / len(orders))
            _add(out[f], frozenset(order[:j]), -1.0 / len(orders))
    return out


def interactions(factors: Sequence[str]) -> dict[tuple[str, str], Contrast]:
    k = len(factors)
    out = {}
    for f, g in itertools.combinations(factors, 2):
        rest = [h for h in factors if h not in (f, g)]
        c: Contrast = {}
        w = 1.0 / 2 ** (k - 2)
        for r in range(k - 1):
            for sub in itertools.combinations(rest, r):
                s = frozenset(sub)
                _add(c, s | {f, g}, w)
                _add(c, s | {f}, -w)
                _add(c, s | {g}, -w)
                _add(c, s, w)
        out[(f, g)] = c
    return out


def attribute(
    plan: DesignPlan,
    scores: Mapping[Arm, Sequence[float] | np.ndarray],
    *,
    metric: str = "score",
    seeds: Sequence[int] | None = None,
    keys: Mapping[str, Sequence[str]] | None = None,
    confidence: float = 0.95,
    reps: int = 10_000,
    seed: int = 0,
) -> Attribution:
    """Attribute the gap ``v(B) - v(A)`` of ``plan``'s arms to its factors.

    Args:
        plan: From :func:`scrutiny.ablation.designs.plan_design`.
        scores: Arm -> per-seed scores ``(n_seeds,)``, the same seeds in the same order for every arm.
        metric: Name of the score, recorded in the result.
        seeds: The seeds of the score arrays, recorded in the result.
        keys: Factor name -> its dotted keys, recorded with each effect.
        confidence: Coverage of the bootstrap intervals.
        reps: Bootstrap replicates.
        seed: Seed of the bootstrap resampling.

    Raises:
        ScrutinyError: An arm of the plan without scores, or arms with different numbers of seeds.
    """
    arrays = {arm: np.asarray(scores[arm], dtype=np.float64) for arm in plan.arms if arm in scores}
    missing = [arm_name(arm, plan.factors) for arm in plan.arms if arm not in arrays]
    if missing:
        raise ScrutinyError(f"no scores for arm(s) {', '.join(missing)} of the {plan.design} design")
    sizes = {a.shape for a in arrays.values()}
    if len(sizes) != 1 or len(next(iter(sizes))) != 1 or next(iter(sizes))[0] < 1:
        raise ScrutinyError(f"every arm needs scores for the same seeds, shape (n_seeds,); got shapes {sorted(sizes)}")
    keys = keys or {}
    n = next(iter(sizes))[0]

    def est(name: str, contrast: Contrast, k: Sequence[str] = ()) -> Estimate:
        values = _evaluate(contrast, arrays)
        if n < 2:
            return Estimate(name, float(values.mean()), None, None, tuple(k))
        ci = bootstrap_ci(values, "mean", reps, confidence, seed=seed)
        return Estimate(name, ci.estimate, ci.low, ci.high, tuple(k))

    factors, full = plan.factors, plan.full
    empty: Arm = frozenset()
    a, b = est("A", {empty: 1.0}), est("B", {full: 1.0})
    gap_contrast: Contrast = {full: 1.0, empty: -1.0}
    gap = est("gap", gap_contrast)
    exhaustive = len(arrays) == 2 ** len(factors)
    if plan.design == "one-at-a-time":
        contrasts = one_at_a_time(factors)
    elif plan.design == "leave-one-out":
        contrasts = leave_one_out(factors)
    elif plan.design == "factorial":
        contrasts = main_effects(factors)
    elif plan.exact:
        contrasts = shapley_exact(factors)
    else:
        contrasts = shapley_sampled(factors, plan.orders or ())
    effects = [est(f, contrasts[f], keys.get(f, ())) for f in factors]
    out = Attribution(plan.design, metric, plan.exact, a, b, gap, effects, confidence=confidence)
    out.seeds = list(seeds) if seeds is not None else list(range(n))
    out.arm_means = {arm_name(arm, factors): float(arrays[arm].mean()) for arm in plan.arms}
    if plan.design == "shapley":
        out.shapley = list(effects)
    elif exhaustive:
        sh = shapley_exact(factors)
        out.shapley = [est(f, sh[f], keys.get(f, ())) for f in factors]
    if plan.design in ("one-at-a-time", "leave-one-out", "factorial"):
        residual = dict(gap_contrast)
        for f in factors:
            for arm, w in contrasts[f].items():
                _add(residual, arm, -w)
        out.residual = est("interaction/residual", residual)
    if exhaustive and len(factors) >= 2:
        out.interactions = [est(f"{f} × {g}", c) for (f, g), c in interactions(factors).items()]
    return out
