"""How many seeds: normal-approximation sample sizes for a difference in means and for ``P(A > B)``."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from scrutiny.stats._validate import check_positive_int, check_probability


def _positive(value: float, fn: str, name: str) -> float:
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{fn}: {name} must be positive and finite, got {value!r}")
    return float(value)


def seeds_needed(effect: float, sd: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Runs per arm to detect a difference in means ``effect`` with a two-sided test (normal approximation).

    ``n = 2 · ((z_{1-α/2} + z_{power}) · sd / effect)²``, rounded up (Colas et al. 2018, "How Many Random Seeds?").
    With ``sd == effect``, α = 0.05 and power 0.8 this is 15.70 -> 16.

    Args:
        effect: the difference in means to detect (its sign is ignored), non-zero.
        sd: the per-run standard deviation, assumed equal in both arms.
        alpha: two-sided significance level.
        power: the probability of detecting ``effect``.
    """
    fn = "seeds_needed"
    if not np.isfinite(effect) or effect == 0:
        raise ValueError(f"{fn}: effect must be non-zero and finite, got {effect!r}")
    sd = _positive(sd, fn, "sd")
    alpha, power = check_probability(alpha, fn, "alpha"), check_probability(power, fn, "power")
    z = special.ndtri(1 - alpha / 2) + special.ndtri(power)
    n = 2.0 * (z * sd / abs(effect)) ** 2
    return int(math.ceil(n - 1e-9))


