import numpy as np
import pytest
import scipy.stats as ss

from scrutiny.stats import permutation_test, welch_ci


def _diff(x, y, axis):
    return x.mean(axis=axis) - y.mean(axis=axis)


@pytest.mark.parametrize(("na", "nb"), [(2, 2), (3, 4), (5, 5), (6, 3)])
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_permutation_test_matches_scipy_when_both_enumerate(na, nb, alternative):
    rng = np.random.default_rng(na * 10 + nb)
    a, b = rng.normal(size=na), rng.normal(size=nb) + 0.3
    ours = permutation_test(a, b, alternative)
    ref = ss.permutation_test(
        (a, b), _diff, permutation_type="independent", alternative=alternative, n_resamples=10**6, vectorized=True
    )
    assert abs(ours.pvalue - ref.pvalue) < 1e-9
    assert ours.statistic == pytest.approx(a.mean() - b.mean())


def test_permutation_test_by_hand():
    # a = [3, 4], b = [1, 2]: of the C(4, 2) = 6 splits only the observed one has a mean difference >= 2.
    assert permutation_test([3, 4], [1, 2], "greater").pvalue == pytest.approx(1 / 6)
    assert permutation_test([3, 4], [1, 2]).pvalue == pytest.approx(2 / 6)


def test_permutation_test_samples_with_a_seed_beyond_the_exact_bound():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=12) + 1.0, rng.normal(size=12)
    with pytest.raises(ValueError, match="seed is required"):
        permutation_test(a, b, max_exact=100)
    p1 = permutation_test(a, b, max_exact=100, n_resamples=4000, seed=3).pvalue
    assert p1 == permutation_test(a, b, max_exact=100, n_resamples=4000, seed=3).pvalue
    other = permutation_test(a, b, n_resamples=4000, seed=4).pvalue  # C(24, 12) > 2^16: samples as well
    assert other == pytest.approx(p1, abs=0.03)


@pytest.mark.parametrize(("na", "nb"), [(2, 3), (5, 5), (10, 4)])
def test_welch_ci_matches_scipy(na, nb):
    rng = np.random.default_rng(na + nb)
    a, b = rng.normal(size=na) * 2, rng.normal(size=nb)
    ours = welch_ci(a, b, 0.9)
    ref = ss.ttest_ind(a, b, equal_var=False).confidence_interval(0.9)
    assert abs(ours.low - ref.low) < 1e-9 and abs(ours.high - ref.high) < 1e-9
    assert ours.df == pytest.approx(ss.ttest_ind(a, b, equal_var=False).df)


def test_welch_ci_by_hand_and_degenerate():
    # a = [1, 3], b = [0, 0]: d = 2, se = sqrt(2/2) = 1, df = 1, t_{0.975, 1} = 12.706...
    ci = welch_ci([1, 3], [0, 0])
    assert ci.estimate == 2 and ci.se == 1 and ci.df == pytest.approx(1.0)
    assert ci.high - ci.estimate == pytest.approx(12.7062047, rel=1e-7)
    flat = welch_ci([1, 1, 1], [0, 0])
    assert (flat.low, flat.high, flat.se) == (1.0, 1.0, 0.0)
