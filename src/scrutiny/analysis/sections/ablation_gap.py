"""``ablation_gap``: attribute the gap between two arms of a claim to the factors that separate them.

A claim that holds a base arm A, a target arm B and one arm per factor (A with that factor set to B's value, or B
with it left at A's value) can explain ``B - A`` without running anything else. The check workflow builds the
design of :mod:`scrutiny.ablation.designs` over the named factors from the arms' scores and computes each factor's
effect with a bootstrap interval over seeds (:func:`scrutiny.workflows.sections.attribute_gap`, which calls
:func:`scrutiny.ablation.attribute`): every effect is a per-seed contrast of arm scores, so only seeds that every
arm completed are used. This section receives that attribution, draws the waterfall from A to B
(:func:`scrutiny.ablation.plot_waterfall`) and, when the claim names the factors that a source says matter most
(``named``), compares each of them with every other factor, paired over seeds (t-intervals, the rule of the paired
hypotheses), and says whether the runs agree: the section's verdict.

Example (``cases/pnn/claim.yaml``)::

    - name: ablation_gap
      base: klachko
      target: authors
      factors: {optimizer: klachko_optimizer, level: klachko_level, lr: klachko_lr}
      named: [optimizer, level]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from scrutiny.analysis.sections._base import Figure, ReportSection, Table
from scrutiny.analysis.verdicts import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from scrutiny.errors import ScrutinyError
from scrutiny.registry import SECTIONS

if TYPE_CHECKING:
    from scrutiny.ablation.attribution import Attribution
    from scrutiny.analysis.check import ClaimResult
    from scrutiny.store import Store

DESIGNS = ("one-at-a-time", "leave-one-out")


def check_arguments(
    result: ClaimResult, base: str, target: str, factors: dict[str, str], design: str, named: list[str]
) -> None:
    """Fail in one line (``sections: ablation_gap: <argument>: ...``) on an unknown design, arm or named factor."""
    where = "sections: ablation_gap"
    if design not in DESIGNS:
        raise ScrutinyError(f"{where}: design: expected one of {', '.join(DESIGNS)}, got {design!r}")
    if not factors:
        raise ScrutinyError(f"{where}: factors: expected at least one factor: arm")
    for key, arm in [("base", base), ("target", target), *((f"factors.{f}", a) for f, a in factors.items())]:
        if arm not in result.arms:
            raise ScrutinyError(f"{where}: {key}: unknown arm '{arm}'; arms are {sorted(result.arms)}")
    arms = [base, target, *factors.values()]
    if len(set(arms)) != len(arms):
        raise ScrutinyError(f"{where}: factors: base, target and factor arms must be distinct arms, got {arms}")
    for f in named:
        if f not in factors:
            raise ScrutinyError(f"{where}: named: '{f}' is not a factor; factors are {sorted(factors)}")


def common_scores(result: ClaimResult, arms: list[str], metric: str) -> tuple[list[int], dict[str, np.ndarray]]:
    """Seeds that every arm in ``arms`` completed, and each arm's ``metric`` on them, ``(n_seeds,)``, in seed order."""
    seeds = sorted(set.intersection(*(set(result.arms[a].complete_seeds) for a in arms)))
    out = {}
    for a in arms:
        scores = result.arms[a]
        values = scores.values(metric)
        index = {s: i for i, s in enumerate(scores.complete_seeds)}
        out[a] = np.array([values[index[s]] for s in seeds], dtype=np.float64)
    return seeds, out


