"""Nearest neighbours between two sets of images: Hamming distance of 64-bit hashes, cosine of feature vectors.

Both searches run over blocks of queries against every reference at once (XOR and popcount of packed uint64, or
one matrix product), so 10,000 × 50,000 hashes take seconds rather than the hours of a per-pair loop. Each returns
the matches within a threshold (at most ``max_matches`` per query, the closest first) and every query's nearest
reference, whatever its distance, so that a threshold can be judged without searching again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scrutiny.audit.phash import popcount


@dataclass
class Matches:
    """What a search found.

    Attributes:
        query, ref: Indices of the matched pairs, int64 ``(n_pairs,)``, into the query and reference sets.
        distance: Their distances ``(n_pairs,)`` (Hamming bits, or cosine similarity for :func:`cosine_search`).
        nearest: Each query's nearest reference, int64 ``(n_query,)`` (-1 where there is none).
        nearest_distance: Its distance ``(n_query,)`` (65 bits, or NaN, where there is none).
        truncated: Queries that had more than ``max_matches`` matches (only the closest were kept).
    """

    query: np.ndarray
    ref: np.ndarray
    distance: np.ndarray
    nearest: np.ndarray
    nearest_distance: np.ndarray
    truncated: int = 0


def _mask(n: int, valid: np.ndarray | None) -> np.ndarray:
    return np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)


def hamming_search(
    query: np.ndarray,
    ref: np.ndarray,
    max_distance: int,
    *,
    query_valid: np.ndarray | None = None,
    ref_valid: np.ndarray | None = None,
    same_set: bool = False,
    max_matches: int = 10,
    block: int = 256,
) -> Matches:
    """Pairs of hashes at most ``max_distance`` bits apart.

    Args:
        query: uint64 hashes ``(m,)``.
        ref: uint64 hashes ``(n,)``.
        max_distance: Largest Hamming distance that counts as a match (0..64).
        query_valid, ref_valid: bool masks; an invalid hash matches nothing.
        same_set: ``query`` and ``ref`` are the same set: an image never matches itself and each pair is reported
            once (``query < ref``); ``nearest`` still looks at every other image.
        max_matches: Most matches kept per query, the closest first.
        block: Queries per block (memory is ``block × n`` bytes of distances).
    """
    query, ref = np.asarray(query, dtype=np.uint64), np.asarray(ref, dtype=np.uint64)
    qv, rv = _mask(len(query), query_valid), _mask(len(ref), ref_valid)
    nearest = np.full(len(query), -1, dtype=np.int64)
    nearest_d = np.full(len(query), 65, dtype=np.int64)
    qs, rs, ds = [], [], []
    truncated = 0
    far = np.uint8(255)
    for start in range(0, len(query), block):
        stop = min(start + block, len(query))
        d = popcount(query[start:stop, None] ^ ref[None, :])
        d[~qv[start:stop]] = far
        d[:, ~rv] = far
        if same_set:
            rows = np.arange(stop - start)
            d[rows, start + rows] = far
        if len(ref):
            arg = d.argmin(axis=1)
            best = d[np.arange(stop - start), arg]
            ok = best != far
            nearest[start:stop][ok] = arg[ok]
            nearest_d[start:stop][ok] = best[ok]
        hit = d <= max_distance
        if same_set:
            hit &= np.arange(len(ref))[None, :] > np.arange(start, stop)[:, None]
        qi, ri = np.nonzero(hit)
        if len(qi):
            q, r, dist, cut = _keep_closest(qi + start, ri, d[qi, ri].astype(np.int64), max_matches, ascending=True)
            qs.append(q)
            rs.append(r)
            ds.append(dist)
            truncated += cut
    return _matches(qs, rs, ds, nearest, nearest_d, truncated, np.int64)


def cosine_search(
    query: np.ndarray,
    ref: np.ndarray,
    min_cosine: float,
    *,
    query_valid: np.ndarray | None = None,
    ref_valid: np.ndarray | None = None,
    same_set: bool = False,
    max_matches: int = 10,
    block: int = 1024,
) -> Matches:
    """Pairs of feature vectors whose cosine similarity is at least ``min_cosine``.

    Args:
        query: Features ``(m, d)``.
        ref: Features ``(n, d)``.
        min_cosine: Smallest similarity that counts as a match.
        query_valid, ref_valid, same_set, max_matches, block: As in :func:`hamming_search`.
    """
    q, r = normalise(query), normalise(ref)
    qv, rv = _mask(len(q), query_valid), _mask(len(r), ref_valid)
    nearest = np.full(len(q), -1, dtype=np.int64)
    nearest_s = np.full(len(q), np.nan)
    qs, rs, ss = [], [], []
    truncated = 0
    for start in range(0, len(q), block):
        stop = min(start + block, len(q))
        s = q[start:stop] @ r.T
        s[~qv[start:stop]] = -np.inf
        s[:, ~rv] = -np.inf
        if same_set:
            rows = np.arange(stop - start)
            s[rows, start + rows] = -np.inf
        if len(r):
            arg = s.argmax(axis=1)
            best = s[np.arange(stop - start), arg]
            ok = np.isfinite(best)
            nearest[start:stop][ok] = arg[ok]
            nearest_s[start:stop][ok] = best[ok]
        hit = s >= min_cosine
        if same_set:
            hit &= np.arange(len(r))[None, :] > np.arange(start, stop)[:, None]
        qi, ri = np.nonzero(hit)
        if len(qi):
            a, b, sim, cut = _keep_closest(qi + start, ri, s[qi, ri].astype(np.float64), max_matches, ascending=False)
            qs.append(a)
            rs.append(b)
            ss.append(sim)
            truncated += cut
    return _matches(qs, rs, ss, nearest, nearest_s, truncated, np.float64)


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` ``(n, d)`` scaled to unit length (zero rows stay zero), float32."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def _keep_closest(q, r, d, k: int, ascending: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """At most ``k`` pairs per query, the closest first; also the number of queries that lost some."""
    order = np.lexsort((d if ascending else -d, q))
    q, r, d = q[order], r[order], d[order]
    first = np.r_[0, np.flatnonzero(np.diff(q)) + 1]
    rank = np.arange(len(q)) - np.repeat(first, np.diff(np.r_[first, len(q)]))
    keep = rank < k
    counts = np.diff(np.r_[first, len(q)])
    return q[keep], r[keep], d[keep], int((counts > k).sum())


def _matches(qs, rs, ds, nearest, nearest_d, truncated, dtype) -> Matches:
    cat = lambda parts, t: np.concatenate(parts).astype(t) if parts else np.zeros(0, dtype=t)  # noqa: E731
    return Matches(cat(qs, np.int64), cat(rs, np.int64), cat(ds, dtype), nearest, nearest_d, truncated)
