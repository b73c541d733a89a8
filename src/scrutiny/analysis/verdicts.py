"""Verdicts on hypotheses, from per-seed scores. The decision rules, written once:

All intervals are two-sided 95%. ``d`` is a difference in the metric's better direction (``a - b`` when higher
is better, ``b - a`` when lower is better); its interval is Welch's t-interval.

* ``a > b + margin``: REPRODUCED when the interval of ``d`` lies above ``margin``; NOT REPRODUCED when it lies
  at or below ``margin``; otherwise INCONCLUSIVE.
* ``a ≈ reported ± tol``: REPRODUCED when the t-interval of ``a``'s mean lies inside ``reported ± tol``
  (equivalence, as two one-sided tests at 2.5% each); NOT REPRODUCED when it lies entirely outside;
  otherwise INCONCLUSIVE.
* ``a[m] > value`` (or ``<``), a literal bound: REPRODUCED when the t-interval of ``a``'s mean lies above (below)
  ``value``; NOT REPRODUCED when it lies entirely on the other side; otherwise INCONCLUSIVE.
* Two metrics of the same arm (``a[m1] > a[m2]``) are paired by seed: the interval is the t-interval of the mean
  per-seed difference, and the seeds needed are for one arm.
* ``|a - b| < delta``: REPRODUCED when the interval of ``a - b`` lies inside ``(-delta, delta)``; NOT REPRODUCED
  when it lies entirely outside; otherwise INCONCLUSIVE.

Fewer than two complete seeds in an arm is INCONCLUSIVE, except for a one-arm hypothesis (a bound or a match)
on a single trial that carries its own 95% interval for the metric (fields ``<metric>_low`` and ``<metric>_high``,
e.g. a bootstrap over the images that fixed published weights were evaluated on): that interval is used. Where
every seed of both arms scores the same, the interval is the point itself and the rule applies to it. An
INCONCLUSIVE verdict states the seeds per arm that would make the interval narrow enough if the estimate and
standard deviation stayed as observed: the smallest n for which the t-interval's half-width would be below the
distance between the estimate and the bound.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.stats import distributions as _dists

from scrutiny.analysis.scores import ArmScores
from scrutiny.spec.claim import Hypothesis
from scrutiny.stats import (
    hedges_g,
    mann_whitney,
    mean_ci,
    paired_t_test,
    permutation_test,
    welch_ci,
    welch_t_test,
)

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "REPRODUCED", "NOT REPRODUCED", "INCONCLUSIVE"
CONFIDENCE = 0.95
_t = _dists.t


@dataclass
class Verdict:
    """The verdict on one hypothesis with the numbers behind it.

    Attributes:
        estimate: ``d`` for two-arm hypotheses, the mean of ``a`` for ``matches_reported``.
        low, high: The 95% interval of ``estimate``.
        bound: The margin, tolerance band or delta the interval was compared with, as ``(low, high)``.
        seeds_needed: Seeds per arm that would resolve an INCONCLUSIVE verdict (``None`` otherwise).
    """

    hypothesis: str
    kind: str
    a: str
    b: str | None
    metric: str
    verdict: str
    reason: str
    estimate: float | None
    low: float | None
    high: float | None
    bound: tuple[float, float]
    test: str
    n_a: int
    n_b: int | None
    p_value: float | None = None
    seeds_needed: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pooled_sd(a: np.ndarray, b: np.ndarray | None = None) -> float:
    parts = [a] if b is None else [a, b]
    dof = sum(p.size - 1 for p in parts)
    return math.sqrt(sum(float(((p - p.mean()) ** 2).sum()) for p in parts) / dof) if dof > 0 else 0.0


def _needed(width: float, sd: float, two_arms: bool) -> int | None:
    """Seeds per arm for which the 95% t-interval's half-width drops below ``width``, sd staying as observed."""
    if width <= 0 or sd <= 0:
        return None
    k = 2.0 if two_arms else 1.0
    for n in range(2, 100_001):
        df = k * (n - 1)
        if float(_t.ppf(0.5 + CONFIDENCE / 2, df)) * sd * math.sqrt(k / n) < width:
            return n
    return None


def _decide(low: float, high: float, lo_bound: float, hi_bound: float, inside_is_success: bool) -> str:
    inside = lo_bound < low and high < hi_bound if inside_is_success else low > lo_bound
    outside = (high <= lo_bound or low >= hi_bound) if inside_is_success else high <= lo_bound
    return REPRODUCED if inside else NOT_REPRODUCED if outside else INCONCLUSIVE


