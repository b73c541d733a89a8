"""Hand-checked fixtures and scipy comparisons for the point aggregates."""

import functools

import numpy as np
import pytest
from scipy import stats

from scrutiny.stats import (
    aggregate_mean,
    aggregate_median,
    iqm,
    iqm_batch,
    mean_batch,
    mean_ci,
    median_batch,
    optimality_gap,
    optimality_gap_batch,
    sem,
)

# 3 runs x 2 tasks. Task means: (1+2+3)/3 = 2 and (4+8+6)/3 = 6.
X = np.array([[1.0, 4.0], [2.0, 8.0], [3.0, 6.0]])


def test_aggregate_mean_and_median_by_hand():
    assert aggregate_mean(X) == pytest.approx(4.0)  # mean(2, 6)
    assert aggregate_median(X) == pytest.approx(4.0)  # median of two task means = their mean
    # 3 tasks with means 1, 2, 10: median 2 (not the median of all scores), mean 13/3
    y = np.array([[1.0, 2.0, 10.0], [1.0, 2.0, 10.0]])
    assert aggregate_median(y) == pytest.approx(2.0)
    assert aggregate_mean(y) == pytest.approx(13 / 3)


def test_iqm_by_hand():
    # 8 values 1..8: cut floor(0.25*8)=2 from each end -> mean(3,4,5,6) = 4.5
    assert iqm(np.arange(1.0, 9.0)) == pytest.approx(4.5)
    # 15 values 0..14: cut floor(3.75)=3 from each end -> the middle 9 values 3..11 -> mean 7
    assert iqm(np.arange(15.0).reshape(5, 3)) == pytest.approx(7.0)
    # 6 pooled values 1,2,3,4,6,8: cut 1 from each end -> mean(2,3,4,6) = 3.75
    assert iqm(X) == pytest.approx(3.75)


def test_optimality_gap_by_hand():
    # gamma=5: minimum(X, 5) = 1,4,2,5,3,5 -> mean 20/6; gap = 5 - 10/3 = 5/3
    assert optimality_gap(X, gamma=5.0) == pytest.approx(5 / 3)
    assert optimality_gap(np.array([1.2, 0.8]), 1.0) == pytest.approx(0.1)  # 1 - mean(1, 0.8)


def test_sem_and_mean_ci_by_hand():
    # 1, 2, 3: sd = 1, sem = 1/sqrt(3); t_{0.975, 2} = 4.302652729...
    assert sem([1.0, 2.0, 3.0]) == pytest.approx(1 / np.sqrt(3))
    np.testing.assert_allclose(sem(X), [1 / np.sqrt(3), 2 / np.sqrt(3)])
    ci = mean_ci([1.0, 2.0, 3.0])
    assert ci.estimate == 2.0 and ci.df == 2
    assert ci.high - ci.estimate == pytest.approx(4.302652729911275 / np.sqrt(3))
    assert ci.low == pytest.approx(2.0 - 4.302652729911275 / np.sqrt(3))


@pytest.mark.parametrize("shape", [(4,), (5, 3), (7, 2), (10, 5), (3, 1)])
def test_iqm_matches_scipy_trim_mean(shape):
    rng = np.random.default_rng(sum(shape))
    for x in (rng.normal(size=shape), rng.integers(0, 4, size=shape).astype(float)):
        assert iqm(x) == pytest.approx(stats.trim_mean(x, 0.25, axis=None), abs=1e-12)


def test_batched_twins_match_scalar_versions():
    rng = np.random.default_rng(3)
    batch = rng.normal(size=(20, 7, 3))
    np.testing.assert_allclose(iqm_batch(batch), [iqm(m) for m in batch], atol=1e-12)
    np.testing.assert_allclose(mean_batch(batch), [aggregate_mean(m) for m in batch], atol=1e-12)
    np.testing.assert_allclose(median_batch(batch), [aggregate_median(m) for m in batch], atol=1e-12)
    gap = functools.partial(optimality_gap_batch, gamma=0.5)
    np.testing.assert_allclose(gap(batch), [optimality_gap(m, 0.5) for m in batch], atol=1e-12)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: iqm(np.zeros((2, 2, 2))), "iqm: scores must have shape"),
        (lambda: aggregate_mean([]), "aggregate_mean: scores needs at least 1"),
        (lambda: sem([1.0]), "sem: scores needs at least 2"),
        (lambda: mean_ci([1.0, np.nan]), "mean_ci: scores must be finite"),
        (lambda: mean_ci([1.0, 2.0], confidence=1.5), "mean_ci: confidence"),
    ],
)
def test_errors_name_function_and_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()
