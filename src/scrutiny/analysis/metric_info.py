"""What a metric's name says about it: the range its values can take and which end is better.

Used for two things only: keeping intervals inside the possible range, and scoring a diverged seed at the worst
end of the range. A claim's ``ranges`` overrides the inference; a metric whose name says nothing has no range, and
then a diverged seed cannot be scored "worst" (the verdict says so and is INCONCLUSIVE).
"""

from __future__ import annotations

import math
import re

_UNIT = ("acc", "accuracy", "iou", "frac", "fraction", "err", "error", "rate", "r2", "share")
_SIGNED_UNIT = ("rho", "spearman", "pearson", "corr", "correlation")
_NONNEGATIVE = ("loss", "dist", "distance", "mse", "rmse", "mae", "ekld", "kld", "nll", "seconds", "flops", "params")
_HIGHER = ("acc", "accuracy", "iou", "r2", "auc", "precision", "recall", "f1")
_LOWER = ("err", "error", "loss", "dist", "distance", "mse", "rmse", "mae", "ekld", "kld", "nll")


def _words(metric: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", metric.split("@")[0].lower()) if w]


def metric_range(metric: str, ranges: dict[str, tuple[float, float]] | None = None) -> tuple[float, float]:
    """``(low, high)`` of the values ``metric`` can take; ``(-inf, inf)`` where the name does not tell.

    A difference metric (``..._minus_...``) of a bounded quantity spans twice the range. A loss, distance,
    divergence, time or count is ``(0, inf)``.
    """
    if ranges and metric in ranges:
        low, high = ranges[metric]
        return float(low), float(high)
    words = _words(metric)
    last = words[-1] if words else ""
    if "minus" in words:
        base = metric_range(last)
        return (base[0] - base[1], base[1] - base[0]) if math.isfinite(base[0]) else base
    if last in _SIGNED_UNIT:
        return -1.0, 1.0
    if last in _UNIT or last in ("min", "max", "mean") and any(w in _UNIT for w in words[-3:-1]):
        return 0.0, 1.0
    if last in _NONNEGATIVE:
        return 0.0, math.inf
    return -math.inf, math.inf


def higher_is_better(metric: str, claim_metric: str, claim_higher: bool) -> bool | None:
    """Whether larger values of ``metric`` are better: the claim says so for its metric; else the name; else None."""
    if metric == claim_metric:
        return claim_higher
    words = _words(metric)
    if "minus" in words:
        return None
    for word in reversed(words):
        if word in _HIGHER:
            return True
        if word in _LOWER:
            return False
    return None


def worst_value(metric: str, claim_metric: str, claim_higher: bool, ranges=None) -> float | None:
    """The worst value ``metric`` can take (for a diverged seed), or None when the range or direction is unknown."""
    better = higher_is_better(metric, claim_metric, claim_higher)
    low, high = metric_range(metric, ranges)
    if better is None:
        return None
    worst = low if better else high
    return worst if math.isfinite(worst) else None


def clip_interval(
    low: float | None, high: float | None, span: tuple[float, float]
) -> tuple[float | None, float | None]:
    """An interval intersected with the possible range (coverage is unchanged: the true value lies in the range)."""
    if low is None or high is None:
        return low, high
    return max(low, span[0]), min(high, span[1])
