"""Multiplicity: adjusted p-values for a family of hypotheses, so that the family-wise error rate stays at α.

* Holm (1979), "A simple sequentially rejective multiple test procedure", Scand. J. Statist. 6(2): sort the m
  p-values, multiply the k-th smallest by ``m - k + 1``, take the running maximum, cap at 1. Rejecting where the
  adjusted p is at most α controls the family-wise error rate at α under any dependence.
* Bonferroni: every p times m, capped at 1 (Holm is uniformly more powerful with the same guarantee).
* ``none``: the raw p-values (no control; reports print it in red).

These agree with ``statsmodels.stats.multitest.multipletests(p, method="holm" | "bonferroni")[1]``.
"""

from __future__ import annotations

import numpy as np

METHODS = ("holm", "bonferroni", "none")


def adjust_pvalues(pvalues: object, method: str = "holm") -> np.ndarray:
    """Adjusted p-values of shape ``(m,)`` for raw ``pvalues`` of shape ``(m,)``; NaN entries are left out of the
    family (they stay NaN and do not count in m).

    Args:
        pvalues: raw p-values in [0, 1], shape ``(m,)``.
        method: ``"holm"``, ``"bonferroni"`` or ``"none"``.
    """
    if method not in METHODS:
        raise ValueError(f"adjust_pvalues: method must be one of {METHODS}, got {method!r}")
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"adjust_pvalues: pvalues must have shape (m,), got {p.shape}")
    live = ~np.isnan(p)
    if np.any((p[live] < 0) | (p[live] > 1)):
        raise ValueError("adjust_pvalues: p-values must lie in [0, 1]")
    out = np.full_like(p, np.nan)
    q = p[live]
    m = q.size
    if m == 0 or method == "none":
        out[live] = q
        return out
    if method == "bonferroni":
        out[live] = np.minimum(q * m, 1.0)
        return out
    order = np.argsort(q, kind="stable")
    scaled = q[order] * (m - np.arange(m))
    adjusted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    back = np.empty(m)
    back[order] = adjusted
    out[live] = back
    return out


def family_level(alpha: float, m: int, method: str) -> float:
    """The smallest per-hypothesis level in a family of ``m`` (Holm's and Bonferroni's first step: ``α / m``).

    A test whose smallest attainable p exceeds this can never be rejected within the family.
    """
    if method == "none" or m <= 1:
        return alpha
    return alpha / m
