"""Compare two arms' per-seed scores and say which is better, or how many seeds it would take to know.

The same rules as a claim's verdicts (:mod:`scrutiny.analysis.verdicts`): the test is Welch's t (or the paired t
over common seeds with ``paired``), and where every seed ties, the exact permutation or sign-flip test, whose
smallest attainable p is stated. The decision is two-sided at α = 0.05: ``A better`` or ``B better`` when
``2 · min(one-sided p)`` (Holm-adjusted over the metrics when several are compared, :func:`adjust_comparisons`) is at
most α. Otherwise the seeds per arm for 80% power at the observed difference and spread, at the family's first
level (:func:`scrutiny.stats.planning.seeds_for_power`, one definition everywhere), give
``inconclusive: need N seeds`` when N is at most ``max(30, 10 × n)``, and else
``no difference detectable at this n (smallest detectable: X)``. A ``best_*`` metric selected on the test split
carries a warning.
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
)
from scrutiny.stats.location import location_test
from scrutiny.stats.multiplicity import adjust_pvalues
from scrutiny.stats.planning import seeds_for_exact_test, seeds_for_power

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
    paired: bool = False
    test: str = ""
    p_two_sided: float | None = None
    p_adjusted: float | None = None
    family_size: int = 1
    min_p: float = 0.0
    sd: float = 0.0
    metric: str | None = None
    warnings: list[str] = field(default_factory=list)

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
    a: np.ndarray,
    b: np.ndarray,
    *,
    names: tuple[str, str] = ("A", "B"),
    higher_is_better: bool = True,
    seed: int = 0,
    paired: bool = False,
    metric: str | None = None,
    warnings: list[str] | None = None,
) -> Comparison:
    """Compare per-run scores ``a`` ``(n_a,)`` or ``(n_a, n_tasks)`` with ``b`` (a family of one comparison).

    For 2-D input the tests use each run's mean over tasks, and P(A > B) is averaged over tasks (rliable). With
    ``paired``, ``a[i]`` and ``b[i]`` are the same seed.
    """
    a2, b2 = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a2.ndim != b2.ndim or (a2.ndim == 2 and a2.shape[1] != b2.shape[1]):
        raise ValueError(f"compare: arms must have the same tasks, got shapes {a2.shape} and {b2.shape}")
    tasks = a2.shape[1] if a2.ndim == 2 else 1
    x, y = (a2.mean(axis=1), b2.mean(axis=1)) if a2.ndim == 2 else (a2, b2)
    if x.size < 2 or y.size < 2:
        raise ValueError(f"compare: need at least 2 runs per arm, got {x.size} and {y.size}")
    if paired and x.size != y.size:
        raise ValueError(f"compare: paired runs need the same seeds in both arms, got {x.size} and {y.size}")
    d = float(x.mean() - y.mean())
    t = location_test(x, y, paired=paired)
    better, worse = (a2, b2) if higher_is_better else (b2, a2)
    poi = probability_of_improvement_ci(better, worse, reps=10_000, seed=seed)
    if paired:
        sd = float((x - y).std(ddof=1))
    else:
        sd = math.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2)
    flat = t.se == 0
    c = Comparison(
        a=_summary(names[0], x),
        b=_summary(names[1], y),
        higher_is_better=higher_is_better,
        difference=d,
        difference_low=t.low,
        difference_high=t.high,
        p_improvement={"estimate": poi.estimate, "low": poi.low, "high": poi.high},
        p_welch=None if flat or paired else 2 * min(t.p_above, t.p_below),
        p_mann_whitney=mann_whitney(x, y).pvalue,
        p_permutation=permutation_test(x, y, seed=seed).pvalue,
        hedges_g=None if x.std() == 0 and y.std() == 0 else hedges_g(x, y),
        seeds_needed=None,
        minimum_detectable=minimum_detectable_effect(min(x.size, y.size), sd) if sd > 0 else None,
        verdict="",
        rule="",
        tasks=tasks,
        paired=paired,
        test=t.test,
        p_two_sided=min(1.0, 2 * min(t.p_above, t.p_below)),
        min_p=min(1.0, 2 * t.min_p),
        sd=sd,
        metric=metric,
        warnings=list(warnings or []),
    )
    adjust_comparisons([c])
    return c


def adjust_comparisons(comparisons: list[Comparison], method: str = "holm") -> list[Comparison]:
    """Decide comparisons of several metrics as one family: Holm-adjusted two-sided p at α (in place)."""
    adjusted = adjust_pvalues([c.p_two_sided for c in comparisons], method)
    m = len(comparisons)
    first = ALPHA / m if method != "none" else ALPHA
    for c, p in zip(comparisons, adjusted, strict=True):
        c.p_adjusted, c.family_size = float(p), m
        n = min(c.a.n, c.b.n)
        d = c.difference
        shown = f"{c.test}: two-sided p = {c.p_two_sided:.3g}" + (f", Holm-adjusted over {m}: {p:.3g}" if m > 1 else "")
        design = "paired" if c.paired else "two-sample"
        if c.sd > 0 and d != 0:
            needed = seeds_for_power(d, c.sd, first / 2, 0.8, design)
        elif d != 0:
            needed = seeds_for_exact_test(first / 2, design)
        else:
            needed = None
        c.seeds_needed = max(needed, n + 1) if needed is not None else None
        if p <= ALPHA and d != 0:
            sign = 1.0 if c.higher_is_better else -1.0
            c.verdict, c.rule = f"{c.a.name if sign * d > 0 else c.b.name} better", f"{shown} ≤ {ALPHA}"
        elif c.min_p > first:
            c.verdict = f"inconclusive: need {c.seeds_needed} seeds" if c.seeds_needed else "inconclusive"
            c.rule = f"{shown}; tied seeds: the exact test cannot reach p ≤ {first:.3g} at n = {n}"
        elif c.seeds_needed is not None and c.seeds_needed <= max(30, 10 * n):
            c.verdict, c.rule = f"inconclusive: need {c.seeds_needed} seeds", f"{shown} > {ALPHA}"
        else:
            mde = f"{c.minimum_detectable:.4g}" if c.minimum_detectable is not None else "n/a"
            c.verdict = f"no difference detectable at this n (smallest detectable: {mde})"
            c.rule = f"{shown} > {ALPHA}"
    return comparisons