def evaluate(h: Hypothesis, arms: dict[str, ArmScores], higher_is_better: bool = True, seed: int = 0) -> Verdict:
    """The verdict on ``h`` from the arms' scores (see the module docstring for the rules)."""
    a = arms[h.a]
    b = arms[h.b] if h.b else None
    metric = h.metric or a.metric
    metric_b = h.metric_b or metric
    higher_is_better = higher_is_better if h.higher_is_better is None else h.higher_is_better
    sa = a.values(metric)
    sb = b.values(metric_b) if b is not None else None
    base = {
        "hypothesis": h.text(),
        "kind": h.kind,
        "a": h.a,
        "b": h.b,
        "metric": metric if metric_b == metric or b is None else f"{metric} vs {metric_b}",
        "n_a": int(sa.size),
        "n_b": int(sb.size) if sb is not None else None,
    }
    short = [arm.name for arm, x in ((a, sa), (b, sb)) if arm is not None and x.size < 2]
    if short and h.kind in ("bound", "matches_reported") and _own_interval(a, metric) is not None:
        short = []  # one trial that carries its own interval (e.g. over the images it evaluated)
    if short:
        return Verdict(
            **base,
            verdict=INCONCLUSIVE,
            reason=f"fewer than 2 complete seeds in {', '.join(short)}",
            estimate=None,
            low=None,
            high=None,
            bound=(math.nan, math.nan),
            test="none",
            seeds_needed=2,
        )
    if h.kind == "matches_reported":
        return _matches_reported(h, a, metric, sa, base)
    if h.kind == "bound":
        return _bound(h, a, metric, sa, base)
    sign = 1.0 if higher_is_better or h.kind == "equivalent" else -1.0
    x, y = (sa, sb) if sign > 0 else (sb, sa)
    if h.paired:
        ci = _paired_ci(x, y)
        sd = float((x - y).std(ddof=1))
        details = {**_paired_details(x, y, seed), "mean_a": float(sa.mean()), "mean_b": float(sb.mean())}
    else:
        ci = welch_ci(x, y, CONFIDENCE)
        sd = _pooled_sd(sa, sb)
        details = {**_two_arm_details(x, y, seed), "mean_a": float(sa.mean()), "mean_b": float(sb.mean())}
    if h.kind == "greater":
        verdict = _decide(ci.low, ci.high, h.margin, math.inf, inside_is_success=False)
        if ci.se <= 0:
            p = None
        elif h.paired:
            p = paired_t_test(x - h.margin, y, "greater").pvalue
        else:
            p = welch_t_test(x - h.margin, y, "greater").pvalue
        width = abs(ci.estimate - h.margin)
        reason = {
            REPRODUCED: f"the 95% interval of the difference lies above {h.margin:g}",
            NOT_REPRODUCED: f"the 95% interval of the difference lies at or below {h.margin:g}",
            INCONCLUSIVE: f"the 95% interval of the difference contains {h.margin:g}",
        }[verdict]
        bound = (h.margin, math.inf)
    else:
        verdict = _decide(ci.low, ci.high, -h.delta, h.delta, inside_is_success=True)  # type: ignore[operator]
        p = None
        width = abs(h.delta - abs(ci.estimate))  # type: ignore[operator]
        reason = {
            REPRODUCED: f"the 95% interval of the difference lies inside ±{h.delta:g}",
            NOT_REPRODUCED: f"the 95% interval of the difference lies outside ±{h.delta:g}",
            INCONCLUSIVE: f"the 95% interval of the difference crosses ±{h.delta:g}",
        }[verdict]
        bound = (-h.delta, h.delta)  # type: ignore[operator]
    return Verdict(
        **base,
        verdict=verdict,
        reason=reason,
        estimate=ci.estimate,
        low=ci.low,
        high=ci.high,
        bound=bound,
        test=(
            f"paired t-interval over seeds ({CONFIDENCE:.0%}), df = {ci.df:.3g}"
            if h.paired
            else f"Welch t-interval ({CONFIDENCE:.0%}), df = {ci.df:.3g}"
        ),
        p_value=p,
        seeds_needed=_needed(width, sd, two_arms=not h.paired) if verdict == INCONCLUSIVE else None,
        details={**details, "sd_pooled": sd},
    )


@dataclass
class _DiffCI:
    estimate: float
    low: float
    high: float
    se: float
    df: float


def _paired_ci(x: np.ndarray, y: np.ndarray) -> _DiffCI:
    """t-interval of the mean per-seed difference ``x - y`` (the point itself when every difference is equal)."""
    d = x - y
    if d.std() == 0:
        m = float(d.mean())
        return _DiffCI(m, m, m, 0.0, math.inf)
    ci = mean_ci(d, CONFIDENCE)
    return _DiffCI(ci.estimate, ci.low, ci.high, ci.sem, float(ci.df))


def _paired_details(x: np.ndarray, y: np.ndarray, seed: int) -> dict[str, Any]:
    """Share of seeds where ``x`` beats ``y``, the sign-flip permutation p-value; x is the better side."""
    from scrutiny.stats import paired_permutation_test

    d = x - y
    out: dict[str, Any] = {"paired": True, "share_better": float((d > 0).mean())}
    out["permutation_p"] = paired_permutation_test(x, y, seed=seed).pvalue if d.std() > 0 else None
    return out