def per_seed_effects(
    design: str, base: np.ndarray, target: np.ndarray, factor_scores: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Each factor's effect per seed ``(n_seeds,)``: ``v({f}) - v(A)`` or ``v(B) - v(B - {f})``."""
    if design == "one-at-a-time":
        return {f: v - base for f, v in factor_scores.items()}
    return {f: target - v for f, v in factor_scores.items()}


def compare_named(
    effects: dict[str, np.ndarray], named: list[str], *, confidence: float = 0.95
) -> tuple[str, list[dict[str, Any]]]:
    """Whether each named factor's effect exceeds every other factor's, paired over seeds.

    Each comparison is the per-seed difference of two effects ``(n_seeds,)`` (a contrast of two factor arms), tested
    by the verdict engine's one-sample test (:func:`scrutiny.stats.location.location_test`: Student t, or the exact
    sign-flip test where every seed gives the same difference, so no zero-width interval decides). The statement
    holds (``REPRODUCED``) when every comparison's one-sided p for "above zero" is at most α = 1 − confidence (an
    intersection–union test, valid at α without adjustment: Berger 1982); it fails (``NOT REPRODUCED``) when some
    comparison's p for "below zero", Holm-adjusted over the comparisons, is at most α; otherwise ``INCONCLUSIVE``
    (always so with fewer than two seeds).

    Returns:
        The outcome and one row per (named, other) pair: ``named``, ``other``, ``difference``, ``low``, ``high``,
        ``p_above``, ``p_below``.
    """
    from scrutiny.stats.location import location_test
    from scrutiny.stats.multiplicity import adjust_pvalues

    alpha = 1 - confidence
    rows: list[dict[str, Any]] = []
    for n in named:
        for o in effects:
            if o in named:
                continue
            diff = effects[n] - effects[o]
            row = {"named": n, "other": o, "difference": float(diff.mean()), "low": None, "high": None}
            if diff.size >= 2:
                t = location_test(diff, confidence=confidence)
                row.update(low=t.low, high=t.high, p_above=t.p_above, p_below=t.p_below, test=t.test)
            rows.append(row)
    if not rows or any("p_above" not in r for r in rows):
        return INCONCLUSIVE, rows
    if min(adjust_pvalues([r["p_below"] for r in rows], "holm")) <= alpha:
        return NOT_REPRODUCED, rows
    if all(r["p_above"] <= alpha for r in rows):
        return REPRODUCED, rows
    return INCONCLUSIVE, rows


def _statement(outcome: str, named: list[str], ranking: list[str], effects: dict[str, float]) -> str:
    top = ranking[: len(named)]
    ranks = ", ".join(f"{n} ranks {ranking.index(n) + 1} of {len(ranking)} ({effects[n]:+.4f})" for n in named)
    head = f"Named as the largest by the source: {', '.join(named)}. By mean effect here, {ranks}; "
    head += f"the {len(top)} largest are {', '.join(top)}."
    tail = {
        REPRODUCED: " Every named factor's effect exceeds every other factor's (each one-sided p ≤ α).",
        NOT_REPRODUCED: " At least one other factor's effect exceeds a named one's (Holm-adjusted p ≤ α).",
        INCONCLUSIVE: " The paired tests do not separate every named factor from every other one.",
    }[outcome]
    return head + tail


@SECTIONS.register("ablation_gap")
def ablation_gap(
    result: ClaimResult,
    store: Store,
    base: str,
    target: str,
    factors: dict[str, str],
    design: str = "one-at-a-time",
    metric: str | None = None,
    named: list[str] | None = None,
    omitted: dict[str, str] | None = None,
    confidence: float = 0.95,
    reps: int = 10_000,
    seed: int = 0,
    title: str | None = None,
    attribution: Attribution | None = None,
) -> ReportSection:
    """Attribute ``target - base`` to ``factors`` (factor name -> its arm), with a waterfall and a table.

    Args:
        result: The claim's result (its arms' scores and resolved specs).
        store: The trial store (unused: the arms' scores are in ``result``).
        base: Arm A, the setup the gap starts from.
        target: Arm B, the setup it ends at.
        factors: Factor name -> the arm that switches it: A with the factor at B's value (``one-at-a-time``) or B
            with it at A's value (``leave-one-out``).
        design: ``one-at-a-time`` or ``leave-one-out``.
        metric: The score (default: the claim's metric); any numeric result field of every arm.
        named: Factors a source names as the largest; each is compared with every other factor.
        omitted: Differences that are not factors, with the reason (listed in the report).
        confidence: Coverage of the bootstrap intervals (and of the named comparisons).
        reps: Bootstrap replicates (used by the workflow that computes ``attribution``).
        seed: Seed of the bootstrap resampling (likewise).
        title: The heading (default names A and B).
        attribution: Computed by the workflow from the same arguments
            (:func:`scrutiny.workflows.sections.attribute_gap`). Without it (a claim scored from the store alone)
            the section says that the gap was not attributed.
    """
    named = list(named or [])
    check_arguments(result, base, target, factors, design, named)
    metric = metric or result.claim.metric
    if title is None:
        title = f"Where the gap from {base} to {target} comes from ({design})"
        title += f"; are {' and '.join(named)} the largest?" if named else ""
    names = list(factors)
    arms = [base, target, *factors.values()]
    seeds, scores = common_scores(result, arms, metric)
    omitted_rows = [[k, v] for k, v in (omitted or {}).items()]
    tables_omitted = [Table(["difference", "why it is not a factor"], omitted_rows)] if omitted_rows else []
    if not seeds or attribution is None:
        said = (
            f"No seed is complete in every one of the arms {', '.join(arms)}: nothing to attribute yet."
            if not seeds
            else "The gap was not attributed for this result (it was scored from the store alone); checking the "
            "claim attributes it."
        )
        return ReportSection(
            title=title,
            paragraphs=[said],
            tables=tables_omitted,
            data={"seeds": seeds, "design": design, "base": base, "target": target, "factors": factors},
        )
    reference = base if design == "one-at-a-time" else target
    paragraphs = [
        f"A = {base}, B = {target}, metric {metric}, {len(seeds)} seeds complete in every arm ({seeds}). Each effect "
        + (
            "is the factor's arm minus A: A with that one factor set to B's value"
            if design == "one-at-a-time"
            else "is B minus the factor's arm: B with that one factor left at A's value"
        )
        + f", per seed, with a {round(100 * confidence)}% percentile bootstrap interval over seeds. The "
        "interaction/residual bar is the gap minus the sum of the effects: what the factors do together beyond "
        "their separate effects (and any difference that is not a factor)."
    ]
    if len(seeds) < 5:
        paragraphs.append(
            f"With {len(seeds)} seeds the bootstrap intervals are rough (few distinct resamples); read them as a "
            "range of the seeds rather than a calibrated interval."
        )
    no_change = [e.name for e in attribution.effects if not e.keys]
    if no_change:
        paragraphs.append(f"The arms of {', '.join(no_change)} do not differ from {reference}: their effect is noise.")
    rows = _rows(attribution)
    tables = [
        Table(
            ["quantity", "keys", "estimate", "low", "high", "share of gap", "rank"],
            rows,
            caption=f"Effects on {metric}; share = effect / gap; rank by effect (largest gain first)",
        )
    ]
    data: dict[str, Any] = {
        "design": design,
        "base": base,
        "target": target,
        "factors": factors,
        "seeds": seeds,
        "attribution": attribution.to_dict(),
        "omitted": omitted or {},
    }
    verdict = None
    effects = {e.name: e.estimate for e in attribution.effects}
    ranking = sorted(names, key=lambda f: -effects[f])
    if named:
        per_seed = per_seed_effects(design, scores[base], scores[target], {f: scores[a] for f, a in factors.items()})
        verdict, comparisons = compare_named(per_seed, named, confidence=confidence)
        paragraphs.append(_statement(verdict, named, ranking, effects))
        tables.append(
            Table(
                ["named factor", "other factor", "difference of effects", "low", "high"],
                [[r["named"], r["other"], r["difference"], r["low"], r["high"]] for r in comparisons],
                caption=f"Each named factor's effect minus each other factor's, paired over seeds "
                f"({round(100 * confidence)}% t-interval; none where every seed gives the same difference)",
            )
        )
        data.update(named=named, named_verdict=verdict, comparisons=comparisons, ranking=ranking)
    tables += tables_omitted
    return ReportSection(
        title=title,
        paragraphs=paragraphs,
        tables=tables,
        figures=[
            Figure(
                f"ablation_gap_{base}_{target}",
                lambda: _draw(attribution, base, target),
                caption=f"From {base} (A) to {target} (B): each factor's effect, then the interaction/residual",
            )
        ],
        data=data,
        verdict=verdict,
    )


def _rows(att: Attribution) -> list[list[Any]]:
    gap = att.gap.estimate
    ranking = sorted(att.effects, key=lambda e: -e.estimate)
    rank = {e.name: i + 1 for i, e in enumerate(ranking)}
    rows: list[list[Any]] = [["A", "", att.a.estimate, att.a.low, att.a.high, None, None]]
    for e in att.effects:
        share = e.estimate / gap if gap else None
        rows.append([f"effect: {e.name}", ", ".join(e.keys), e.estimate, e.low, e.high, share, rank[e.name]])
    if att.residual is not None:
        r = att.residual
        rows.append([r.name, "", r.estimate, r.low, r.high, r.estimate / gap if gap else None, None])
    rows.append(["B", "", att.b.estimate, att.b.low, att.b.high, None, None])
    rows.append(["gap (B − A)", "", gap, att.gap.low, att.gap.high, 1.0 if gap else None, None])
    return rows


def _draw(att: Attribution, base: str, target: str) -> Any:
    import matplotlib.pyplot as plt

    from scrutiny.ablation.plot import plot_waterfall

    _, ax = plt.subplots(figsize=(1.1 * (len(att.contributions()) + 2) + 2.5, 4.2))
    plot_waterfall(att, ax, title=f"{base} → {target}: {att.design} effects on {att.metric} (n={len(att.seeds)})")
    labels = [t.get_text() for t in ax.get_xticklabels()]
    ax.set_xticks(
        range(len(labels)),
        [base if t == "A" else target if t == "B" else t for t in labels],
        rotation=30,
        ha="right",
    )
    return ax
