"""Probability of improvement ``P(A > B)`` from unpaired runs, as rliable's ``probability_of_improvement``."""

from __future__ import annotations

import numpy as np

from scrutiny.stats._resample import CHUNK_ELEMENTS, resample
from scrutiny.stats._validate import as_scores, check_positive_int, check_probability, make_rng
from scrutiny.stats.bootstrap import BootstrapCI


def _pairs(a: object, b: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate a pair of score matrices with the same number of tasks."""
    fn = "probability_of_improvement"
    x, one_a = as_scores(a, fn, "a")
    y, one_b = as_scores(b, fn, "b")
    if one_a != one_b or x.shape[1] != y.shape[1]:
        shape_a, shape_b = (x.shape[:1] if one_a else x.shape), (y.shape[:1] if one_b else y.shape)  # as given
        raise ValueError(f"{fn}: a and b need the same number of tasks, got shapes {shape_a} and {shape_b}")
    return x, y


def _poi_batch(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(A > B) of each resample: ``x (reps, n_a, n_tasks)``, ``y (reps, n_b, n_tasks)`` -> ``(reps,)``."""
    xa, yb = x[:, :, None, :], y[:, None, :, :]
    per_task = (xa > yb).mean(axis=(1, 2)) + 0.5 * (xa == yb).mean(axis=(1, 2))
    return per_task.mean(axis=1)


def probability_of_improvement(a: object, b: object) -> float:
    """Probability that a run of A scores higher than a run of B, averaged over tasks.

    Per task, the Mann–Whitney ``U_a / (n_a · n_b)`` with ties counted ½; a task whose two columns are identical
    counts 0.5, as rliable. Runs need not be paired and ``n_a`` may differ from ``n_b``.

    Args:
        a: scores of shape ``(n_a,)`` or ``(n_a, n_tasks)``.
        b: scores of shape ``(n_b,)`` or ``(n_b, n_tasks)``.
    """
    x, y = _pairs(a, b)
    xa, yb = x[:, None, :], y[None, :, :]
    per_task = (xa > yb).mean(axis=(0, 1)) + 0.5 * (xa == yb).mean(axis=(0, 1))
    if x.shape == y.shape:
        per_task = np.where(np.all(x == y, axis=0), 0.5, per_task)
    return float(per_task.mean())


def probability_of_improvement_ci(
    a: object,
    b: object,
    reps: int = 50_000,
    confidence: float = 0.95,
    *,
    seed: int | np.random.Generator,
) -> BootstrapCI:
    """Probability of improvement with a percentile bootstrap interval.

    ``a`` and ``b`` are resampled independently, each stratified by task (runs within each task), as rliable's
    ``StratifiedIndependentBootstrap``. In each chunk the indices of ``a`` are drawn before those of ``b``.

    Args:
        a: scores of shape ``(n_a,)`` or ``(n_a, n_tasks)``.
        b: scores of shape ``(n_b,)`` or ``(n_b, n_tasks)``.
        reps: number of replicates.
        confidence: coverage of the interval, in (0, 1).
        seed: an int or a ``numpy.random.Generator``.
    """
    fn = "probability_of_improvement_ci"
    x, y = _pairs(a, b)
    reps = check_positive_int(reps, fn, "reps")
    confidence = check_probability(confidence, fn, "confidence")
    rng = make_rng(seed, fn)
    step = max(1, CHUNK_ELEMENTS // (x.shape[0] * y.shape[0] * x.shape[1]))
    parts = []
    for start in range(0, reps, step):
        size = min(step, reps - start)
        xs = resample(x, size, rng)
        ys = resample(y, size, rng)
        parts.append(_poi_batch(xs, ys))
    dist = np.concatenate(parts)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.percentile(dist, [100 * alpha, 100 * (1 - alpha)])
    return BootstrapCI(probability_of_improvement(a, b), float(low), float(high), confidence, "percentile", reps)
