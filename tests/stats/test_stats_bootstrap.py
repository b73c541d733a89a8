"""Bootstrap: fixtures, reproducibility, stratification, BCa against scipy, percentile against rliable's loop."""

import functools

import numpy as np
import pytest
from scipy import stats

from scrutiny.stats import BootstrapCI, aggregate_mean, bootstrap_ci, bootstrap_distribution, iqm, optimality_gap
from scrutiny.stats._resample import resample


def strat_boot_ci(scores, stat, reps, size=0.95):
    """rliable's StratifiedBootstrap percentile interval, verbatim from the reference notes (global np.random)."""
    n, m = scores.shape
    cols = np.arange(m)[None, :]
    vals = np.array([stat(scores[np.random.choice(n, (n, m), replace=True), cols]) for _ in range(reps)])
    a = (1 - size) / 2
    return np.percentile(vals, [100 * a, 100 * (1 - a)])


def test_constant_scores_give_a_point_interval():
    # every resample of a constant matrix is the same matrix: the interval collapses to the value
    ci = bootstrap_ci(np.full((4, 3), 0.7), "mean", reps=100, seed=0)
    assert (ci.estimate, ci.low, ci.high) == pytest.approx((0.7, 0.7, 0.7))
    assert isinstance(ci, BootstrapCI) and ci.reps == 100 and ci.method == "percentile"


def test_two_values_by_hand():
    # scores (0, 1): a resample's mean is 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4
    dist = bootstrap_distribution([0.0, 1.0], "mean", reps=40_000, seed=5)
    assert set(np.unique(dist)) == {0.0, 0.5, 1.0}
    assert np.mean(dist == 0.5) == pytest.approx(0.5, abs=0.01)
    ci = bootstrap_ci([0.0, 1.0], "mean", reps=40_000, seed=5)
    assert (ci.low, ci.high) == (0.0, 1.0)


def test_reproducible_for_a_seed_and_different_for_another():
    x = np.random.default_rng(0).normal(size=(10, 5))
    a = bootstrap_ci(x, "iqm", reps=2000, seed=1)
    assert a == bootstrap_ci(x, "iqm", reps=2000, seed=1)
    assert a == bootstrap_ci(x, "iqm", reps=2000, seed=np.random.default_rng(1))
    assert a != bootstrap_ci(x, "iqm", reps=2000, seed=2)


def test_does_not_touch_global_random_state():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    bootstrap_ci(np.arange(12.0).reshape(4, 3), "iqm", reps=500, seed=0)
    assert np.array_equal(np.random.get_state()[1], before)


def test_stratified_resampling_keeps_each_task_in_its_own_runs():
    x = np.arange(24.0).reshape(6, 4)  # column j holds 4*i + j: every value identifies its task
    batch = resample(x, 500, np.random.default_rng(0), stratified=True)
    assert batch.shape == (500, 6, 4)
    for j in range(4):
        assert set(np.unique(batch[:, :, j])) <= set(x[:, j])
    # runs are drawn independently per task: some resampled row mixes runs
    rows = (batch - np.arange(4)) / 4
    assert np.any(rows[:, :, 0] != rows[:, :, 1])
    whole = resample(x, 200, np.random.default_rng(0), stratified=False)
    rows = (whole - np.arange(4)) / 4
    assert np.all(rows == rows[:, :, :1])  # whole runs travel together


def test_vectorised_and_loop_paths_agree():
    x = np.random.default_rng(4).normal(size=(8, 3))
    fast = bootstrap_distribution(x, iqm, reps=3000, seed=9)
    slow = bootstrap_distribution(x, lambda m: stats.trim_mean(m, 0.25, axis=None), reps=3000, seed=9)
    np.testing.assert_allclose(fast, slow, atol=1e-12)
    gap = functools.partial(optimality_gap, gamma=0.2)
    np.testing.assert_allclose(
        bootstrap_distribution(x, gap, reps=500, seed=1),
        bootstrap_distribution(x, lambda m: optimality_gap(m, 0.2), reps=500, seed=1),
        atol=1e-12,
    )
    np.testing.assert_allclose(
        bootstrap_distribution(x, "median", reps=500, seed=1),
        bootstrap_distribution(x, lambda m: np.median(m.mean(axis=0)), reps=500, seed=1),
        atol=1e-12,
    )


def test_one_d_callable_sees_one_d_scores():
    seen = []
    bootstrap_distribution([1.0, 2.0, 4.0], lambda v: seen.append(v.shape) or float(v.mean()), reps=3, seed=0)
    assert seen == [(3,)] * 3


def test_percentile_close_to_rliable_reference_loop():
    x = np.random.default_rng(11).normal(loc=1.0, size=(10, 5))
    np.random.seed(0)
    ref = strat_boot_ci(x, lambda m: stats.trim_mean(m, 0.25, axis=None), reps=4000)
    ours = bootstrap_ci(x, "iqm", reps=50_000, seed=0)
    width = ref[1] - ref[0]
    assert ours.low == pytest.approx(ref[0], abs=0.06 * width)
    assert ours.high == pytest.approx(ref[1], abs=0.06 * width)


def test_bca_close_to_scipy_for_one_d_mean():
    x = np.random.default_rng(2).exponential(size=25)  # skewed, so BCa differs from percentile
    ref = stats.bootstrap((x,), np.mean, n_resamples=20_000, method="BCa", rng=np.random.default_rng(0))
    ours = bootstrap_ci(x, aggregate_mean, reps=40_000, seed=0, method="bca")
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert ours.low == pytest.approx(ref.confidence_interval.low, abs=0.04 * width)
    assert ours.high == pytest.approx(ref.confidence_interval.high, abs=0.04 * width)
    pct = bootstrap_ci(x, aggregate_mean, reps=40_000, seed=0)
    assert ours.low > pct.low and ours.high > pct.high  # right skew shifts BCa up


def test_bca_on_two_d_scores_runs_and_brackets_estimate():
    x = np.random.default_rng(6).gamma(2.0, size=(10, 4))
    ci = bootstrap_ci(x, "iqm", reps=5000, seed=0, method="bca")
    assert ci.low < ci.estimate < ci.high and ci.method == "bca"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(method="basic"), "bootstrap_ci: method must be one of"),
        (dict(statistic="mode"), "bootstrap_ci: statistic must be one of"),
        (dict(reps=0), "reps must be an integer >= 1"),
        (dict(seed=None), "seed must be a non-negative int or a numpy.random.Generator"),
        (dict(confidence=0.0), "bootstrap_ci: confidence"),
    ],
)
def test_errors(kwargs, message):
    args = dict(scores=np.ones((3, 2)), statistic="iqm", reps=10, seed=0) | kwargs
    with pytest.raises(ValueError, match=message):
        bootstrap_ci(**args)
