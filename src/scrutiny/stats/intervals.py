"""Intervals for a difference of two means."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import distributions as _dist

from scrutiny.stats._validate import as_sample, check_probability


@dataclass(frozen=True)
class DifferenceCI:
    """``mean(a) - mean(b)`` with a Welch (unequal variances) t-interval.

    Attributes:
        estimate: the difference of the sample means.
        low: lower bound.
        high: upper bound.
        confidence: the coverage, e.g. 0.95.
        se: the standard error ``sqrt(var_a/n_a + var_b/n_b)`` (``ddof=1``).
        df: Welch–Satterthwaite degrees of freedom (``inf`` when ``se == 0``).
    """

    estimate: float
    low: float
    high: float
    confidence: float
    se: float
    df: float


def welch_ci(a: object, b: object, confidence: float = 0.95) -> DifferenceCI:
    """Two-sided Welch t-interval for ``mean(a) - mean(b)``; the interval of ``scipy.stats.ttest_ind(equal_var=False)``.

    ``se² = s_a²/n_a + s_b²/n_b`` and ``df = se⁴ / ((s_a²/n_a)²/(n_a-1) + (s_b²/n_b)²/(n_b-1))``. When both samples
    are constant the interval collapses to the point estimate (``se = 0``).

    Args:
        a: scores of shape ``(n_a,)``, ``n_a >= 2``.
        b: scores of shape ``(n_b,)``, ``n_b >= 2``.
        confidence: coverage of the interval, in (0, 1).
    """
    fn = "welch_ci"
    a, b = as_sample(a, fn, "a", min_size=2), as_sample(b, fn, "b", min_size=2)
    confidence = check_probability(confidence, fn, "confidence")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    d = float(a.mean() - b.mean())
    se = float(np.sqrt(va + vb))
    if se == 0.0:
        return DifferenceCI(d, d, d, confidence, 0.0, float("inf"))
    df = float((va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1)))
    half = float(_dist.t.ppf(0.5 + confidence / 2, df)) * se
    return DifferenceCI(d, d - half, d + half, confidence, se, df)
