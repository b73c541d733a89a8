"""Bootstrap intervals for aggregates of scores ``(n_runs,)`` or ``(n_runs, n_tasks)``: percentile and BCa.

For 2-D scores the default resampling is stratified: runs are resampled within each task independently, as
rliable's ``StratifiedBootstrap`` does. All indices of a chunk of replicates are drawn at once as
``(chunk, n_runs, n_tasks)``; the public aggregates (``iqm``, ``aggregate_mean``, ``aggregate_median``,
``optimality_gap``, by name or function) are then evaluated batched, and any other callable in a loop over the
same resamples, so both paths give the same interval for the same seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scrutiny.stats._batched import resolve
from scrutiny.stats._resample import resampled_chunks
from scrutiny.stats._validate import as_scores, check_positive_int, check_probability, make_rng

METHODS = ("percentile", "bca")


@dataclass(frozen=True)
class BootstrapCI:
    """A point estimate with its bootstrap interval.

    Attributes:
        estimate: the statistic on the observed scores.
        low: lower bound of the interval.
        high: upper bound of the interval.
        confidence: the coverage, e.g. 0.95.
        method: ``"percentile"`` or ``"bca"``.
        reps: number of bootstrap replicates.
    """

    estimate: float
    low: float
    high: float
    confidence: float
    method: str
    reps: int


def _scalar_call(statistic: Callable, one_d: bool) -> Callable[[np.ndarray], float]:
    """Wrap ``statistic`` so that it takes a matrix ``(n_runs, n_tasks)`` and sees the caller's original rank."""
    if one_d:
        return lambda m: float(statistic(m[:, 0]))
    return lambda m: float(statistic(m))


def bootstrap_distribution(
    scores: object,
    statistic: str | Callable = "iqm",
    reps: int = 50_000,
    *,
    seed: int | np.random.Generator,
    stratified: bool = True,
) -> np.ndarray:
    """Bootstrap replicates of ``statistic``.

    Args:
        scores: shape ``(n_runs,)`` or ``(n_runs, n_tasks)``.
        statistic: ``"iqm"``, ``"mean"``, ``"median"``, ``"optimality_gap"``, a public aggregate (possibly through
            ``functools.partial(optimality_gap, gamma=...)``), or any callable mapping scores of the input's shape
            to a float.
        reps: number of replicates.
        seed: an int or a ``numpy.random.Generator``; global random state is never used.
        stratified: for 2-D scores, resample runs within each task (True) or whole runs across tasks (False).

    Returns:
        Replicates of shape ``(reps,)``.
    """
    fn = "bootstrap_distribution"
    x, one_d = as_scores(scores, fn)
    reps = check_positive_int(reps, fn, "reps")
    rng = make_rng(seed, fn)
    scalar, batched = resolve(statistic, fn)
    call = _scalar_call(scalar, one_d)
    parts = []
    for chunk in resampled_chunks(x, reps, rng, stratified):
        if batched is not None:
            parts.append(np.asarray(batched(chunk), dtype=np.float64))
        else:
            parts.append(np.array([call(m) for m in chunk], dtype=np.float64))
    return np.concatenate(parts)


def _jackknife_acceleration(x: np.ndarray, call: Callable, batched: Callable | None) -> float:
    """Efron's acceleration from the delete-one-run jackknife of a matrix ``(n_runs, n_tasks)``.

    Run ``i`` is left out of every task at once. For 1-D input this is the ordinary jackknife. For stratified 2-D
    input the textbook choice deletes one run of one task at a time, which leaves a ragged matrix that an arbitrary
    statistic cannot take; deleting the row keeps the matrix rectangular. Since tasks are resampled independently,
    the row's influence is the sum of its per-task influences, whose second and third moments have the same
    expectation as the per-cell sums, so the acceleration estimates the same quantity (with more noise).
    """
    n = x.shape[0]
    loo = np.stack([np.delete(x, i, axis=0) for i in range(n)])
    theta = np.asarray(batched(loo), dtype=np.float64) if batched is not None else np.array([call(m) for m in loo])
    diff = theta.mean() - theta
    denom = 6.0 * np.sum(diff**2) ** 1.5
    return float(np.sum(diff**3) / denom) if denom > 0 else 0.0


def bootstrap_ci(
    scores: object,
    statistic: str | Callable = "iqm",
    reps: int = 50_000,
    confidence: float = 0.95,
    *,
    seed: int | np.random.Generator,
    method: str = "percentile",
    stratified: bool = True,
) -> BootstrapCI:
    """Bootstrap confidence interval of an aggregate of scores.

    ``percentile`` takes the ``(1 - c)/2`` and ``(1 + c)/2`` quantiles of the replicates with numpy's default
    linear interpolation, as rliable does. ``bca`` corrects them for bias (``z0`` from the share of replicates
    below the estimate, ties counted ½, as scipy) and for skewness (acceleration from the delete-one-run
    jackknife, see ``_jackknife_acceleration``).

    Args:
        scores: shape ``(n_runs,)`` or ``(n_runs, n_tasks)``.
        statistic: a name, a public aggregate or any callable; see :func:`bootstrap_distribution`.
        reps: number of replicates; rliable's default is 50,000.
        confidence: coverage of the interval, in (0, 1).
        seed: an int or a ``numpy.random.Generator``.
        method: ``"percentile"`` or ``"bca"``.
        stratified: for 2-D scores, resample runs within each task (True) or whole runs (False).
    """
    fn = "bootstrap_ci"
    x, one_d = as_scores(scores, fn)
    confidence = check_probability(confidence, fn, "confidence")
    if method not in METHODS:
        raise ValueError(f"{fn}: method must be one of {METHODS}, got {method!r}")
    if method == "bca" and x.shape[0] < 3:
        raise ValueError(f"{fn}: method='bca' needs at least 3 runs for the jackknife, got {x.shape[0]}")
    scalar, batched = resolve(statistic, fn)
    call = _scalar_call(scalar, one_d)
    estimate = call(x)
    dist = bootstrap_distribution(scores, scalar, reps, seed=seed, stratified=stratified)
    alpha = (1.0 - confidence) / 2.0
    levels = np.array([alpha, 1.0 - alpha])
    if method == "bca":
        share = (np.sum(dist < estimate) + np.sum(dist <= estimate)) / (2.0 * dist.size)
        from scipy import special  # here, not at import (worker start-up)

        z0 = special.ndtri(share)
        if not np.isfinite(z0):
            raise ValueError(f"{fn}: method='bca' is undefined when every replicate lies on one side of the estimate")
        acc = _jackknife_acceleration(x, call, batched)
        z = special.ndtri(levels)
        levels = special.ndtr(z0 + (z0 + z) / (1.0 - acc * (z0 + z)))
    low, high = np.percentile(dist, 100.0 * levels)
    return BootstrapCI(float(estimate), float(low), float(high), confidence, method, int(dist.size))
