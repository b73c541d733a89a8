"""What a claim report's standard figures draw, computed here so that :mod:`scrutiny.report` only renders.

:func:`score_panels` gives one panel per metric the claim tests at its scale (the arms on it, their per-seed values,
means and 95% intervals of the mean, clipped to the metric's range); :func:`curve_bands` gives each arm's
per-epoch accuracy as the mean over seeds and the range over seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from scrutiny.analysis.metric_info import clip_interval, metric_range
from scrutiny.analysis.scores import ArmScores

if TYPE_CHECKING:
    from scrutiny.spec.claim import Claim


@dataclass(frozen=True)
class ScorePanel:
    """One metric's panel of the scores figure.

    Attributes:
        metric: The metric drawn (the y axis).
        arms: The arms on it, in the claim's order.
        reported: The arms whose published value is in this metric (drawn as a diamond).
        values: Arm name -> per-seed values ``(n_complete,)``.
        means: Arm name -> mean over seeds (absent where the arm has no complete seed).
        intervals: Arm name -> (low, high) 95% t interval of the mean, clipped to the metric's range; absent where
            fewer than two seeds or no spread (a zero-width interval is not drawn).
    """

    metric: str
    arms: list[str]
    reported: set[str]
    values: dict[str, np.ndarray]
    means: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class CurveBand:
    """An arm's per-epoch accuracy over its seeds: ``epochs``, ``mean``, ``low`` and ``high`` have shape ``(E,)``."""

    name: str
    label: str
    n: int
    epochs: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray


def panel_arms(claim: Claim, scale: str, arm_names: Sequence[str]) -> dict[str, tuple[list[str], set[str]]]:
    """Metric -> (the arms tested on it, in order; the arms whose reported value is drawn in it).

    Only the hypotheses tested at ``scale`` count. Arms that none of them names are shown on the claim's metric.
    Each metric gets its own panel, so an accuracy and a distance in pixels never share an axis, and a reported
    value is drawn only where a hypothesis at this scale compares the arm with it.
    """
    panels: dict[str, tuple[list[str], set[str]]] = {}

    def add(metric: str, arm: str, reported: bool = False) -> None:
        names, rep = panels.setdefault(metric, ([], set()))
        if arm not in names:
            names.append(arm)
        if reported:
            rep.add(arm)

    for h in claim.hypotheses:
        if not h.applies(scale):
            continue
        metric = h.metric or claim.metric
        add(metric, h.a, reported=h.kind == "matches_reported" and h.value is None)
        if h.b is not None:
            add(h.metric_b or metric, h.b)
    named = {a for names, _ in panels.values() for a in names}
    for arm in arm_names:
        if arm not in named:
            add(claim.metric, arm)
    order = list(arm_names)
    for names, _ in panels.values():
        names.sort(key=order.index)
    return panels


def score_panels(claim: Claim, scale: str, arms: dict[str, ArmScores]) -> list[ScorePanel]:
    """One :class:`ScorePanel` per metric of :func:`panel_arms`, with each arm's values, mean and interval."""
    from scrutiny.stats import mean_ci

    out = []
    for metric, (names, reported) in panel_arms(claim, scale, list(arms)).items():
        values = {n: arms[n].values(metric) if arms[n].n else arms[n].scores for n in names}
        means = {n: float(v.mean()) for n, v in values.items() if v.size}
        intervals = {}
        for n, v in values.items():
            if v.size >= 2 and v.std() > 0:
                ci = mean_ci(v)
                low, high = clip_interval(ci.low, ci.high, metric_range(metric, claim.ranges))
                if low is not None and high is not None:
                    intervals[n] = (low, high)
        out.append(ScorePanel(metric, names, reported, values, means, intervals))
    return out


def curve_bands(arms: Sequence[ArmScores]) -> list[CurveBand]:
    """Each arm's per-epoch accuracy: mean and range over its complete seeds (NaN epochs ignored); arms without
    curves (scores brought from a file) are left out."""
    out = []
    for arm in arms:
        if arm.curves.size == 0:
            continue
        with np.errstate(all="ignore"):
            mean = np.nanmean(arm.curves, axis=0)
            low, high = np.nanmin(arm.curves, axis=0), np.nanmax(arm.curves, axis=0)
        out.append(CurveBand(arm.name, arm.label, arm.n, np.asarray(arm.curve_epochs), mean, low, high))
    return out
