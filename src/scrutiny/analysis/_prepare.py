"""How one hypothesis is tested before the family is decided: its sides after the failure policy, the variance
sources, and the two one-sided p-values (the rules are in :mod:`scrutiny.analysis.verdicts`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from scrutiny.analysis.metric_info import clip_interval, metric_range, worst_value
from scrutiny.analysis.scores import ArmScores
from scrutiny.spec.claim import Claim, Hypothesis
from scrutiny.stats import hedges_g, mann_whitney, permutation_test
from scrutiny.stats.location import LocationTest, location_test

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Rules:
    """What decides a family of verdicts (a claim's settings, or ``compare``'s)."""

    alpha: float = 0.05
    multiplicity: str = "holm"
    diverged: str = "worst"
    failed: str = "inconclusive"
    pairing: str = "none"
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    claim_metric: str = "final_test_acc"
    higher_is_better: bool = True
    seed: int = 0
    details: bool = True  # rank, permutation and bootstrap statistics beside the decision (slower; not deciding)

    @classmethod
    def of_claim(cls, claim: Claim, seed: int = 0) -> Rules:
        return cls(
            alpha=claim.alpha,
            multiplicity=claim.multiplicity,
            diverged=claim.failed_seeds.diverged,
            failed=claim.failed_seeds.failed,
            pairing=claim.pairing,
            ranges=dict(claim.ranges),
            claim_metric=claim.metric,
            higher_is_better=claim.higher_is_better,
            seed=seed,
        )


@dataclass
class _Side:
    values: dict[int, float]
    note: str
    blocked: str | None
    exact_rows: bool  # values are exactly the complete seeds' (so stored per-example outcomes line up)
    planned: int = 0


def _side(arm: ArmScores, metric: str, rules: Rules) -> _Side:
    """The per-seed values of ``metric`` in ``arm`` after the failure policy, and what it did."""
    values = dict(zip(arm.complete_seeds, arm.values(metric).tolist(), strict=True))
    planned = arm.seed_status or {s: "complete" for s in arm.complete_seeds}
    bad = {st: [s for s, x in planned.items() if x == st] for st in ("failed", "diverged")}
    missing = [s for s, x in planned.items() if x not in ("complete", "failed", "diverged")]
    parts, blocked, exact = [], None, True
    n = len(planned)
    for status, seeds in bad.items():
        if not seeds:
            continue
        policy = rules.failed if status == "failed" else rules.diverged
        if policy == "inconclusive":
            blocked = f"{len(seeds)} of {n} seeds of {arm.name} {status}, and failed_seeds.{status} is 'inconclusive'"
            parts.append(f"{len(seeds)} of {n} {status}")
        elif policy == "exclude":
            parts.append(f"{len(seeds)} of {n} {status} (excluded)")
        else:
            worst = worst_value(metric, rules.claim_metric, rules.higher_is_better, rules.ranges)
            if worst is None:
                blocked = (
                    f"{len(seeds)} of {n} seeds of {arm.name} {status} and cannot be scored 'worst': the range or "
                    f"direction of {metric} is unknown (declare it in the claim's ranges, or set failed_seeds)"
                )
                parts.append(f"{len(seeds)} of {n} {status}")
            else:
                values.update({s: worst for s in seeds})
                exact = False
                parts.append(f"{len(seeds)} of {n} {status} (scored {worst:g}, the worst value)")
    if missing:
        parts.append(f"{len(missing)} of {n} not run")
    note = f"{arm.name}: " + ", ".join(parts) if parts else ""
    return _Side(dict(sorted(values.items())), note, blocked, exact, n)


def _test_set_var(rows: list[np.ndarray], signs: list[float]) -> float:
    """Test-set sampling variance of a mean accuracy (or of a difference of two on the same test set).

    ``rows``: per arm, correctness ``(n_seeds, N)``; ``signs``: +1 / -1 per arm. Two pseudo-examples at +1 and two
    at -1 (one arm: two right, two wrong) keep the variance above 0 when every example agrees (Agresti–Coull).
    """
    per_example = sum(sign * r.mean(axis=0) for sign, r in zip(signs, rows, strict=True))
    pseudo = np.array([1.0, 1.0, -1.0, -1.0]) if len(rows) == 2 else np.array([1.0, 1.0, 0.0, 0.0])
    full = np.concatenate([per_example, pseudo])
    return float(full.var(ddof=1) / per_example.size)


@dataclass
class _Prepared:
    h: Hypothesis
    base: dict[str, Any]
    tests: dict[str, LocationTest] = field(default_factory=dict)
    p_for: float = math.nan
    p_against: float = math.nan
    estimate: float | None = None
    low: float | None = None
    high: float | None = None
    bound: tuple[float, float] = (math.nan, math.nan)
    sd: float = 0.0
    design: str = "two-sample"
    effect: float = 0.0
    blocked: str | None = None
    failures: str = ""
    warnings: list[str] = field(default_factory=list)
    min_p: float = 0.0
    test: str = "none"
    test_name: str = "none"
    prediction_k: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _prepare(h: Hypothesis, arms: dict[str, ArmScores], rules: Rules) -> _Prepared:
    a = arms[h.a]
    b = arms[h.b] if h.b else None
    metric = h.metric or rules.claim_metric
    metric_b = h.metric_b or metric
    base = {
        "hypothesis": h.text(),
        "kind": h.kind,
        "a": h.a,
        "b": h.b,
        "metric": metric if b is None or metric_b == metric else f"{metric} vs {metric_b}",
    }
    pr = _Prepared(h, base)
    sa = _side(a, metric, rules)
    sb = _side(b, metric_b, rules) if b is not None else None
    sides = [sa] if sb is None or h.paired else [sa, sb]
    notes = [side.note for side in sides if side.note]
    total = " + ".join(str(side.planned) for side in sides)
    pr.failures = "; ".join(notes) if notes else f"0 of {total} seeds failed or diverged"
    pr.blocked = sa.blocked or (sb.blocked if sb else None)
    for arm, m in ((a, metric), (b, metric_b)):
        if arm is not None and m in arm.selected_on_test:
            pr.warnings.append(
                f"{arm.name}[{m}] was selected on the test split (best epoch chosen on the reported data)"
            )
    paired = sb is not None and (h.paired or rules.pairing == "seed")
    y: np.ndarray | None
    if sb is not None and paired:
        common = sorted(set(sa.values) & set(sb.values))
        x = np.array([sa.values[s] for s in common])
        y = np.array([sb.values[s] for s in common])
    else:
        x = np.array(list(sa.values.values()))
        y = np.array(list(sb.values.values())) if sb is not None else None
    pr.base.update(n_a=int(x.size), n_b=int(y.size) if y is not None else None)
    if pr.blocked:
        return pr
    own = _own_interval(a, metric) if b is None and x.size == 1 else None
    short = [arm.name for arm, v in ((a, x), (b, y)) if arm is not None and v is not None and v.size < 2]
    if short and own is None:
        pr.blocked = f"fewer than 2 usable seeds in {', '.join(short)}"
        return pr
    extra, extra_df = 0.0, math.inf
    if own is None and a.outcomes is not None and metric == a.metric and sa.exact_rows:
        if b is None:
            extra, extra_df = _test_set_var([a.outcomes], [1.0]), a.outcomes.shape[1] - 1
        elif (
            not h.paired
            and b.outcomes is not None
            and metric_b == b.metric
            and sb is not None
            and sb.exact_rows
            and b.outcomes.shape[1] == a.outcomes.shape[1]
        ):
            extra, extra_df = _test_set_var([a.outcomes, b.outcomes], [1.0, -1.0]), a.outcomes.shape[1] - 1
    if extra:
        pr.details["test_set_variance"] = extra
    span = metric_range(metric, rules.ranges)
    if b is not None:
        span_b = metric_range(metric_b, rules.ranges)
        span = (span[0] - span_b[1], span[1] - span_b[0])
    if h.kind in ("compare", "equivalent"):
        if y is None:
            raise ValueError(f"hypothesis '{h.text()}': a '{h.kind}' hypothesis needs an arm b")
        _two_sided(pr, h, x, y, paired, (extra, extra_df), rules)
    else:
        _one_arm(pr, h, a, x, (extra, extra_df), own)
    pr.low, pr.high = clip_interval(pr.low, pr.high, span)
    return pr


def _one_arm(pr: _Prepared, h: Hypothesis, a: ArmScores, x: np.ndarray, extra_v: tuple[float, float], own) -> None:
    extra, extra_df = extra_v
    pr.design = "one-sample"
    pr.sd = float(x.std(ddof=1)) if x.size >= 2 else 0.0
    if own is not None:  # one trial with its own 95% interval (e.g. a bootstrap over the images it evaluated)
        extra = ((own[1] - own[0]) / (2 * 1.959963984540054)) ** 2
        pr.details["own_interval"] = list(own)
    if h.kind == "bound":
        value = _given(h, "value", h.value)
        t = location_test(x, null=value, extra_var=extra, extra_df=extra_df, confidence=CONFIDENCE)
        pr.p_for, pr.p_against = (t.p_above, t.p_below) if h.op == ">" else (t.p_below, t.p_above)
        pr.bound = (value, math.inf) if h.op == ">" else (-math.inf, value)
        pr.effect = abs(t.estimate - value)
        pr.details["value"] = value
        _from(pr, t)
        if own is not None:
            pr.test = _OWN
        return
    reported: dict[str, Any] = (a.reported or {}) if h.value is None else {"value": h.value, "pm": None}
    r, tol = float(reported["value"]), _given(h, "tol", h.tol)
    k = int(reported.get("runs") or 1) if h.value is None else None
    factor = 1.0
    if k is not None and x.size >= 2:
        factor = 1.0 + x.size / k  # the published value is k runs of a distribution like ours: s²(1/n + 1/k)
        pr.prediction_k = k
    test = partial(location_test, extra_var=extra, extra_df=extra_df, seed_var_factor=factor, confidence=CONFIDENCE)
    lo, hi = test(x, null=r - tol), test(x, null=r + tol)
    _tost(pr, lo, hi)
    pr.bound = (r - tol, r + tol)
    pr.details.update(
        reported=r,
        reported_pm=reported.get("pm"),
        reported_runs=k,
        sd=pr.sd,
        gap=lo.estimate - r,
        gap_in_sd=(lo.estimate - r) / pr.sd if pr.sd > 0 else None,
    )
    _from(pr, lo)
    if own is not None:
        pr.test = _OWN
    if pr.low is not None and pr.high is not None:
        pr.details["reported_in_interval"] = pr.low <= r <= pr.high


def _tost(pr: _Prepared, lo: LocationTest, hi: LocationTest) -> None:
    """Inside ``(lo.null, hi.null)`` by two one-sided tests; outside by the smaller outer test, doubled."""
    pr.p_for = max(lo.p_above, hi.p_below)
    pr.p_against = min(1.0, 2 * min(lo.p_below, hi.p_above))
    pr.effect = min(abs(lo.estimate - lo.null), abs(hi.null - hi.estimate))


def _two_sided(
    pr: _Prepared, h: Hypothesis, x: np.ndarray, y: np.ndarray, paired: bool, extra_v: tuple[float, float], rules
) -> None:
    extra, extra_df = extra_v
    pr.design = "paired" if paired else "two-sample"
    if paired:
        pr.sd = float((x - y).std(ddof=1)) if x.size >= 2 else 0.0
    else:
        dof = x.size + y.size - 2
        ss = float(((x - x.mean()) ** 2).sum() + ((y - y.mean()) ** 2).sum())
        pr.sd = math.sqrt(ss / dof) if dof > 0 else 0.0
    test = partial(location_test, paired=paired, extra_var=extra, extra_df=extra_df, confidence=CONFIDENCE)
    if h.kind == "compare":
        t = test(x, y, null=h.margin)
        pr.p_for, pr.p_against = (t.p_above, t.p_below) if h.op == ">" else (t.p_below, t.p_above)
        pr.bound = (h.margin, math.inf) if h.op == ">" else (-math.inf, h.margin)
        pr.effect = abs(t.estimate - h.margin)
        _from(pr, t)
    else:
        d = _given(h, "delta", h.delta)
        lo, hi = test(x, y, null=-d), test(x, y, null=d)
        _tost(pr, lo, hi)
        pr.bound = (-d, d)
        _from(pr, lo)
    pr.details.update(mean_a=float(x.mean()), mean_b=float(y.mean()), sd_pooled=pr.sd, paired=paired)
    if rules.details and not paired and x.size >= 2 and y.size >= 2:
        pr.details["mann_whitney_p"] = mann_whitney(x, y).pvalue
        pr.details["permutation_p"] = permutation_test(x, y, seed=rules.seed).pvalue
        pr.details["hedges_g"] = None if x.std() == 0 and y.std() == 0 else hedges_g(x, y)
        from scrutiny.stats import probability_of_improvement_ci

        poi = probability_of_improvement_ci(x, y, reps=2000, seed=rules.seed)
        pr.details["p_improvement"] = {"estimate": poi.estimate, "low": poi.low, "high": poi.high}


def _given(h: Hypothesis, key: str, value: float | None) -> float:
    """A field that ``h``'s kind requires (the claim's schema checks that it is there)."""
    if value is None:
        raise ValueError(f"hypothesis '{h.text()}': a '{h.kind}' hypothesis needs '{key}'")
    return float(value)


def _from(pr: _Prepared, t: LocationTest) -> None:
    pr.estimate, pr.low, pr.high, pr.min_p = t.estimate, t.low, t.high, t.min_p
    pr.test_name = t.test
    pr.test = t.test + ("" if t.low is None else f" ({t.confidence:.0%} interval, df = {t.df:.3g})")
    if pr.prediction_k:
        pr.test += f"; prediction for {pr.prediction_k} published run(s)"


_OWN = "one trial: its own 95% interval (e.g. a bootstrap over the evaluated examples), as a normal interval"


def _own_interval(arm: ArmScores, metric: str) -> tuple[float, float] | None:
    """The 95% interval a single trial reports for ``metric`` itself (fields ``<metric>_low`` and ``_high``)."""
    low, high = arm.others.get(f"{metric}_low"), arm.others.get(f"{metric}_high")
    if arm.n != 1 or low is None or high is None or low.size != 1 or high.size != 1 or not high[0] > low[0]:
        return None
    return float(low[0]), float(high[0])
