"""Hypothesis tests: hand-checked fixtures and agreement with scipy.stats to 1e-9."""

import numpy as np
import pytest
from scipy import stats

from scrutiny.stats import (
    HypothesisTestResult,
    cohens_d,
    hedges_g,
    mann_whitney,
    paired_permutation_test,
    paired_t_test,
    welch_t_test,
    wilcoxon_signed_rank,
)

ALTS = ("two-sided", "greater", "less")
TOL = dict(rtol=1e-9, atol=1e-9)


def close(ours, ref):
    np.testing.assert_allclose([ours.statistic, ours.pvalue], [ref.statistic, ref.pvalue], **TOL)


def samples(seed, n_a, n_b, ties):
    rng = np.random.default_rng(seed)
    if ties:
        return rng.integers(0, 5, n_a).astype(float), rng.integers(1, 6, n_b).astype(float)
    return rng.normal(size=n_a), rng.normal(0.4, 1.3, size=n_b)


# ---------------------------------------------------------------- fixtures computed by hand


def test_welch_by_hand():
    # a = 1,2,3 (mean 2, var 1), b = 4,6,8 (mean 6, var 4): se² = 1/3 + 4/3 = 5/3, t = -4/sqrt(5/3)
    # df = (5/3)² / ((1/3)²/2 + (4/3)²/2) = (25/9) / (17/18) = 50/17
    r = welch_t_test([1, 2, 3], [4, 6, 8])
    assert r.statistic == pytest.approx(-4 / np.sqrt(5 / 3)) and r.df == pytest.approx(50 / 17)
    assert isinstance(r, HypothesisTestResult) and r.alternative == "two-sided"


def test_paired_t_by_hand():
    # d = 1, 2, 3: mean 2, sd 1, t = 2 / (1/sqrt(3)) = 2 sqrt(3), df 2
    r = paired_t_test([2, 4, 6], [1, 2, 3], alternative="greater")
    assert r.statistic == pytest.approx(2 * np.sqrt(3)) and r.df == 2


def test_mann_whitney_by_hand():
    # a = 3,4 vs b = 1,2: U_a = 4 (every a beats every b); exact P(U >= 4) = 1/C(4,2) = 1/6
    r = mann_whitney([3, 4], [1, 2], alternative="greater")
    assert r.statistic == 4 and r.pvalue == pytest.approx(1 / 6) and r.df is None
    assert mann_whitney([3, 4], [1, 2]).pvalue == pytest.approx(2 / 6)


def test_wilcoxon_by_hand():
    # d = 1, -2, 3, 4: ranks 1,2,3,4; T+ = 1+3+4 = 8, T- = 2; two-sided statistic min = 2
    # exact: P(T+ >= 8) over 16 sign patterns: T+ in {8,9,10} for {1,3,4},{2,3,4},{1,2,3,4}... count = 3/16
    r = wilcoxon_signed_rank([1, -2, 3, 4], alternative="greater")
    assert r.statistic == 8 and r.pvalue == pytest.approx(3 / 16)
    assert wilcoxon_signed_rank([1, -2, 3, 4]).statistic == 2


def test_paired_permutation_by_hand():
    # d = 1, 2, 3: 8 sign patterns, mean diff 2 is the largest; only +++ reaches it -> p_greater = 1/8
    r = paired_permutation_test([2, 4, 6], [1, 2, 3], alternative="greater")
    assert r.statistic == pytest.approx(2.0) and r.pvalue == pytest.approx(1 / 8)
    assert paired_permutation_test([2, 4, 6], [1, 2, 3]).pvalue == pytest.approx(2 / 8)


def test_effect_sizes_by_hand():
    # a = 1,2,3, b = 4,6,8: pooled var = (2*1 + 2*4)/4 = 2.5, d = -4/sqrt(2.5)
    assert cohens_d([1, 2, 3], [4, 6, 8]) == pytest.approx(-4 / np.sqrt(2.5))
    # df = 4: J = Γ(2) / (sqrt(2) Γ(1.5)) = 1 / (sqrt(2) * sqrt(pi)/2) = 0.7978845608
    assert hedges_g([1, 2, 3], [4, 6, 8]) == pytest.approx(-4 / np.sqrt(2.5) * 0.7978845608028654)


# ---------------------------------------------------------------- scipy agreement


@pytest.mark.parametrize("alternative", ALTS)
@pytest.mark.parametrize("n_a, n_b", [(2, 3), (5, 5), (12, 7), (40, 33)])
@pytest.mark.parametrize("ties", [False, True])
def test_welch_and_paired_t_match_scipy(alternative, n_a, n_b, ties):
    a, b = samples(n_a * 7 + n_b, n_a, n_b, ties)
    ref = stats.ttest_ind(a, b, equal_var=False, alternative=alternative)
    ours = welch_t_test(a, b, alternative)
    close(ours, ref)
    assert ours.df == pytest.approx(ref.df, rel=1e-9)
    close(
        paired_t_test(a, b[:n_a] if n_b >= n_a else np.resize(b, n_a), alternative),
        stats.ttest_rel(a, b[:n_a] if n_b >= n_a else np.resize(b, n_a), alternative=alternative),
    )


