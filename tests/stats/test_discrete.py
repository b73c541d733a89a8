"""The level-count bootstrap equals resampling the examples, in distribution."""

import numpy as np
import pytest

from scrutiny.stats import bootstrap_ci, bootstrap_mean_discrete


def test_matches_the_example_bootstrap_in_distribution():
    rng = np.random.default_rng(0)
    hits = (rng.random(400) < 0.3).astype(float)
    fast = bootstrap_mean_discrete(hits, reps=40_000, seed=1)
    slow = bootstrap_ci(hits, "mean", reps=40_000, seed=2)
    assert fast.estimate == slow.estimate == hits.mean()
    # the same distribution, different draws: the quantiles agree to Monte Carlo error (sd of a mean ≈ 0.023)
    assert fast.low == pytest.approx(slow.low, abs=0.003) and fast.high == pytest.approx(slow.high, abs=0.003)


def test_paired_levels_and_hand_checkable_cases():
    d = np.array([1] * 30 + [-1] * 10 + [0] * 60, dtype=float)  # paired differences of two protocols' misses
    ci = bootstrap_mean_discrete(d, reps=20_000, seed=0)
    assert ci.estimate == pytest.approx(0.2) and ci.low > 0.05 and ci.high < 0.35
    # the normal approximation of the bootstrap sd: sqrt(var(d) / n) = sqrt((0.4 - 0.04) / 100) = 0.06
    assert (ci.high - ci.low) == pytest.approx(2 * 1.96 * 0.06, rel=0.05)
    same = bootstrap_mean_discrete(np.zeros(50), reps=100, seed=0)
    assert (same.low, same.high) == (0.0, 0.0)
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap_mean_discrete([], seed=0)