def _own_interval(arm: ArmScores, metric: str) -> tuple[float, float] | None:
    """The 95% interval a single trial reports for ``metric`` itself (fields ``<metric>_low`` and ``_high``)."""
    low, high = arm.others.get(f"{metric}_low"), arm.others.get(f"{metric}_high")
    if arm.n != 1 or low is None or high is None or low.size != 1 or high.size != 1:
        return None
    return float(low[0]), float(high[0])


_OWN = "one trial: its own 95% interval (from the probe, e.g. a bootstrap over the evaluated examples)"


def _interval_of_mean(arm: ArmScores, metric: str, scores: np.ndarray) -> tuple[float, float, float, str]:
    """``(low, high, sd, test)`` of the mean over seeds, or a single trial's own interval."""
    own = _own_interval(arm, metric) if scores.size == 1 else None
    if own is not None:
        return own[0], own[1], 0.0, _OWN
    sd = float(scores.std(ddof=1))
    if sd > 0:
        ci = mean_ci(scores, CONFIDENCE)
        return ci.low, ci.high, sd, f"t-interval of the mean ({CONFIDENCE:.0%}), df = {ci.df}"
    m = float(scores.mean())
    return m, m, sd, "all seeds equal: the interval is the point"


def _bound(h: Hypothesis, arm: ArmScores, metric: str, scores: np.ndarray, base: dict[str, Any]) -> Verdict:
    """``a > value`` or ``a < value``, literally: the t-interval of the mean against the number."""
    value = float(h.value)  # type: ignore[arg-type]
    m = float(scores.mean())
    low, high, sd, test = _interval_of_mean(arm, metric, scores)
    if h.op == ">":
        verdict = REPRODUCED if low > value else NOT_REPRODUCED if high <= value else INCONCLUSIVE
        where = {REPRODUCED: "above", NOT_REPRODUCED: "at or below", INCONCLUSIVE: "across"}[verdict]
        bound = (value, math.inf)
    else:
        verdict = REPRODUCED if high < value else NOT_REPRODUCED if low >= value else INCONCLUSIVE
        where = {REPRODUCED: "below", NOT_REPRODUCED: "at or above", INCONCLUSIVE: "across"}[verdict]
        bound = (-math.inf, value)
    return Verdict(
        **base,
        verdict=verdict,
        reason=f"the 95% interval of the mean lies {where} {value:g}",
        estimate=m,
        low=low,
        high=high,
        bound=bound,
        test=test,
        seeds_needed=_needed(abs(m - value), sd, two_arms=False) if verdict == INCONCLUSIVE else None,
        details={"sd": sd, "value": value},
    )


def _two_arm_details(x: np.ndarray, y: np.ndarray, seed: int) -> dict[str, Any]:
    from scrutiny.stats import probability_of_improvement_ci

    """P(A better than B) with its interval, rank and permutation p-values, effect size; x is the better side."""
    out: dict[str, Any] = {}
    poi = probability_of_improvement_ci(x, y, reps=5000, seed=seed)
    out["p_improvement"] = {"estimate": poi.estimate, "low": poi.low, "high": poi.high}
    out["mann_whitney_p"] = mann_whitney(x, y).pvalue
    out["permutation_p"] = permutation_test(x, y, seed=seed).pvalue
    both_flat = x.std() == 0 and y.std() == 0
    out["hedges_g"] = None if both_flat else hedges_g(x, y)
    return out


def _matches_reported(h: Hypothesis, a: ArmScores, metric: str, scores: np.ndarray, base: dict[str, Any]) -> Verdict:
    reported = (a.reported or {}) if h.value is None else {"value": h.value, "pm": None}
    r, tol = float(reported["value"]), float(h.tol)  # type: ignore[arg-type]
    low, high, sd, test = _interval_of_mean(a, metric, scores)
    m = float(scores.mean())
    verdict = _decide(low, high, r - tol, r + tol, inside_is_success=True)
    reason = {
        REPRODUCED: f"the 95% interval of the mean lies inside {r:g} ± {tol:g}",
        NOT_REPRODUCED: f"the 95% interval of the mean lies outside {r:g} ± {tol:g}",
        INCONCLUSIVE: f"the 95% interval of the mean crosses the edge of {r:g} ± {tol:g}",
    }[verdict]
    details = {
        "reported": r,
        "reported_pm": reported.get("pm"),
        "sd": sd,
        "gap": m - r,
        "gap_in_sd": (m - r) / sd if sd > 0 else None,
        "reported_in_interval": low <= r <= high,
    }
    return Verdict(
        **base,
        verdict=verdict,
        reason=reason,
        estimate=m,
        low=low,
        high=high,
        bound=(r - tol, r + tol),
        test=test,
        seeds_needed=_needed(abs(tol - abs(m - r)), sd, two_arms=False) if verdict == INCONCLUSIVE else None,
        details=details,
    )
