"""Two-sample and paired tests: Welch t, paired t, Mann–Whitney U, Wilcoxon signed rank.

Each is written with numpy and scipy's distributions only and agrees with the matching ``scipy.stats`` function
(``ttest_ind(equal_var=False)``, ``ttest_rel``, ``mannwhitneyu``, ``wilcoxon``) under its default options; the
tests in ``tests/stats`` check that to 1e-9. ``alternative="greater"`` means ``a`` tends to exceed ``b``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy import stats as _dist

from scrutiny.stats._ranks import average_ranks, signed_rank_cdf, signed_rank_sf, u_sf
from scrutiny.stats._validate import as_sample, check_alternative

#: Relative tolerance under which null values count as equal to the observed one (as scipy.stats.permutation_test).
TIE_RTOL = 100 * np.finfo(np.float64).eps


@dataclass(frozen=True)
class HypothesisTestResult:
    """Outcome of a test.

    Attributes:
        statistic: the test statistic (t, U of ``a``, signed-rank sum, or mean difference).
        pvalue: the p-value for ``alternative``.
        df: degrees of freedom where the null distribution has them, else None.
        alternative: ``"two-sided"``, ``"greater"`` or ``"less"``.
    """

    statistic: float
    pvalue: float
    df: float | None
    alternative: str


def _t_pvalue(t: float, df: float, alternative: str) -> float:
    if alternative == "greater":
        return float(_dist.t.sf(t, df))
    if alternative == "less":
        return float(_dist.t.cdf(t, df))
    return float(2 * _dist.t.sf(abs(t), df))


def _normal_pvalue(z: float, alternative: str) -> float:
    if alternative == "greater":
        return float(special.ndtr(-z))
    if alternative == "less":
        return float(special.ndtr(z))
    return float(2 * special.ndtr(-abs(z)))


def welch_t_test(a: object, b: object, alternative: str = "two-sided") -> HypothesisTestResult:
    """Welch's unequal-variance t test of ``mean(a) - mean(b)``.

    ``t = (mean_a - mean_b) / sqrt(s_a²/n_a + s_b²/n_b)`` with Welch–Satterthwaite degrees of freedom.

    Args:
        a: scores of shape ``(n_a,)``, ``n_a >= 2``.
        b: scores of shape ``(n_b,)``, ``n_b >= 2``.
        alternative: ``"two-sided"``, ``"greater"`` (mean of a larger) or ``"less"``.
    """
    fn = "welch_t_test"
    alternative = check_alternative(alternative, fn)
    a, b = as_sample(a, fn, "a", 2), as_sample(b, fn, "b", 2)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    if va + vb == 0:
        raise ValueError(f"{fn}: a and b both have zero variance; the t statistic is undefined")
    t = (a.mean() - b.mean()) / np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    return HypothesisTestResult(float(t), _t_pvalue(t, df, alternative), float(df), alternative)


def _paired(a: object, b: object, fn: str, min_size: int) -> np.ndarray:
    a, b = as_sample(a, fn, "a", min_size), as_sample(b, fn, "b", min_size)
    if a.size != b.size:
        raise ValueError(f"{fn}: a and b must be paired (same length), got {a.size} and {b.size}")
    return a - b


def paired_t_test(a: object, b: object, alternative: str = "two-sided") -> HypothesisTestResult:
    """Paired t test of the mean of ``d = a - b``: ``t = mean(d) / (sd(d) / sqrt(n))``, ``df = n - 1``.

    Args:
        a: scores of shape ``(n,)``, ``n >= 2``, paired with ``b`` (same seed or split in pair i).
        b: scores of shape ``(n,)``.
        alternative: ``"two-sided"``, ``"greater"`` (a larger) or ``"less"``.
    """
    fn = "paired_t_test"
    alternative = check_alternative(alternative, fn)
    d = _paired(a, b, fn, 2)
    sd = d.std(ddof=1)
    if sd == 0:
        raise ValueError(f"{fn}: the differences a - b are constant; the t statistic is undefined")
    t = d.mean() / (sd / np.sqrt(d.size))
    df = d.size - 1
    return HypothesisTestResult(float(t), _t_pvalue(t, df, alternative), float(df), alternative)


def mann_whitney(
    a: object, b: object, alternative: str = "two-sided", method: str = "auto", continuity: bool = True
) -> HypothesisTestResult:
    """Mann–Whitney U test; the statistic is ``U_a = #(a_i > b_j) + ½ #(a_i = b_j)``.

    ``method="auto"`` uses the exact null distribution when one sample has at most 8 values and there are no
    ties, else the normal approximation with the tie-corrected variance and (if ``continuity``) a ½ continuity
    correction, as ``scipy.stats.mannwhitneyu``. The exact method ignores ties (U is truncated to an integer).

    Args:
        a: scores of shape ``(n_a,)``.
        b: scores of shape ``(n_b,)``.
        alternative: ``"two-sided"``, ``"greater"`` (a tends to be larger) or ``"less"``.
        method: ``"auto"``, ``"exact"`` or ``"asymptotic"``.
        continuity: apply the continuity correction in the asymptotic method.
    """
    fn = "mann_whitney"
    alternative = check_alternative(alternative, fn)
    if method not in ("auto", "exact", "asymptotic"):
        raise ValueError(f"{fn}: method must be 'auto', 'exact' or 'asymptotic', got {method!r}")
    a, b = as_sample(a, fn, "a"), as_sample(b, fn, "b")
    n1, n2 = a.size, b.size
    ranks, ties = average_ranks(np.concatenate([a, b]))
    u1 = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2)
    u2 = n1 * n2 - u1
    u, factor = {"greater": (u1, 1), "less": (u2, 1), "two-sided": (max(u1, u2), 2)}[alternative]
    if method == "auto":
        method = "asymptotic" if (n1 > 8 and n2 > 8) or np.any(ties > 1) else "exact"
    if method == "exact":
        p = u_sf(u, n1, n2)
    else:
        n = n1 + n2
        tie_term = float(np.sum(ties.astype(np.float64) ** 3 - ties))
        s = np.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (u - n1 * n2 / 2 - (0.5 if continuity else 0.0)) / s
        p = float(special.ndtr(-z))
    return HypothesisTestResult(u1, float(np.clip(p * factor, 0.0, 1.0)), None, alternative)


def _signed_rank_permutation_p(d: np.ndarray, ranks: np.ndarray, alternative: str) -> float:
    """Exact p-value of ``T+`` by enumerating every sign flip of the non-zero differences ``d`` ``(k,)``."""
    signs = ((np.arange(2**d.size)[:, None] >> np.arange(d.size)) & 1).astype(np.float64)  # (2^k, k): 1 = positive
    null = signs @ ranks
    observed = float((d > 0).astype(np.float64) @ ranks)
    gamma = abs(TIE_RTOL * observed)
    p_less = np.count_nonzero(null <= observed + gamma) / null.size
    p_greater = np.count_nonzero(null >= observed - gamma) / null.size
    p = {"less": p_less, "greater": p_greater, "two-sided": 2 * min(p_less, p_greater)}[alternative]
    return float(min(p, 1.0))


def wilcoxon_signed_rank(
    a: object, b: object | None = None, alternative: str = "two-sided", method: str = "auto", correction: bool = False
) -> HypothesisTestResult:
    """Wilcoxon signed-rank test on ``d = a - b`` (or ``d = a`` when ``b`` is None); zero differences are dropped.

    The statistic is ``min(T+, T-)`` for the two-sided test and ``T+`` (sum of the ranks of positive differences)
    otherwise, as ``scipy.stats.wilcoxon``. ``method="auto"``, as scipy: more than 50 differences -> asymptotic;
    else without ties or zeros -> exact null distribution; else with at most 13 differences -> exact enumeration
    of sign flips; else asymptotic (normal, tie-corrected variance, optional ½ continuity correction).

    Args:
        a: scores of shape ``(n,)``.
        b: paired scores of shape ``(n,)`` or None.
        alternative: ``"two-sided"``, ``"greater"`` (a larger) or ``"less"``.
        method: ``"auto"``, ``"exact"`` or ``"asymptotic"``.
        correction: continuity correction in the asymptotic method (scipy's default is False).
    """
    fn = "wilcoxon_signed_rank"
    alternative = check_alternative(alternative, fn)
    if method not in ("auto", "exact", "asymptotic"):
        raise ValueError(f"{fn}: method must be 'auto', 'exact' or 'asymptotic', got {method!r}")
    d_all = as_sample(a, fn, "a") if b is None else _paired(a, b, fn, 1)
    d = d_all[d_all != 0]
    if d.size == 0:
        raise ValueError(f"{fn}: every difference is zero; the test is undefined")
    ranks, ties = average_ranks(np.abs(d))
    r_plus = float(ranks[d > 0].sum())
    r_minus = float(ranks[d < 0].sum())
    n_zero, has_ties = d_all.size - d.size, bool(np.any(ties > 1))
    if method == "auto":
        if d_all.size > 50:
            method = "asymptotic"
        elif not has_ties and n_zero == 0:
            method = "exact"
        elif d_all.size <= 13:
            method = "permutation"
        else:
            method = "asymptotic"
    if method == "exact":
        n = d.size
        sf, cdf = signed_rank_sf(int(np.floor(r_plus)), n), signed_rank_cdf(int(np.ceil(r_plus)), n)
        p = {"less": cdf, "greater": sf, "two-sided": min(2 * min(sf, cdf), 1.0)}[alternative]
    elif method == "permutation":
        p = _signed_rank_permutation_p(d, ranks, alternative)
    else:
        n = d.size
        mean = n * (n + 1) * 0.25
        se = np.sqrt((n * (n + 1) * (2 * n + 1) - np.sum(ties.astype(np.float64) ** 3 - ties) / 2) / 24)
        z = (r_plus - mean) / se
        if correction:
            sign = {"greater": 1.0, "less": -1.0}.get(alternative, float(np.sign(z)))
            z -= sign * 0.5 / se
        p = _normal_pvalue(z, alternative)
    statistic = min(r_plus, r_minus) if alternative == "two-sided" else r_plus
    return HypothesisTestResult(statistic, float(p), None, alternative)