@pytest.mark.parametrize("alternative", ALTS)
@pytest.mark.parametrize("n_a, n_b", [(1, 4), (3, 8), (8, 20), (9, 9), (25, 31)])
@pytest.mark.parametrize("ties", [False, True])
def test_mann_whitney_matches_scipy(alternative, n_a, n_b, ties):
    a, b = samples(n_a * 11 + n_b, n_a, n_b, ties)
    close(mann_whitney(a, b, alternative), stats.mannwhitneyu(a, b, alternative=alternative))
    for method in ("exact", "asymptotic"):
        ref = stats.mannwhitneyu(a, b, alternative=alternative, method=method)
        close(mann_whitney(a, b, alternative, method=method), ref)
    ref = stats.mannwhitneyu(a, b, alternative=alternative, method="asymptotic", use_continuity=False)
    close(mann_whitney(a, b, alternative, method="asymptotic", continuity=False), ref)


@pytest.mark.parametrize("alternative", ALTS)
@pytest.mark.parametrize("n", [3, 9, 13, 14, 30, 60])
@pytest.mark.parametrize("ties", [False, True])
def test_wilcoxon_matches_scipy(alternative, n, ties):
    a, b = samples(n * 13, n, n, ties)
    if ties:
        b = a + np.random.default_rng(n).integers(-2, 3, n)  # zeros and tied |d| included
        if np.all(a == b):
            b[0] += 1
    close(wilcoxon_signed_rank(a, b, alternative), stats.wilcoxon(a, b, alternative=alternative))
    ref = stats.wilcoxon(a, b, alternative=alternative, method="asymptotic", correction=True)
    close(wilcoxon_signed_rank(a, b, alternative, method="asymptotic", correction=True), ref)
    if not ties:
        close(
            wilcoxon_signed_rank(a, b, alternative, method="exact"),
            stats.wilcoxon(a, b, alternative=alternative, method="exact"),
        )


@pytest.mark.parametrize("alternative", ALTS)
@pytest.mark.parametrize("n", [2, 4, 9, 13])
@pytest.mark.parametrize("ties", [False, True])
def test_paired_permutation_matches_scipy(alternative, n, ties):
    a, b = samples(n * 17, n, n, ties)
    ref = stats.permutation_test(
        (a, b),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        alternative=alternative,
        vectorized=True,
    )
    close(paired_permutation_test(a, b, alternative), ref)


def test_paired_permutation_samples_beyond_max_exact():
    a, b = samples(1, 18, 18, False)
    r1 = paired_permutation_test(a, b, max_exact=1024, n_resamples=20_000, seed=0)
    assert r1 == paired_permutation_test(a, b, max_exact=1024, n_resamples=20_000, seed=0)
    assert r1 != paired_permutation_test(a, b, max_exact=1024, n_resamples=20_000, seed=1)
    exact = paired_permutation_test(a, b, max_exact=1 << 18)  # 2^18 patterns enumerated
    assert r1.pvalue == pytest.approx(exact.pvalue, abs=0.01)
    with pytest.raises(ValueError, match="paired_permutation_test: seed is required"):
        paired_permutation_test(a, b, max_exact=1024)


def test_integer_counts_avoid_float_ties():
    # correct counts out of 10,000; mean differences tie exactly in the null distribution
    a = np.array([9401, 9398, 9405, 9400, 9403, 9399, 9402, 9404, 9397, 9406])
    b = np.array([9399, 9400, 9401, 9398, 9400, 9401, 9399, 9400, 9402, 9398])
    d = a - b
    signs = 1 - 2 * ((np.arange(1024)[:, None] >> np.arange(10)) & 1)
    brute = np.mean(signs @ d >= d.sum())  # integer arithmetic, no rounding
    assert paired_permutation_test(a, b, "greater").pvalue == pytest.approx(brute)
    # as float accuracies (a / 10_000) the rounding of a - b breaks these ties, in scipy as here: store counts


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: welch_t_test([1, 2], [3, 4], alternative="bigger"), "welch_t_test: alternative must be one of"),
        (lambda: welch_t_test([1], [3, 4]), "welch_t_test: a needs at least 2"),
        (lambda: paired_t_test([1, 2], [3, 4, 5]), "paired_t_test: a and b must be paired"),
        (lambda: paired_t_test([1, 2], [0, 1]), "paired_t_test: the differences a - b are constant"),
        (lambda: wilcoxon_signed_rank([1, 2], [1, 2]), "wilcoxon_signed_rank: every difference is zero"),
        (lambda: mann_whitney([[1]], [2]), "mann_whitney: a must be 1-D"),
    ],
)
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
