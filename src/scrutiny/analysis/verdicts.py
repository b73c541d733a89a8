"""Verdicts on a claim's hypotheses, decided by the rules below, which every report prints.

1. **Literal.** A hypothesis means what it says: ``a > b + m`` is ``mean(a) > mean(b) + m``, ``a < b - m`` is
   ``mean(a) < mean(b) - m``, ``a[m1] > b[m2]`` compares the two named metrics, ``a > 0.5`` is a bound,
   ``a ≈ v ± t`` is ``|mean(a) - v| < t`` and ``|a - b| < d`` is ``|mean(a) - mean(b)| < d``. The claim's
   ``higher_is_better`` only says which way is "better" in prose and plots; it never flips a comparison.
2. **Two one-sided tests per hypothesis.** Each hypothesis gets a p-value for the statement (``p``) and one for its
   opposite (``p against``): one-sided Student t (one arm; paired over seeds for two metrics of one arm or with
   ``pairing: seed``) or Welch t (two arms); for ``≈`` and ``|a - b| < d``, two one-sided tests (TOST) for the
   statement and the smaller of the two outer tests, doubled, against it.
3. **Family-wise error.** The confirmatory hypotheses of a claim at a scale are one family. Their p-values are
   adjusted by Holm's step-down procedure (``multiplicity: holm``, the default; or ``bonferroni``; ``none`` leaves
   them raw and the report says so in red), separately for the statements and for their opposites.
   REPRODUCED: the adjusted ``p ≤ α`` (0.05 unless the claim says otherwise). NOT REPRODUCED: the adjusted
   ``p against ≤ α``. Otherwise INCONCLUSIVE. So the chance of any false REPRODUCED in the family is at most α,
   and likewise for NOT REPRODUCED. ``exploratory: true`` hypotheses are decided at α on their own and reported
   apart, outside the family.
4. **No zero-width intervals.** Where every seed scores the same, no t statistic exists: the exact sign-flip
   (one arm, paired) or permutation test (two arms) decides, and the verdict states its smallest attainable p; if
   that p cannot reach the family's level (e.g. 3 vs 3 seeds: 0.05 one-sided), the verdict is INCONCLUSIVE and
   says so. Where trials stored per-example outputs (``eval.save_outputs``), the accuracy's variance adds
   test-set sampling to seed-to-seed variance: ``var_i(mean over seeds of correct_i) / N`` over the N test
   examples (the difference of two arms on the same test set uses per-example differences), with two pseudo-
   examples right and two wrong added as in Agresti & Coull (1998), so 3 seeds at 100% on 100 images are not
   certain (variance sources: Bouthillier et al., MLSys 2021; test-set variance: Jordan, ICLR 2024).
5. **Possible range.** Intervals of accuracies, IoUs, error rates and fractions are cut to [0, 1] and those of
   correlations to [-1, 1] (differences: twice the range). The true value lies in the range, so the cut interval
   keeps its coverage.
6. **Failed seeds count.** Every verdict says how many of its seeds failed or diverged. ``failed_seeds`` decides
   what they count as: ``worst`` (the default for diverged trials: the worst value of the metric's range, since
   divergence is a result of the method), ``inconclusive`` (the default for crashes) or ``exclude``.
7. **A published number is often one run.** ``a ≈ reported ± t`` against a reported value from one run (``runs:
   1``, the default) compares that run with the distribution of our runs: the standard error is
   ``sd · sqrt(1/n + 1/k)`` for k published runs (a prediction interval for k = 1), not our mean's.
8. **Seeds needed** (for INCONCLUSIVE verdicts): seeds per arm for 80% power of the one-sided test at the
   observed effect and standard deviation, at the family's first Holm level ``α / m`` (noncentral t); for tied
   seeds, the seeds an exact test needs to reach that level at all.
9. **Test-set selection.** A hypothesis on a ``best_*`` field that the trials selected on the split they report
   carries a warning: the best epoch was chosen on the test set.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from scrutiny.analysis.metric_info import clip_interval, metric_range, worst_value
from scrutiny.analysis.scores import ArmScores
from scrutiny.spec.claim import Hypothesis
from scrutiny.stats import hedges_g, mann_whitney, permutation_test
from scrutiny.stats.location import LocationTest, location_test
from scrutiny.stats.multiplicity import adjust_pvalues, family_level
from scrutiny.stats.planning import seeds_for_exact_test, seeds_for_power

RULES_TEXT = (__doc__ or "").split("\n\n", 1)[1].strip()
REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "REPRODUCED", "NOT REPRODUCED", "INCONCLUSIVE"
CONFIDENCE = 0.95
_Z80 = 0.8416212335729143  # the standard normal's 80th percentile


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
    def of_claim(cls, claim: Any, seed: int = 0) -> Rules:
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
class Verdict:
    """The verdict on one hypothesis with the numbers behind it.

    Attributes:
        estimate: the difference for two-sided hypotheses (``a - b``, in the metric's units), the mean of ``a``
            for bounds and matches.
        low, high: its 95% interval, cut to the possible range (``None`` where every seed tied).
        bound: what the interval is compared with, as ``(low, high)``.
        p_value, p_adjusted: the statement's one-sided p, raw and adjusted for the family.
        p_against, p_against_adjusted: the same for the opposite statement.
        level: the α the adjusted p-values were compared with.
        min_p: the smallest p the test can give at this n (0 for t-tests).
        seeds_needed: seeds per arm for 80% power (INCONCLUSIVE only).
        seeds: ``{"a": n_planned, "failed": k, "diverged": k, ...}``, the count of seeds and what became of them.
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
    p_adjusted: float | None = None
    p_against: float | None = None
    p_against_adjusted: float | None = None
    level: float = 0.05
    multiplicity: str = "holm"
    family_size: int = 1
    exploratory: bool = False
    min_p: float = 0.0
    seeds_needed: int | None = None
    failures: str = ""
    warnings: list[str] = field(default_factory=list)
    decided_at: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    paired = b is not None and (h.paired or rules.pairing == "seed")
    if paired:
        common = sorted(set(sa.values) & set(sb.values))  # type: ignore[union-attr]
        x = np.array([sa.values[s] for s in common])
        y = np.array([sb.values[s] for s in common])  # type: ignore[union-attr]
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
        _two_sided(pr, h, x, y, paired, (extra, extra_df), rules)  # type: ignore[arg-type]
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
        value = float(h.value)  # type: ignore[arg-type]
        t = location_test(x, null=value, extra_var=extra, extra_df=extra_df, confidence=CONFIDENCE)
        pr.p_for, pr.p_against = (t.p_above, t.p_below) if h.op == ">" else (t.p_below, t.p_above)
        pr.bound = (value, math.inf) if h.op == ">" else (-math.inf, value)
        pr.effect = abs(t.estimate - value)
        pr.details["value"] = value
        _from(pr, t)
        if own is not None:
            pr.test = _OWN
        return
    reported = (a.reported or {}) if h.value is None else {"value": h.value, "pm": None}
    r, tol = float(reported["value"]), float(h.tol)  # type: ignore[arg-type]
    k = int(reported.get("runs") or 1) if h.value is None else None
    factor = 1.0
    if k is not None and x.size >= 2:
        factor = 1.0 + x.size / k  # the published value is k runs of a distribution like ours: s²(1/n + 1/k)
        pr.prediction_k = k
    kw = {"extra_var": extra, "extra_df": extra_df, "seed_var_factor": factor, "confidence": CONFIDENCE}
    lo, hi = location_test(x, null=r - tol, **kw), location_test(x, null=r + tol, **kw)
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
    if pr.low is not None:
        pr.details["reported_in_interval"] = pr.low <= r <= pr.high  # type: ignore[operator]


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
    y_arg = y
    if h.kind == "compare":
        kw = {"paired": paired, "extra_var": extra, "extra_df": extra_df, "confidence": CONFIDENCE}
        t = location_test(x, y_arg, null=h.margin, **kw)
        pr.p_for, pr.p_against = (t.p_above, t.p_below) if h.op == ">" else (t.p_below, t.p_above)
        pr.bound = (h.margin, math.inf) if h.op == ">" else (-math.inf, h.margin)
        pr.effect = abs(t.estimate - h.margin)
        _from(pr, t)
    else:
        d = float(h.delta)  # type: ignore[arg-type]
        kw = {"paired": paired, "extra_var": extra, "extra_df": extra_df, "confidence": CONFIDENCE}
        lo, hi = location_test(x, y_arg, null=-d, **kw), location_test(x, y_arg, null=d, **kw)
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


def evaluate_family(
    hypotheses: list[Hypothesis] | tuple[Hypothesis, ...],
    arms: dict[str, ArmScores],
    rules: Rules | None = None,
    *,
    level: float | None = None,
) -> list[Verdict]:
    """Verdicts on ``hypotheses`` as one family (exploratory ones apart), in the order given.

    ``level``: the α of this decision (default ``rules.alpha``; a sequential look passes the α it spends).
    """
    rules = rules or Rules()
    level = rules.alpha if level is None else level
    prepared = [_prepare(h, arms, rules) for h in hypotheses]
    family = [i for i, p in enumerate(prepared) if not p.h.exploratory and p.blocked is None]
    m = len(family)
    adj_for = dict(zip(family, adjust_pvalues([prepared[i].p_for for i in family], rules.multiplicity), strict=True))
    adj_against = dict(
        zip(family, adjust_pvalues([prepared[i].p_against for i in family], rules.multiplicity), strict=True)
    )
    out = []
    for i, p in enumerate(prepared):
        if p.h.exploratory:
            adj_for[i], adj_against[i] = p.p_for, p.p_against
        out.append(_verdict(p, adj_for.get(i), adj_against.get(i), level, m, rules))
    return out


def _verdict(p: _Prepared, pf: float | None, pa: float | None, level: float, m: int, rules: Rules) -> Verdict:
    method = "none" if p.h.exploratory else rules.multiplicity
    first_level = level if p.h.exploratory else family_level(level, max(m, 1), method)
    adj = "" if method == "none" else f", {method.capitalize()}-adjusted over {m}"
    if p.blocked:
        verdict, reason = INCONCLUSIVE, p.blocked
    elif pf is not None and pf <= level:
        verdict, reason = REPRODUCED, f"p = {_p(p.p_for)}{adj}: {_p(pf)} ≤ α = {level:.3g}"
    elif pa is not None and pa <= level:
        verdict, reason = NOT_REPRODUCED, f"against: p = {_p(p.p_against)}{adj}: {_p(pa)} ≤ α = {level:.3g}"
    elif p.min_p > first_level:
        verdict = INCONCLUSIVE
        reason = (
            f"{_ns(p)} seeds with tied scores cannot reach p ≤ {first_level:.3g} "
            f"(the {p.test_name}'s smallest p is {p.min_p:.3g})"
        )
    else:
        verdict = INCONCLUSIVE
        reason = f"p = {_p(p.p_for)}, against {_p(p.p_against)}{adj}: neither reaches α = {level:.3g}"
    needed = _seeds_needed(p, first_level) if verdict == INCONCLUSIVE and not p.blocked else None
    reason = f"{reason}; {p.failures}"
    return Verdict(
        **p.base,
        verdict=verdict,
        reason=reason,
        estimate=p.estimate,
        low=p.low,
        high=p.high,
        bound=p.bound,
        test=p.test,
        p_value=_num(p.p_for),
        p_adjusted=_num(pf),
        p_against=_num(p.p_against),
        p_against_adjusted=_num(pa),
        level=level,
        multiplicity=method,
        family_size=m,
        exploratory=p.h.exploratory,
        min_p=p.min_p,
        seeds_needed=needed,
        failures=p.failures,
        warnings=list(p.warnings),
        details={**p.details, "sd": p.sd, "design": p.design},
    )


def _seeds_needed(p: _Prepared, level: float) -> int | None:
    if p.sd <= 0:
        return seeds_for_exact_test(level, "two-sample" if p.design == "two-sample" else "one-sample")
    if p.prediction_k:  # the published runs' own spread does not shrink with our seeds
        floor = p.sd / math.sqrt(p.prediction_k) * (_z(level) + _Z80)
        if floor >= p.effect:
            p.details["seeds_needed_note"] = "more seeds cannot decide this: the published run's own spread dominates"
            return None
    return seeds_for_power(p.effect, p.sd, level, 0.8, p.design)


def _z(level: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(1 - level))


def _ns(p: _Prepared) -> str:
    n_a, n_b = p.base.get("n_a"), p.base.get("n_b")
    return f"{n_a} vs {n_b}" if n_b is not None and p.design == "two-sample" else f"{n_a}"


def _p(value: float | None) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3g}"


def _num(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def evaluate(
    h: Hypothesis, arms: dict[str, ArmScores], higher_is_better: bool = True, seed: int = 0, **rules
) -> Verdict:
    """The verdict on one hypothesis on its own (a family of one), by the rules of the module docstring."""
    metric = rules.pop("claim_metric", None) or arms[h.a].metric
    return evaluate_family(
        [h], arms, Rules(claim_metric=metric, higher_is_better=higher_is_better, seed=seed, **rules)
    )[0]
