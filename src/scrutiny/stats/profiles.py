"""Performance profiles (score distributions): the fraction of scores above each threshold, after rliable."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scrutiny.stats._resample import resampled_chunks
from scrutiny.stats._validate import as_scores, check_positive_int, check_probability, make_rng

KINDS = ("run", "average")


@dataclass(frozen=True, eq=False)  # array fields: compare them with numpy, not ==
class PerformanceProfile:
    """A performance profile and its optional bootstrap band.

    Attributes:
        taus: thresholds of shape ``(k,)``.
        profile: fraction strictly above each threshold, shape ``(k,)``.
        low: lower band ``(k,)``, or None without bootstrap.
        high: upper band ``(k,)``, or None without bootstrap.
        kind: ``"run"`` (all runs × tasks) or ``"average"`` (per-task means).
        confidence: coverage of the band, or None.
        reps: bootstrap replicates (0 without bootstrap).
    """

    taus: np.ndarray
    profile: np.ndarray
    low: np.ndarray | None
    high: np.ndarray | None
    kind: str
    confidence: float | None
    reps: int


def _profile_batch(batch: np.ndarray, taus: np.ndarray, kind: str) -> np.ndarray:
    """Profiles of resampled matrices ``(reps, n_runs, n_tasks)`` at ``taus (k,)`` -> ``(reps, k)``."""
    vals = batch.reshape(batch.shape[0], -1) if kind == "run" else batch.mean(axis=1)
    return np.stack([(vals > tau).mean(axis=1) for tau in taus], axis=1)


def performance_profile(
    scores: object,
    taus: object,
    kind: str = "run",
    reps: int = 0,
    confidence: float = 0.95,
    *,
    seed: int | np.random.Generator | None = None,
) -> PerformanceProfile:
    """Fraction of scores strictly greater than each threshold, with an optional stratified bootstrap band.

    ``kind="run"``: ``mean(scores > tau)`` over all runs × tasks (rliable's score distribution).
    ``kind="average"``: ``mean(mean(scores, axis=0) > tau)`` over per-task means (average-score distribution).
    With ``reps > 0`` a percentile band from a stratified bootstrap (runs within tasks) is added; rliable's default
    for profiles is 2,000 reps.

    Args:
        scores: shape ``(n_runs,)`` or ``(n_runs, n_tasks)``.
        taus: thresholds of shape ``(k,)``.
        kind: ``"run"`` or ``"average"``.
        reps: bootstrap replicates for the band; 0 for none.
        confidence: coverage of the band, in (0, 1).
        seed: an int or a ``numpy.random.Generator``; required when ``reps > 0``.
    """
    fn = "performance_profile"
    x, _ = as_scores(scores, fn)
    t = np.atleast_1d(np.asarray(taus, dtype=np.float64))
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)):
        raise ValueError(f"{fn}: taus must be a non-empty finite 1-D array, got {taus!r}")
    if kind not in KINDS:
        raise ValueError(f"{fn}: kind must be one of {KINDS}, got {kind!r}")
    profile = _profile_batch(x[None], t, kind)[0]
    if reps == 0:
        return PerformanceProfile(t, profile, None, None, kind, None, 0)
    reps = check_positive_int(reps, fn, "reps")
    confidence = check_probability(confidence, fn, "confidence")
    if seed is None:
        raise ValueError(f"{fn}: seed is required when reps > 0")
    rng = make_rng(seed, fn)
    dist = np.concatenate([_profile_batch(c, t, kind) for c in resampled_chunks(x, reps, rng)])
    alpha = (1.0 - confidence) / 2.0
    low, high = np.percentile(dist, [100 * alpha, 100 * (1 - alpha)], axis=0)
    return PerformanceProfile(t, profile, low, high, kind, confidence, reps)
