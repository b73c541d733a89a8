"""Ranks, tie groups and the exact null distributions of the rank statistics (Mann–Whitney U, signed rank)."""

from __future__ import annotations

import functools

import numpy as np


def average_ranks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks 1..n of ``x`` ``(n,)`` with ties given their average rank, and the sizes of the tie groups.

    Returns:
        ``(ranks (n,), group_sizes (n_groups,))``.
    """
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    sizes = np.diff(np.r_[starts, xs.size])
    avg = starts + (sizes + 1) / 2.0  # 1-based average rank of each group
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = np.repeat(avg, sizes)
    return ranks, sizes


@functools.lru_cache(maxsize=64)
def _u_counts(m: int, n: int) -> tuple[int, ...]:
    """Number of orderings with ``U = u`` for ``u = 0..m·n``: coefficients of the Gaussian binomial ``[m+n, m]_q``.

    Built as ``prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i)`` in exact integer arithmetic; after step ``i`` the
    polynomial is ``[n+i, i]_q``, so every intermediate coefficient is a non-negative integer.
    """
    poly = np.zeros(m * n + 1, dtype=object)
    poly[0] = 1
    for i in range(1, m + 1):
        a = n + i
        shifted = poly.copy()
        shifted[a:] = poly[: poly.size - a]
        shifted[:a] = 0
        poly = poly - shifted  # times (1 - q^a)
        for k in range(i, poly.size):  # divided by (1 - q^i): running sum with stride i
            poly[k] += poly[k - i]
    return tuple(int(c) for c in poly)


def u_sf(u: float, m: int, n: int) -> float:
    """Exact ``P(U >= u)`` under the null for samples of sizes ``m`` and ``n``; ``u`` is truncated to an integer."""
    counts = _u_counts(min(m, n), max(m, n))
    k = int(u)
    if k <= 0:
        return 1.0
    total = sum(counts)
    return float(sum(counts[k:])) / float(total) if k < len(counts) else 0.0


@functools.lru_cache(maxsize=64)
def signed_rank_pmf(n: int) -> np.ndarray:
    """Exact null pmf of the signed-rank sum ``T+`` for ``n`` non-zero differences, ``T+ = 0..n(n+1)/2``."""
    c = np.ones(1, dtype=np.float64)
    for k in range(1, n + 1):
        prev = c
        c = np.zeros(k * (k + 1) // 2 + 1, dtype=np.float64)
        c[: prev.size] = prev * 0.5
        c[-prev.size :] += prev * 0.5
    return c


def signed_rank_cdf(k: int, n: int) -> float:
    """Exact ``P(T+ <= k)`` for ``n`` non-zero differences."""
    pmf = signed_rank_pmf(n)
    if k < 0:
        return 0.0
    mean = n * (n + 1) / 4
    return float(pmf[: k + 1].sum()) if k <= mean else 1.0 - float(pmf[k + 1 :].sum())


def signed_rank_sf(k: int, n: int) -> float:
    """Exact ``P(T+ >= k)`` for ``n`` non-zero differences."""
    pmf = signed_rank_pmf(n)
    mean = n * (n + 1) / 4
    return float(pmf[max(k, 0) :].sum()) if k <= mean else 1.0 - float(pmf[:k].sum())
