"""Point aggregates over scores of shape ``(n_runs,)`` or ``(n_runs, n_tasks)``, after rliable's ``metrics``.

Each aggregate has a batched twin in :mod:`scrutiny.stats._batched` that takes a stack of resampled matrices
``(reps, n_runs, n_tasks)``; the bootstrap uses it to avoid a Python loop over replicates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scrutiny.stats._validate import as_sample, as_scores, check_probability


@dataclass(frozen=True)
class MeanCI:
    """A mean with its Student-t interval.

    Attributes:
        estimate: the sample mean.
        low: lower bound of the interval.
        high: upper bound of the interval.
        confidence: the coverage, e.g. 0.95.
        sem: the standard error of the mean (``ddof=1``).
        df: degrees of freedom of the t distribution (``n - 1``).
    """

    estimate: float
    low: float
    high: float
    confidence: float
    sem: float
    df: int


def sem(scores: object) -> float | np.ndarray:
    """Standard error of the mean, ``std(ddof=1) / sqrt(n_runs)``.

    Args:
        scores: shape ``(n_runs,)`` or ``(n_runs, n_tasks)``, with ``n_runs >= 2``.

    Returns:
        A float for 1-D input; per-task values of shape ``(n_tasks,)`` for 2-D input.
    """
    x, one_d = as_scores(scores, "sem", min_runs=2)
    out = x.std(axis=0, ddof=1) / np.sqrt(x.shape[0])
    return float(out[0]) if one_d else out


def mean_ci(scores: object, confidence: float = 0.95) -> MeanCI:
    """Mean of ``scores`` with a two-sided Student-t interval ``mean ± t_{(1+c)/2, n-1} · sem``.

    Args:
        scores: shape ``(n_runs,)``, with ``n_runs >= 2``.
        confidence: coverage of the interval, in (0, 1).
    """
    x = as_sample(scores, "mean_ci", "scores", min_size=2)
    confidence = check_probability(confidence, "mean_ci", "confidence")
    m, s, df = float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size)), x.size - 1
    from scipy import stats as _dist  # here, not at import: workers that never build an interval skip scipy

    half = float(_dist.t.ppf(0.5 + confidence / 2, df)) * s
    return MeanCI(estimate=m, low=m - half, high=m + half, confidence=confidence, sem=s, df=df)


def iqm(scores: object) -> float:
    """Interquartile mean: the 25% trimmed mean over all runs × tasks, as ``scipy.stats.trim_mean(x, 0.25)``.

    ``floor(0.25 · n)`` values are cut from each end of the pooled ``n = n_runs · n_tasks`` values, so for n not
    divisible by 4 this is not a fractional-weight interquartile mean (n = 15 keeps the middle 9), as in rliable.

    Args:
        scores: shape ``(n_runs,)`` or ``(n_runs, n_tasks)``.
    """
    x, _ = as_scores(scores, "iqm")
    flat = x.ravel()
    cut = int(0.25 * flat.size)
    part = np.partition(flat, (cut, flat.size - cut - 1))
    return float(np.mean(part[cut : flat.size - cut]))


def optimality_gap(scores: object, gamma: float = 1.0) -> float:
    """Amount by which scores fall short of ``gamma``: ``gamma - mean(minimum(scores, gamma))``.

    Args:
        scores: shape ``(n_runs,)`` or ``(n_runs, n_tasks)``; pooled over all values.
        gamma: the target score (rliable's default is 1, a normalised score).
    """
    x, _ = as_scores(scores, "optimality_gap")
    if not np.isfinite(gamma):
        raise ValueError(f"optimality_gap: gamma must be finite, got {gamma!r}")
    return float(gamma - np.mean(np.minimum(x, gamma)))


def aggregate_mean(scores: object) -> float:
    """Mean over tasks of the per-task mean over runs.

    Args:
        scores: shape ``(n_runs,)`` or ``(n_runs, n_tasks)``.
    """
    x, _ = as_scores(scores, "aggregate_mean")
    return float(np.mean(np.mean(x, axis=0)))


def aggregate_median(scores: object) -> float:
    """Median over tasks of the per-task mean over runs (not the median of all scores).

    Args:
        scores: shape ``(n_runs,)`` or ``(n_runs, n_tasks)``; for 1-D input this is the mean.
    """
    x, _ = as_scores(scores, "aggregate_median")
    return float(np.median(np.mean(x, axis=0)))
