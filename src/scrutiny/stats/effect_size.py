"""Standardised effect sizes of a difference in means between two samples."""

from __future__ import annotations

import numpy as np
from scipy import special

from scrutiny.stats._validate import as_sample


def cohens_d(a: object, b: object) -> float:
    """Cohen's d with the pooled standard deviation: ``(mean_a - mean_b) / s_p``.

    ``s_p² = ((n_a - 1) s_a² + (n_b - 1) s_b²) / (n_a + n_b - 2)`` with ``ddof=1`` variances.

    Args:
        a: scores of shape ``(n_a,)``.
        b: scores of shape ``(n_b,)``; ``n_a + n_b >= 3``.
    """
    fn = "cohens_d"
    a, b = as_sample(a, fn, "a"), as_sample(b, fn, "b")
    df = a.size + b.size - 2
    if df < 1:
        raise ValueError(f"cohens_d: a and b need at least 3 values together, got {a.size} and {b.size}")
    ss = np.sum((a - a.mean()) ** 2) + np.sum((b - b.mean()) ** 2)
    if ss == 0:
        raise ValueError("cohens_d: a and b both have zero variance; d is undefined")
    return float((a.mean() - b.mean()) / np.sqrt(ss / df))


def hedges_g(a: object, b: object) -> float:
    """Hedges' g: Cohen's d times the exact small-sample correction ``J(df) = Γ(df/2) / (sqrt(df/2) Γ((df-1)/2))``.

    ``df = n_a + n_b - 2``; ``J`` is close to the common approximation ``1 - 3 / (4 df - 1)``.

    Args:
        a: scores of shape ``(n_a,)``.
        b: scores of shape ``(n_b,)``; ``n_a + n_b >= 4``.
    """
    a, b = as_sample(a, "hedges_g", "a"), as_sample(b, "hedges_g", "b")
    df = a.size + b.size - 2
    if df < 2:
        raise ValueError(f"hedges_g: a and b need at least 4 values together, got {a.size} and {b.size}")
    j = np.exp(special.gammaln(df / 2) - special.gammaln((df - 1) / 2)) / np.sqrt(df / 2)
    return float(cohens_d(a, b) * j)