def minimum_detectable_effect(n: int, sd: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest difference in means detectable with ``n`` runs per arm: ``(z_{1-α/2} + z_{power}) · sd · sqrt(2/n)``.

    The inverse of :func:`seeds_needed` (before rounding).

    Args:
        n: runs per arm.
        sd: the per-run standard deviation.
        alpha: two-sided significance level.
        power: the probability of detecting the effect.
    """
    fn = "minimum_detectable_effect"
    n = check_positive_int(n, fn, "n")
    sd = _positive(sd, fn, "sd")
    alpha, power = check_probability(alpha, fn, "alpha"), check_probability(power, fn, "power")
    return float((special.ndtri(1 - alpha / 2) + special.ndtri(power)) * sd * math.sqrt(2.0 / n))


def noether_sample_size(gamma: float, alpha: float = 0.05, beta: float = 0.05) -> int:
    """Runs per algorithm to detect ``P(A > B) = gamma`` with a one-sided Mann–Whitney-type test.

    ``N = (z_{1-α} + z_{1-β})² / (6 · (gamma - ½)²)``, rounded up: Noether (1987), "Sample size determination for
    some common nonparametric tests", JASA 82(398), with equal allocation (``c = ½``), in the form used by
    Bouthillier et al. (2021), "Accounting for Variance in Machine Learning Benchmarks", MLSys. Noether's total
    over both groups is ``(z_{1-α} + z_{1-β})² / (12 c (1-c) (gamma - ½)²)``, i.e. twice this per-arm ``N``.
    α = β = 0.05 and gamma = 0.75 give 28.86 -> 29 runs per algorithm.

    Args:
        gamma: the probability of improvement to detect, in (0, 1) and not ½.
        alpha: one-sided significance level.
        beta: type II error rate (1 - power).
    """
    fn = "noether_sample_size"
    gamma = check_probability(gamma, fn, "gamma")
    if gamma == 0.5:
        raise ValueError(f"{fn}: gamma must differ from 0.5, got {gamma!r}")
    alpha, beta = check_probability(alpha, fn, "alpha"), check_probability(beta, fn, "beta")
    z = special.ndtri(1 - alpha) + special.ndtri(1 - beta)
    return int(math.ceil(z**2 / (6.0 * (gamma - 0.5) ** 2) - 1e-9))


def t_test_power(n: int, effect: float, sd: float, alpha: float = 0.05) -> float:
    """Power of the two-sided two-sample t-test with ``n`` runs per arm (equal variances), from the noncentral t.

    ``df = 2n - 2``, noncentrality ``effect / (sd · sqrt(2/n))``; power = P(|T| > t_{1-α/2, df}).
    """
    from scipy.stats import nct
    from scipy.stats import t as t_dist

    fn = "t_test_power"
    n = check_positive_int(n, fn, "n", minimum=2)
    sd = _positive(sd, fn, "sd")
    df = 2 * n - 2
    ncp = abs(effect) / (sd * math.sqrt(2.0 / n))
    crit = float(t_dist.ppf(1 - alpha / 2, df))
    return float(nct.sf(crit, df, ncp) + nct.cdf(-crit, df, ncp))


def seeds_needed_t(effect: float, sd: float, alpha: float = 0.05, power: float = 0.8, max_n: int = 100_000) -> int:
    """Runs per arm for a two-sided two-sample t-test to reach ``power`` (exact noncentral-t power, not the normal
    approximation of :func:`seeds_needed`, which undercounts at small n). At least 2."""
    fn = "seeds_needed_t"
    if not np.isfinite(effect) or effect == 0:
        raise ValueError(f"{fn}: effect must be non-zero and finite, got {effect!r}")
    sd = _positive(sd, fn, "sd")
    start = max(2, seeds_needed(effect, sd, alpha, power))
    for n in range(start, max_n + 1):
        if t_test_power(n, effect, sd, alpha) >= power:
            return n
    return max_n


def one_sided_power(n: int, effect: float, sd: float, alpha: float, design: str = "two-sample") -> float:
    """Power of a one-sided t-test at level ``alpha`` with ``n`` runs per arm, from the noncentral t.

    ``design``: ``"two-sample"`` (df = 2n - 2, se = sd·sqrt(2/n)), ``"one-sample"`` or ``"paired"`` (df = n - 1,
    se = sd/sqrt(n)); ``sd`` is the per-run (or per-pair difference) standard deviation.
    """
    from scipy.stats import nct
    from scipy.stats import t as t_dist

    fn = "one_sided_power"
    n = check_positive_int(n, fn, "n", minimum=2)
    sd = _positive(sd, fn, "sd")
    alpha = check_probability(alpha, fn, "alpha")
    two = design == "two-sample"
    df = 2 * n - 2 if two else n - 1
    ncp = abs(effect) / (sd * math.sqrt((2.0 if two else 1.0) / n))
    return float(nct.sf(float(t_dist.ppf(1 - alpha, df)), df, ncp))


def seeds_for_power(
    effect: float, sd: float, alpha: float, power: float = 0.8, design: str = "two-sample", max_n: int = 10_000
) -> int | None:
    """Seeds per arm for a one-sided t-test at level ``alpha`` to reach ``power`` against ``effect``.

    This is scrutiny's one definition of "seeds needed": the observed effect and standard deviation taken as true,
    the level already adjusted for multiplicity by the caller, 80% power by default. ``None`` when ``effect`` is 0
    or more than ``max_n`` seeds would be needed.
    """
    fn = "seeds_for_power"
    if not np.isfinite(effect) or effect == 0:
        return None
    sd = _positive(sd, fn, "sd")
    lo, hi = 2, 2
    while one_sided_power(hi, effect, sd, alpha, design) < power:
        lo, hi = hi, hi * 2
        if hi > max_n:
            return None
    while lo < hi:  # power grows with n: bisect for the smallest n that reaches it
        mid = (lo + hi) // 2
        if one_sided_power(mid, effect, sd, alpha, design) >= power:
            hi = mid
        else:
            lo = mid + 1
    return hi


def seeds_for_exact_test(alpha: float, design: str = "two-sample", max_n: int = 64) -> int | None:
    """Seeds per arm for an exact randomisation test to be able to reach ``p <= alpha`` at all (every seed tied).

    Sign flips reach ``2^-n``; label shuffles of two arms of n reach ``1 / C(2n, n)``.
    """
    for n in range(1, max_n + 1):
        smallest = 1.0 / math.comb(2 * n, n) if design == "two-sample" else 2.0**-n
        if smallest <= alpha:
            return n
    return None
