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

from scrutiny.analysis._prepare import CONFIDENCE, Rules, _prepare, _Prepared
from scrutiny.analysis.scores import ArmScores
from scrutiny.spec.claim import Hypothesis
from scrutiny.stats.multiplicity import adjust_pvalues, family_level
from scrutiny.stats.planning import seeds_for_exact_test, seeds_for_power

RULES_TEXT = (__doc__ or "").split("\n\n", 1)[1].strip()
REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "REPRODUCED", "NOT REPRODUCED", "INCONCLUSIVE"
__all__ = [
    "CONFIDENCE",
    "INCONCLUSIVE",
    "NOT_REPRODUCED",
    "REPRODUCED",
    "RULES_TEXT",
    "Rules",
    "Verdict",
    "evaluate",
    "evaluate_family",
]
_Z80 = 0.8416212335729143  # the standard normal's 80th percentile


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
