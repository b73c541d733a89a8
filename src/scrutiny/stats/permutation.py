"""Permutation tests of a mean difference: paired (sign flips) and independent (label shuffles)."""

from __future__ import annotations

import numpy as np

from scrutiny.stats._validate import as_sample, check_alternative, check_positive_int, make_rng
from scrutiny.stats.hypothesis_tests import TIE_RTOL, HypothesisTestResult

#: Largest number of sign patterns enumerated exactly (2^16).
MAX_EXACT = 1 << 16


def paired_permutation_test(
    a: object,
    b: object,
    alternative: str = "two-sided",
    *,
    n_resamples: int = 9_999,
    max_exact: int = MAX_EXACT,
    seed: int | np.random.Generator | None = None,
) -> HypothesisTestResult:
    """Sign-flip permutation test of ``mean(a - b)``: under the null each pair's difference is equally likely ±.

    With ``2^n <= max_exact`` every sign pattern is enumerated (observed one included) and
    ``p = #(null as or more extreme) / 2^n``. Beyond that, ``n_resamples`` random patterns are drawn from ``seed``
    (required then) and ``p = (# + 1) / (n_resamples + 1)``. Null values within a relative ``100·eps`` of the
    observed one count as ties, and the two-sided p is ``2·min(p_less, p_greater)``, as
    ``scipy.stats.permutation_test(..., permutation_type='samples')``, which this matches when both enumerate.
    Integer scores (correct counts) avoid spurious float ties altogether.

    Args:
        a: scores of shape ``(n,)``, paired with ``b``.
        b: scores of shape ``(n,)``.
        alternative: ``"two-sided"``, ``"greater"`` (a larger) or ``"less"``.
        n_resamples: number of random sign patterns when enumeration is too large.
        max_exact: the largest number of patterns enumerated exactly.
        seed: an int or a ``numpy.random.Generator``; needed only when the test samples.
    """
    fn = "paired_permutation_test"
    alternative = check_alternative(alternative, fn)
    a, b = as_sample(a, fn, "a"), as_sample(b, fn, "b")
    if a.size != b.size:
        raise ValueError(f"{fn}: a and b must be paired (same length), got {a.size} and {b.size}")
    max_exact = check_positive_int(max_exact, fn, "max_exact")
    d = a - b
    n = d.size
    observed = float(np.ones(n) @ d / n)
    if 2**n <= max_exact:
        signs = 1.0 - 2.0 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
        null, adjust = signs @ d / n, 0
    else:
        if seed is None:
            raise ValueError(f"{fn}: seed is required when 2^n = 2^{n} patterns exceed max_exact={max_exact}")
        n_resamples = check_positive_int(n_resamples, fn, "n_resamples")
        rng = make_rng(seed, fn)
        parts, step = [], max(1, (1 << 21) // n)
        for start in range(0, n_resamples, step):
            size = min(step, n_resamples - start)
            signs = 1.0 - 2.0 * rng.integers(0, 2, size=(size, n))
            parts.append(signs @ d / n)
        null, adjust = np.concatenate(parts), 1
    gamma = abs(TIE_RTOL * observed)
    p_less = (np.count_nonzero(null <= observed + gamma) + adjust) / (null.size + adjust)
    p_greater = (np.count_nonzero(null >= observed - gamma) + adjust) / (null.size + adjust)
    p = {"less": p_less, "greater": p_greater, "two-sided": 2 * min(p_less, p_greater)}[alternative]
    return HypothesisTestResult(observed, float(min(p, 1.0)), None, alternative)


def permutation_test(
    a: object,
    b: object,
    alternative: str = "two-sided",
    *,
    n_resamples: int = 9_999,
    max_exact: int = MAX_EXACT,
    seed: int | np.random.Generator | None = None,
) -> HypothesisTestResult:
    """Two-sample permutation test of ``mean(a) - mean(b)``: under the null the arm labels are exchangeable.

    With ``C(n_a + n_b, n_a) <= max_exact`` every split of the pooled scores is enumerated (the observed one
    included) and ``p = #(null as or more extreme) / C``; beyond that ``n_resamples`` random splits are drawn from
    ``seed`` (required then) and ``p = (# + 1) / (n_resamples + 1)``. Ties and the two-sided rule follow
    ``scipy.stats.permutation_test(..., permutation_type='independent')``, which this matches when both enumerate.

    Args:
        a: scores of shape ``(n_a,)``.
        b: scores of shape ``(n_b,)``.
        alternative: ``"two-sided"``, ``"greater"`` (a larger) or ``"less"``.
        n_resamples: number of random splits when enumeration is too large.
        max_exact: the largest number of splits enumerated exactly.
        seed: an int or a ``numpy.random.Generator``; needed only when the test samples.
    """
    from itertools import combinations
    from math import comb

    fn = "permutation_test"
    alternative = check_alternative(alternative, fn)
    a, b = as_sample(a, fn, "a"), as_sample(b, fn, "b")
    max_exact = check_positive_int(max_exact, fn, "max_exact")
    pooled = np.concatenate([a, b])
    n, na = pooled.size, a.size
    observed = float(a.mean() - b.mean())
    total = comb(n, na)
    if total <= max_exact:
        mask = np.zeros((total, n), dtype=bool)
        for row, chosen in enumerate(combinations(range(n), na)):
            mask[row, list(chosen)] = True
        adjust = 0
    else:
        if seed is None:
            raise ValueError(f"{fn}: seed is required when C({n}, {na}) splits exceed max_exact={max_exact}")
        n_resamples = check_positive_int(n_resamples, fn, "n_resamples")
        rng = make_rng(seed, fn)
        order = np.argsort(rng.random((n_resamples, n)), axis=1)
        mask = np.zeros((n_resamples, n), dtype=bool)
        np.put_along_axis(mask, order[:, :na], True, axis=1)
        adjust = 1
    sums_a = mask.astype(float) @ pooled
    null = sums_a / na - (pooled.sum() - sums_a) / (n - na)
    tol = TIE_RTOL * max(abs(observed), 1e-300)
    count = null.size + adjust
    p_greater = (np.count_nonzero(null >= observed - tol) + adjust) / count
    p_less = (np.count_nonzero(null <= observed + tol) + adjust) / count
    p = {"greater": p_greater, "less": p_less}.get(alternative, min(1.0, 2 * min(p_greater, p_less)))
    return HypothesisTestResult(statistic=observed, pvalue=float(p), df=None, alternative=alternative)
