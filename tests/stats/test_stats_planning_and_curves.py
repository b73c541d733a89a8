"""Seed planning, expected max, performance profiles and probability of improvement."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from scrutiny.stats import (
    expected_max,
    minimum_detectable_effect,
    noether_sample_size,
    performance_profile,
    probability_of_improvement,
    probability_of_improvement_ci,
    seeds_needed,
)

X = np.array([[1.0, 4.0], [2.0, 8.0], [3.0, 6.0]])


def test_seeds_needed_by_hand():
    # 2 (1.959964 + 0.841621)² = 15.6978 -> 16 (Colas et al. 2018)
    assert seeds_needed(1.0, 1.0) == 16
    assert seeds_needed(-0.5, 1.0) == 63  # 4 * 15.6978 = 62.79 -> 63
    assert minimum_detectable_effect(16, 1.0) == pytest.approx(2.801585 * math.sqrt(2 / 16), rel=1e-6)
    for n in (3, 10, 40):  # the inverse: the MDE at n seeds needs exactly n seeds
        assert seeds_needed(minimum_detectable_effect(n, 2.0), 2.0) == n


def test_noether_by_hand():
    # (1.644854 + 1.644854)² / (6 · 0.25²) = 10.8222 / 0.375 = 28.86 -> 29 (Bouthillier et al. 2021)
    assert noether_sample_size(0.75) == 29
    assert [noether_sample_size(g) for g in (0.7, 0.8, 0.6)] == [46, 21, 181]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: seeds_needed(0, 1.0), "seeds_needed: effect must be non-zero"),
        (lambda: seeds_needed(1.0, -1.0), "seeds_needed: sd must be positive"),
        (lambda: seeds_needed(1.0, 1.0, power=1.0), "seeds_needed: power"),
        (lambda: noether_sample_size(0.5), "noether_sample_size: gamma must differ from 0.5"),
        (lambda: minimum_detectable_effect(0, 1.0), "minimum_detectable_effect: n must be an integer"),
        (lambda: expected_max([1, 2], 3, replace=False), "expected_max: n must be <= len"),
        (lambda: expected_max([1, 2], 0), "expected_max: n must be an integer"),
    ],
)
def test_planning_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_expected_max_by_hand():
    # with replacement, n=2 from 1..4: weights 1/16, 3/16, 5/16, 7/16 -> 50/16
    r = expected_max([4, 1, 3, 2], 2)
    assert r.mean == pytest.approx(50 / 16) and r.replace
    second = (1 + 3 * 4 + 5 * 9 + 7 * 16) / 16
    assert r.sd == pytest.approx(math.sqrt(second - (50 / 16) ** 2))
    # without replacement: pairs' maxima 2,3,3,4,4,4 -> 20/6; n = N gives the max, n = 1 the mean
    assert expected_max([4, 1, 3, 2], 2, replace=False).mean == pytest.approx(20 / 6)
    assert expected_max([4, 1, 3, 2], 4, replace=False).mean == pytest.approx(4.0)
    assert expected_max([4, 1, 3, 2], 1).mean == pytest.approx(2.5)


def test_expected_max_matches_enumeration_and_gives_a_curve():
    v = np.array([0.61, 0.7, 0.7, 0.64, 0.73, 0.58])
    for n in (1, 2, 3):
        maxima = [max(t) for t in itertools.product(v, repeat=n)]
        r = expected_max(v, n)
        assert r.mean == pytest.approx(np.mean(maxima)) and r.sd == pytest.approx(np.std(maxima))
        maxima = [max(t) for t in itertools.combinations(v, n)]
        r = expected_max(v, n, replace=False)
        assert r.mean == pytest.approx(np.mean(maxima)) and r.sd == pytest.approx(np.std(maxima))
    curve = expected_max(v, np.arange(1, 7))
    assert curve.mean.shape == (6,) and np.all(np.diff(curve.mean) >= 0)


def test_performance_profile_by_hand():
    # run: scores 1,2,3,4,6,8 -> >0: 6/6, >2: 4/6, >5: 2/6; average: task means 2, 6 -> 1, 1/2, 1/2
    np.testing.assert_allclose(performance_profile(X, [0, 2, 5]).profile, [1, 4 / 6, 2 / 6])
    np.testing.assert_allclose(performance_profile(X, [0, 2, 5], kind="average").profile, [1, 0.5, 0.5])


def test_performance_profile_band():
    x = np.random.default_rng(0).normal(size=(10, 5))
    taus = np.linspace(-2, 2, 9)
    p = performance_profile(x, taus, reps=2000, seed=0)
    assert p.low.shape == p.high.shape == (9,) and np.all(p.low <= p.high)
    assert np.all(p.low <= p.profile + 1e-12) and np.all(p.profile <= p.high + 1e-12)
    again = performance_profile(x, taus, reps=2000, seed=0)
    assert np.array_equal(p.low, again.low) and np.array_equal(p.high, again.high)
    with pytest.raises(ValueError, match="performance_profile: seed is required"):
        performance_profile(x, taus, reps=10)
    with pytest.raises(ValueError, match="performance_profile: kind must be one of"):
        performance_profile(x, taus, kind="median")


def test_probability_of_improvement_by_hand():
    # a = 3, 2 vs b = 2, 1: 3>2, 3>1, 2=2 (½), 2>1 -> 3.5/4
    assert probability_of_improvement([3.0, 2.0], [2.0, 1.0]) == pytest.approx(0.875)
    # task 1 as above (0.875); task 2 identical columns -> 0.5; mean 0.6875
    a = np.array([[3.0, 5.0], [2.0, 7.0]])
    b = np.array([[2.0, 5.0], [1.0, 7.0]])
    assert probability_of_improvement(a, b) == pytest.approx(0.6875)


@pytest.mark.parametrize("shape_a, shape_b", [((5, 3), (7, 3)), ((10,), (4,)), ((6, 1), (6, 1))])
@pytest.mark.parametrize("ties", [False, True])
def test_probability_of_improvement_matches_scipy_u(shape_a, shape_b, ties):
    rng = np.random.default_rng(len(shape_a) + shape_b[0])
    draw = (lambda s: rng.integers(0, 4, s).astype(float)) if ties else (lambda s: rng.normal(size=s))
    a, b = draw(shape_a), draw(shape_b)
    a2, b2 = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    ref = np.mean([stats.mannwhitneyu(a2[:, j], b2[:, j]).statistic / (len(a2) * len(b2)) for j in range(a2.shape[1])])
    assert probability_of_improvement(a, b) == pytest.approx(ref, abs=1e-12)


def test_probability_of_improvement_ci():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.5, size=(5, 4)), rng.normal(size=(7, 4))
    ci = probability_of_improvement_ci(a, b, reps=5000, seed=3)
    assert ci.low < ci.estimate < ci.high and 0 <= ci.low and ci.high <= 1
    assert ci == probability_of_improvement_ci(a, b, reps=5000, seed=3)
    assert ci != probability_of_improvement_ci(a, b, reps=5000, seed=4)
    with pytest.raises(ValueError, match="probability_of_improvement: a and b need the same number of tasks"):
        probability_of_improvement(a, b[:, :3])


def test_t_based_seeds_needed_matches_the_textbook_value():
    from scrutiny.stats import seeds_needed_t, t_test_power

    # Cohen's d = 1, alpha = 0.05 two-sided, power 0.8: 17 per group (the normal approximation says 16).
    assert seeds_needed_t(1.0, 1.0) == 17
    assert t_test_power(17, 1.0, 1.0) >= 0.8 > t_test_power(16, 1.0, 1.0)
