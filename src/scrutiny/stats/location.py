"""One test of a location (a mean, a paired mean difference or a difference of means) against a number.

Used by every verdict and by ``compare``: it returns both one-sided p-values, so a caller can ask "is it above
``c``?" and "is it below ``c``?" of the same data.

* With spread (standard error above 0): Student's t (one sample or paired) or Welch's t (two samples), with an
  optional extra variance added to the squared standard error (test-set sampling, or the spread of a published
  single run). The 95% interval is the matching t-interval.
* Without spread (every seed scores the same, and no extra variance): a t statistic does not exist and an interval
  would have zero width. The exact randomisation test is used instead: sign flips of ``x - c`` (one sample or
  paired) or label shuffles of ``x - c`` against ``y`` (two samples), enumerated. Its smallest attainable one-sided
  p is ``2^-n`` or ``1 / C(n_a + n_b, n_a)`` and is returned, so a caller can say when n is too small to decide.
  No interval is returned (``low = high = None``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import distributions as _dist

from scrutiny.stats._validate import as_sample


@dataclass(frozen=True)
class LocationTest:
    """The estimate, its standard error and the two one-sided p-values against ``null``.

    Attributes:
        estimate: ``mean(x)``, ``mean(x - y)`` (paired) or ``mean(x) - mean(y)``.
        null: the number tested against.
        p_above: p-value for "the location is above ``null``".
        p_below: p-value for "the location is below ``null``".
        se: standard error (0 for the exact test).
        df: degrees of freedom (``inf`` for the exact test).
        low, high: two-sided interval at ``confidence`` (``None`` when there is no spread).
        min_p: smallest one-sided p the test can give at this n (0 for t-tests).
        test: a short description.
    """

    estimate: float
    null: float
    p_above: float
    p_below: float
    se: float
    df: float
    low: float | None
    high: float | None
    min_p: float
    test: str
    confidence: float = 0.95


def location_test(
    x: object,
    y: object | None = None,
    *,
    null: float = 0.0,
    paired: bool = False,
    extra_var: float = 0.0,
    extra_df: float = math.inf,
    seed_var_factor: float = 1.0,
    confidence: float = 0.95,
) -> LocationTest:
    """Test the location of ``x`` (shape ``(n,)``), of ``x - y`` (paired, same shape) or of ``mean(x) - mean(y)``.

    Args:
        x: scores ``(n_x,)``.
        y: scores ``(n_y,)`` or ``None`` for a one-sample test.
        null: the number the location is compared with.
        paired: pair ``x`` and ``y`` element by element.
        extra_var: variance added to the estimate's squared standard error (``>= 0``), e.g. test-set sampling.
        extra_df: degrees of freedom of ``extra_var``'s estimate; the total's come from Welch–Satterthwaite.
        seed_var_factor: multiplies the one-sample variance of the mean, keeping its ``n - 1`` degrees of freedom
            (``1 + n/k`` turns the interval of a mean into a prediction for the mean of k new runs).
        confidence: coverage of the returned interval.
    """
    fn = "location_test"
    xs = as_sample(x, fn, "x")
    if not math.isfinite(extra_var) or extra_var < 0:
        raise ValueError(f"{fn}: extra_var must be finite and >= 0, got {extra_var!r}")
    if y is None or paired:
        if y is not None:
            ys = as_sample(y, fn, "y")
            if ys.size != xs.size:
                raise ValueError(f"{fn}: paired samples need the same length, got {xs.size} and {ys.size}")
            xs = xs - ys
        kind = "paired" if paired else "one-sample"
        return _one_sample(xs, null, extra_var, extra_df, seed_var_factor, confidence, kind)
    return _two_sample(xs, as_sample(y, fn, "y"), null, extra_var, extra_df, confidence)


def _satterthwaite(parts: list[tuple[float, float]]) -> float:
    """Degrees of freedom of a sum of variance estimates ``[(variance, df), ...]`` (Welch–Satterthwaite)."""
    total = sum(v for v, _ in parts)
    denom = sum(v * v / df for v, df in parts if v > 0 and math.isfinite(df))
    return total * total / denom if denom > 0 else math.inf


def _spread(v: np.ndarray) -> float:
    """Sample variance of ``v``, taken as 0 where the values differ only by float rounding (e.g. 0.81 - 0.71)."""
    if v.size < 2 or np.ptp(v) <= 1e-12 * max(1.0, float(np.abs(v).max())):
        return 0.0
    return float(v.var(ddof=1))


def _t_result(est: float, null: float, se: float, df: float, conf: float, test: str) -> LocationTest:
    t = (est - null) / se
    half = float(_dist.t.ppf(0.5 + conf / 2, df)) * se
    return LocationTest(
        est, null, float(_dist.t.sf(t, df)), float(_dist.t.cdf(t, df)), se, df, est - half, est + half, 0.0, test, conf
    )


def _one_sample(
    d: np.ndarray, null: float, extra_var: float, extra_df: float, factor: float, conf: float, kind: str
) -> LocationTest:
    n = d.size
    est = float(d.mean())
    seed_var = _spread(d) / n * factor
    var = seed_var + extra_var
    if var > 0 and (n >= 2 or extra_var > 0):
        df = _satterthwaite([(seed_var, n - 1), (extra_var, extra_df)])
        name = "Student t of the mean" if kind == "one-sample" else "paired t over seeds"
        return _t_result(est, null, math.sqrt(var), df, conf, name + (" + test-set variance" if extra_var else ""))
    # No spread: exact sign-flip test of d - null (every pattern of n signs equally likely under symmetry).
    shifted = d - null
    signs = 1.0 - 2.0 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
    stats = signs @ shifted / n
    obs = float(shifted.mean())
    tol = 1e-12 * max(1.0, abs(obs))
    p_above = float(np.mean(stats >= obs - tol)) if obs > 0 else 1.0
    p_below = float(np.mean(stats <= obs + tol)) if obs < 0 else 1.0
    return LocationTest(est, null, p_above, p_below, 0.0, math.inf, None, None, 2.0**-n, "exact sign-flip test", conf)


def _two_sample(
    x: np.ndarray, y: np.ndarray, null: float, extra_var: float, extra_df: float, conf: float
) -> LocationTest:
    est = float(x.mean() - y.mean())
    va, vb = _spread(x) / x.size, _spread(y) / y.size
    if va + vb > 0 and x.size >= 2 and y.size >= 2:
        df = _satterthwaite([(va, x.size - 1), (vb, y.size - 1), (extra_var, extra_df)])
        var = va + vb + extra_var
        return _t_result(
            est, null, math.sqrt(var), float(df), conf, "Welch t" + (" + test-set variance" if extra_var else "")
        )
    if extra_var > 0:
        df = _satterthwaite([(extra_var, extra_df)])
        return _t_result(est, null, math.sqrt(va + vb + extra_var), df, conf, "t, test-set variance only")
    # No spread: exact permutation test of (x - null) against y, every split of the pooled values enumerated.
    from itertools import combinations

    pooled = np.concatenate([x - null, y])
    n, na = pooled.size, x.size
    total = math.comb(n, na)
    if total > 1 << 16:  # flat samples this large: every split is equivalent up to ties; cap the enumeration
        rng = np.random.default_rng(0)
        picks = np.argsort(rng.random((1 << 16, n)), axis=1)[:, :na]
    else:
        picks = np.array(list(combinations(range(n), na)))
    mask = np.zeros((len(picks), n), dtype=bool)
    np.put_along_axis(mask, picks, True, axis=1)
    sums = mask.astype(float) @ pooled
    stats = sums / na - (pooled.sum() - sums) / (n - na)
    obs = float((x - null).mean() - y.mean())
    tol = 1e-12 * max(1.0, abs(obs))
    p_above = float(np.mean(stats >= obs - tol)) if obs > 0 else 1.0
    p_below = float(np.mean(stats <= obs + tol)) if obs < 0 else 1.0
    return LocationTest(
        est, null, p_above, p_below, 0.0, math.inf, None, None, 1.0 / total, "exact permutation test", conf
    )
