"""Batched aggregates: each maps resampled matrices ``(reps, n_runs, n_tasks)`` to values ``(reps,)``.

``batched_statistic`` finds the batched twin of a public aggregate (also through ``functools.partial``), so the
bootstrap can evaluate all replicates of a chunk at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from scrutiny.stats import aggregate

Batched = Callable[[np.ndarray], np.ndarray]


def iqm_batch(batch: np.ndarray) -> np.ndarray:
    """25% trimmed mean of each matrix, pooled over runs × tasks: ``(reps, n_runs, n_tasks) -> (reps,)``."""
    flat = batch.reshape(batch.shape[0], -1)
    n = flat.shape[1]
    cut = int(0.25 * n)
    part = np.partition(flat, (cut, n - cut - 1), axis=1)
    return part[:, cut : n - cut].mean(axis=1)


def mean_batch(batch: np.ndarray) -> np.ndarray:
    """Mean over tasks of per-task means: ``(reps, n_runs, n_tasks) -> (reps,)``."""
    return batch.mean(axis=1).mean(axis=1)


def median_batch(batch: np.ndarray) -> np.ndarray:
    """Median over tasks of per-task means: ``(reps, n_runs, n_tasks) -> (reps,)``."""
    return np.median(batch.mean(axis=1), axis=1)


def optimality_gap_batch(batch: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """``gamma - mean(minimum(x, gamma))`` of each matrix: ``(reps, n_runs, n_tasks) -> (reps,)``."""
    return gamma - np.minimum(batch, gamma).reshape(batch.shape[0], -1).mean(axis=1)


_TWINS: dict[Callable, Batched] = {
    aggregate.iqm: iqm_batch,
    aggregate.aggregate_mean: mean_batch,
    aggregate.aggregate_median: median_batch,
    aggregate.optimality_gap: optimality_gap_batch,
}
_NAMES: dict[str, Callable] = {
    "iqm": aggregate.iqm,
    "mean": aggregate.aggregate_mean,
    "median": aggregate.aggregate_median,
    "optimality_gap": aggregate.optimality_gap,
}


def resolve(statistic: str | Callable, fn: str) -> tuple[Callable, Batched | None]:
    """Return ``(scalar statistic, batched twin or None)`` for a name, a public aggregate, or any callable."""
    if isinstance(statistic, str):
        if statistic not in _NAMES:
            raise ValueError(f"{fn}: statistic must be one of {sorted(_NAMES)} or a callable, got {statistic!r}")
        statistic = _NAMES[statistic]
    if not callable(statistic):
        raise ValueError(f"{fn}: statistic must be a name or a callable, got {statistic!r}")
    if statistic in _TWINS:
        return statistic, _TWINS[statistic]
    if isinstance(statistic, functools.partial) and statistic.func in _TWINS and not statistic.args:
        twin = _TWINS[statistic.func]
        if statistic.func is aggregate.optimality_gap and set(statistic.keywords) <= {"gamma"}:
            return statistic, functools.partial(twin, **statistic.keywords)
    return statistic, None
