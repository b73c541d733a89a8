"""Expected best validation score over n hyperparameter trials (Dodge et al. 2019; Tang et al. 2020)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from scrutiny.stats._validate import as_sample


@dataclass(frozen=True, eq=False)  # array fields: compare them with numpy, not ==
class ExpectedMax:
    """Expected maximum of n draws from the observed scores, and its standard deviation.

    Attributes:
        n: number of trials, a scalar or an array ``(k,)`` for a curve.
        mean: ``E[max of n]``, same shape as ``n``.
        sd: the standard deviation of the max of n draws, same shape as ``n``.
        replace: True for draws with replacement (Dodge et al.), False without (Tang et al.'s unbiased variant).
    """

    n: int | np.ndarray
    mean: float | np.ndarray
    sd: float | np.ndarray
    replace: bool


def _weights(big_n: int, n: int, replace: bool) -> np.ndarray:
    """``P(max = v_(i))`` for ``i = 1..N`` over sorted values: shape ``(N,)``."""
    i = np.arange(1, big_n + 1, dtype=np.float64)
    if replace:
        return (i / big_n) ** n - ((i - 1) / big_n) ** n
    # C(i-1, n-1) / C(N, n), zero for i < n; computed in log space
    logc = special.gammaln(big_n + 1) - special.gammaln(n + 1) - special.gammaln(big_n - n + 1)
    w = np.zeros(big_n)
    ok = i >= n
    k = i[ok] - 1
    w[ok] = np.exp(special.gammaln(k + 1) - special.gammaln(n) - special.gammaln(k - n + 2) - logc)
    return w


def expected_max(values: object, n: int | object, replace: bool = True) -> ExpectedMax:
    """Expected maximum validation score over ``n`` trials drawn from the ``N`` observed scores.

    With replacement (Dodge et al. 2019, "Show Your Work"): ``P(max <= v_(i)) = (i/N)^n`` so
    ``E = Σ_i v_(i) [(i/N)^n - ((i-1)/N)^n]`` over sorted values; at n = 1 this is the mean. Without replacement
    (Tang et al. 2020, unbiased): ``P(max = v_(i)) = C(i-1, n-1) / C(N, n)``, for ``n <= N``; at n = N it is
    the maximum. ``sd = sqrt(Σ_i p_i (v_(i) - E)²)``.

    Args:
        values: observed validation scores of shape ``(N,)``.
        n: number of trials, an int >= 1 or an array of them ``(k,)`` for the curve.
        replace: draw with replacement (True) or without (False, requires ``n <= N``).
    """
    fn = "expected_max"
    v = np.sort(as_sample(values, fn, "values"))
    ns = np.asarray(n)
    if ns.ndim > 1 or ns.size == 0 or not np.issubdtype(ns.dtype, np.integer) or np.any(ns < 1):
        raise ValueError(f"{fn}: n must be an integer >= 1 or a 1-D array of them, got {n!r}")
    if not replace and np.any(ns > v.size):
        raise ValueError(f"{fn}: n must be <= len(values) = {v.size} without replacement, got max {int(ns.max())}")
    means, sds = [], []
    for k in np.atleast_1d(ns):
        p = _weights(v.size, int(k), replace)
        m = float(p @ v)
        means.append(m)
        sds.append(float(np.sqrt(max(float(p @ (v - m) ** 2), 0.0))))
    if ns.ndim == 0:
        return ExpectedMax(int(ns), means[0], sds[0], replace)
    return ExpectedMax(ns.copy(), np.array(means), np.array(sds), replace)
