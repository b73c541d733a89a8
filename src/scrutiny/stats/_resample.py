"""Drawing bootstrap resamples in chunks: indices ``(chunk, n_runs, n_tasks)`` drawn at once from a Generator."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

#: Upper bound on the number of resampled values held at once (indices and values: 16 bytes each).
CHUNK_ELEMENTS = 1 << 21


def chunk_sizes(reps: int, per_rep: int) -> Iterator[int]:
    """Yield chunk lengths summing to ``reps`` so that a chunk holds at most ``CHUNK_ELEMENTS`` values."""
    step = max(1, CHUNK_ELEMENTS // max(1, per_rep))
    for start in range(0, reps, step):
        yield min(step, reps - start)


def resample(x: np.ndarray, size: int, rng: np.random.Generator, stratified: bool = True) -> np.ndarray:
    """Draw ``size`` bootstrap resamples of the matrix ``x``.

    Args:
        x: scores of shape ``(n_runs, n_tasks)``.
        size: number of resamples.
        rng: the generator that draws the indices.
        stratified: resample runs within each task independently (rliable's ``StratifiedBootstrap``); if False,
            resample whole runs, so a drawn run brings its scores on every task.

    Returns:
        Resampled matrices of shape ``(size, n_runs, n_tasks)``; column ``j`` only holds values of ``x[:, j]``.
    """
    n_runs, n_tasks = x.shape
    if stratified:
        idx = rng.integers(0, n_runs, size=(size, n_runs, n_tasks))
        return x[idx, np.arange(n_tasks)]
    idx = rng.integers(0, n_runs, size=(size, n_runs))
    return x[idx]


def resampled_chunks(
    x: np.ndarray, reps: int, rng: np.random.Generator, stratified: bool = True
) -> Iterator[np.ndarray]:
    """Yield ``reps`` resamples of ``x`` ``(n_runs, n_tasks)`` as chunks of shape ``(chunk, n_runs, n_tasks)``."""
    for size in chunk_sizes(reps, x.size):
        yield resample(x, size, rng, stratified)
