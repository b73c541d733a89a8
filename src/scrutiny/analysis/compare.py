"""Compare two arms' per-seed scores and say which is better, or how many seeds it would take to know.

Decision rules (two-sided, α = 0.05, power 0.8 for planning):

1. Welch's test rejects equal means (p < α): ``A better`` or ``B better``, by the sign of the difference in the
   metric's better direction. If every seed of both arms scores the same, a non-zero difference is decided
   without a test (and said so).
2. Otherwise let N be the seeds per arm needed to detect the observed difference at 80% power with a t-test
   (:func:`scrutiny.stats.seeds_needed_t`: noncentral-t power, pooled standard deviation), and at least one more
   than the current n, at which the difference was not detected. If N is at most
   ``max(30, 10 × n)``: ``inconclusive: need N seeds``. If it is larger, or the difference is zero:
   ``no difference detectable at this n (smallest detectable: X)``, X being the minimum detectable effect at
   the current n.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from scrutiny.stats import (
    hedges_g,
    mann_whitney,
    mean_ci,
    minimum_detectable_effect,
    permutation_test,
    probability_of_improvement_ci,
    seeds_needed_t,
    welch_ci,
    welch_t_test,
)

ALPHA = 0.05


@dataclass
class ArmSummary:
    name: str
    n: int
    mean: float
    std: float | None
    low: float | None
    high: float | None
    scores: list[float]


@dataclass
class Comparison:
    """The comparison of arm A with arm B; ``difference`` is ``mean(A) - mean(B)`` in the metric's units."""

    a: ArmSummary
    b: ArmSummary
    higher_is_better: bool
    difference: float
    difference_low: float | None
    difference_high: float | None
    p_improvement: dict[str, float] | None
    p_welch: float | None
    p_mann_whitney: float | None
    p_permutation: float | None
    hedges_g: float | None
    seeds_needed: int | None
    minimum_detectable: float | None
    verdict: str
    rule: str
    tasks: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _summary(name: str, x: np.ndarray) -> ArmSummary:
    if x.size >= 2 and x.std() > 0:
        ci = mean_ci(x)
        return ArmSummary(name, int(x.size), float(x.mean()), float(x.std(ddof=1)), ci.low, ci.high, x.tolist())
    std = float(x.std(ddof=1)) if x.size >= 2 else None
    return ArmSummary(
        name,
        int(x.size),
        float(x.mean()),
        std,
        None if std is None else float(x.mean()),
        None if std is None else float(x.mean()),
        x.tolist(),
    )


def compare(
    a: np.ndarray, b: np.ndarray, *, names: tuple[str, str] = ("A", "B"), higher_is_better: bool = True, seed: int = 0
) -> Comparison:
    """Compare per-run scores ``a`` ``(n_a,)`` or ``(n_a, n_tasks)`` with ``b``.

    For 2-D input the tests use each run's mean over tasks, and P(A > B) is averaged over tasks (rliable).
    """
    a2, b2 = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a2.ndim != b2.ndim or (a2.ndim == 2 and a2.shape[1] != b2.shape[1]):
        raise ValueError(f"compare: arms must have the same tasks, got shapes {a2.shape} and {b2.shape}")
    tasks = a2.shape[1] if a2.ndim == 2 else 1
    x, y = (a2.mean(axis=1), b2.mean(axis=1)) if a2.ndim == 2 else (a2, b2)
    if x.size < 2 or y.size < 2:
        raise ValueError(f"compare: need at least 2 runs per arm, got {x.size} and {y.size}")
    sign = 1.0 if higher_is_better else -1.0
    d = float(x.mean() - y.mean())
    flat = x.std() == 0 and y.std() == 0
    ci = welch_ci(x, y)
    better, worse = (a2, b2) if higher_is_better else (b2, a2)
    poi = probability_of_improvement_ci(better, worse, reps=10_000, seed=seed)
    p_w = None if flat else welch_t_test(x, y).pvalue
    sd = math.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2)
    n = min(x.size, y.size)
    needed = max(seeds_needed_t(d, sd), n + 1) if d != 0 and sd > 0 else None
    mde = minimum_detectable_effect(n, sd) if sd > 0 else None
    if flat and d != 0 or (p_w is not None and p_w < ALPHA):
        verdict = f"{names[0] if sign * d > 0 else names[1]} better"
        rule = "every seed scores the same in both arms" if flat else f"Welch p = {p_w:.3g} < {ALPHA}"
    elif needed is not None and needed <= max(30, 10 * n):
        verdict, rule = f"inconclusive: need {needed} seeds", f"Welch p = {p_w:.3g} ≥ {ALPHA}"
    else:
        shown = f"{mde:.4g}" if mde is not None else "n/a"
        verdict = f"no difference detectable at this n (smallest detectable: {shown})"
        rule = f"Welch p = {p_w:.3g} ≥ {ALPHA}" if p_w is not None else "no difference, no variation"
    return Comparison(
        a=_summary(names[0], x),
        b=_summary(names[1], y),
        higher_is_better=higher_is_better,
        difference=d,
        difference_low=ci.low,
        difference_high=ci.high,
        p_improvement={"estimate": poi.estimate, "low": poi.low, "high": poi.high},
        p_welch=p_w,
        p_mann_whitney=mann_whitney(x, y).pvalue,
        p_permutation=permutation_test(x, y, seed=seed).pvalue,
        hedges_g=None if flat else hedges_g(x, y),
        seeds_needed=needed,
        minimum_detectable=mde,
        verdict=verdict,
        rule=rule,
        tasks=tasks,
    )
