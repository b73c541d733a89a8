"""Bootstrap of a mean over many examples whose values take few distinct levels (hits, paired hit differences).

Resampling ``n`` examples with replacement only changes how many of them fall on each level, and those counts
follow a multinomial distribution with the observed shares. Drawing the counts directly gives the same bootstrap
distribution as resampling the examples, in ``O(reps × levels)`` instead of ``O(reps × n)``: a 95% interval of a
top-1 error over 50,000 images, or of the paired difference between two protocols on the same images (levels
-1, 0, 1), costs milliseconds.
"""

from __future__ import annotations

import numpy as np

from scrutiny.stats._validate import check_probability, make_rng
from scrutiny.stats.bootstrap import BootstrapCI


def bootstrap_mean_discrete(
    values: object, reps: int = 10_000, confidence: float = 0.95, *, seed: int | np.random.Generator
) -> BootstrapCI:
    """Percentile bootstrap interval of ``mean(values)``, resampling the examples through their level counts.

    Args:
        values: shape ``(n,)``, few distinct values (e.g. 0/1 hits, or -1/0/1 paired differences).
        reps: number of bootstrap replicates.
        confidence: coverage of the interval, in (0, 1).
        seed: an int or a ``numpy.random.Generator``.

    Returns:
        The observed mean with the ``(1 - c)/2`` and ``(1 + c)/2`` quantiles of the replicate means (numpy's
        linear interpolation, as :func:`scrutiny.stats.bootstrap_ci` with ``method="percentile"``).
    """
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError("bootstrap_mean_discrete: values must be non-empty and finite")
    confidence = check_probability(confidence, "bootstrap_mean_discrete", "confidence")
    if reps < 1:
        raise ValueError(f"bootstrap_mean_discrete: reps must be >= 1, got {reps}")
    levels, counts = np.unique(x, return_counts=True)
    rng = make_rng(seed, "bootstrap_mean_discrete")
    draws = rng.multinomial(x.size, counts / x.size, size=reps)  # (reps, n_levels)
    means = draws @ levels / x.size
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return BootstrapCI(
        estimate=float(x.mean()),
        low=float(low),
        high=float(high),
        confidence=confidence,
        method="percentile",
        reps=reps,
    )
