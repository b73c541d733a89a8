"""What a claim report shows beyond the verdicts, computed here so that :mod:`scrutiny.report` only renders.

:func:`score_panels` gives one panel per metric the claim tests at its scale (the arms on it, their per-seed values,
means and 95% intervals of the mean, clipped to the metric's range); :func:`curve_bands` gives each arm's
per-epoch accuracy (and training loss, where given) as the mean over seeds and the range over seeds, with the seeds
that are not drawn; :func:`compared_differences` the spec differences of the pairs of arms that the hypotheses
compare; :func:`cost_per_point` what a gain costs in device time and training FLOPs, or why it is not stated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from scrutiny.analysis.metric_info import clip_interval, metric_range
from scrutiny.analysis.scores import ArmScores

if TYPE_CHECKING:
    from scrutiny.analysis.check import ClaimResult
    from scrutiny.analysis.verdicts import Verdict
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
    """An arm's per-epoch values over its seeds: ``epochs``, ``mean``, ``low`` and ``high`` have shape ``(E,)``.

    Attributes:
        n: The seeds drawn (complete trials).
        not_drawn: Status -> how many of the arm's planned seeds are not drawn (``diverged``, ``failed``,
            ``missing``, ...); empty when every planned seed is drawn.
    """

    name: str
    label: str
    n: int
    epochs: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    not_drawn: dict[str, int] = field(default_factory=dict)


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
        drawn = {n for n in reported if arms[n].reported}  # a diamond only where there is a published value
        out.append(ScorePanel(metric, names, drawn, values, means, intervals))
    return out


def curve_bands(
    arms: Sequence[ArmScores], curves: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None
) -> list[CurveBand]:
    """Each arm's per-epoch values: mean and range over its complete seeds (NaN epochs ignored), and the planned
    seeds that are not drawn (diverged, failed, missing) by status.

    Args:
        arms: The arms, in the order drawn.
        curves: Arm name -> ``(epochs (E,), values (n_complete, E))`` to draw instead of the arms' accuracy curves
            (e.g. their training loss); an arm it lacks is left out. Default: each arm's ``curve_epochs`` and
            ``curves``.

    Arms without curves (scores brought from a file) are left out.
    """
    out = []
    for arm in arms:
        if curves is not None and arm.name not in curves:
            continue
        epochs, values = curves[arm.name] if curves is not None else (arm.curve_epochs, arm.curves)
        if values.size == 0:
            continue
        with np.errstate(all="ignore"):
            mean = np.nanmean(values, axis=0)
            low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
        out.append(CurveBand(arm.name, arm.label, arm.n, np.asarray(epochs), mean, low, high, seeds_not_drawn(arm)))
    return out


def seeds_not_drawn(arm: ArmScores) -> dict[str, int]:
    """Status -> count of the arm's planned seeds that have no complete trial (``diverged``, ``failed``, ...)."""
    out: dict[str, int] = {}
    for status in (getattr(arm, "seed_status", None) or {}).values():  # duck-typed arms may lack it
        if status != "complete":
            out[status] = out.get(status, 0) + 1
    return out


def has_reported(panels: Sequence[ScorePanel]) -> bool:
    """Whether the scores figure draws any published value (a diamond)."""
    return any(p.reported for p in panels)


def compared_pairs(claim: Claim, scale: str) -> list[tuple[str, str]]:
    """The pairs of different arms that the hypotheses tested at ``scale`` compare, in the claim's order, each once."""
    pairs: dict[frozenset[str], tuple[str, str]] = {}
    for h in claim.hypotheses:
        if h.applies(scale) and h.b is not None and h.b != h.a:
            pairs.setdefault(frozenset((h.a, h.b)), (h.a, h.b))
    return list(pairs.values())


@dataclass(frozen=True)
class PairDifferences:
    """The keys whose values differ between the resolved specs of two compared arms (empty: identical specs).

    Attributes:
        rows: ``(key, value in a, value in b)``; ``None`` where a spec lacks the key.
    """

    a: str
    b: str
    rows: list[tuple[str, Any, Any]]


def compared_differences(result: ClaimResult) -> list[PairDifferences]:
    """The spec differences of each pair of arms that a hypothesis compares (not every pair of arms), each pair
    oriented as the hypothesis names it. Empty when the scores came from a file (no specs)."""
    if not result.specs:
        return []
    out = []
    for a, b in compared_pairs(result.claim, result.scale):
        rows = []
        for d in result.differences:
            if (d["a"], d["b"]) == (a, b):
                rows.append((d["key"], d["value_a"], d["value_b"]))
            elif (d["a"], d["b"]) == (b, a):
                rows.append((d["key"], d["value_b"], d["value_a"]))
        out.append(PairDifferences(a, b, rows))
    return out


@dataclass(frozen=True)
class CostPerPoint:
    """What arm ``a`` costs over arm ``b`` per trial, per 0.01 of the metric gained; or why no cost is stated.

    Attributes:
        points: The gain in units of 0.01 of the metric.
        device_time: ``cost`` (``a`` took longer, beyond timing noise), ``noise`` (the difference is within timing
            noise), ``cheaper`` (``a`` took less), ``devices`` (the arms ran on different devices), or
            ``unrecorded``.
        seconds_a, seconds_b: Mean device seconds per trial of each arm (``None`` where unrecorded).
        device_seconds: Extra device seconds per trial per point; set only where ``device_time`` is ``cost``.
        flops: ``cost`` (``a`` needs more training FLOPs), ``equal``, ``cheaper`` or ``uncounted``.
        flops_a, flops_b: Training FLOPs per trial of each arm (``None`` where uncounted).
        train_flops: Extra training FLOPs per trial per point; set only where ``flops`` is ``cost``.
        devices: The device of each arm.
    """

    points: float
    device_time: str
    seconds_a: float | None
    seconds_b: float | None
    device_seconds: float | None
    flops: str
    flops_a: float | None
    flops_b: float | None
    train_flops: float | None
    devices: tuple[str | None, str | None] = (None, None)


NOISE_SE = 2.0  # a difference in mean device time within 2 standard errors (Welch) is timing noise ...
NOISE_FLOOR = 0.05  # ... and so is one within 5% of the larger mean (a machine varies more than a few seeds show)


def cost_per_point(result: ClaimResult, v: Verdict) -> CostPerPoint | None:
    """The cost of a gain, for a hypothesis that one arm beats another on the same metric and whose estimate says it
    does (``a > b ...`` with a positive difference, ``a < b ...`` with a negative one), where device time or FLOPs
    were measured; else ``None``.

    Device time is compared per trial: a difference of means within :data:`NOISE_SE` standard errors or within
    :data:`NOISE_FLOOR` of the larger mean is timing noise, and no cost is stated; arms on different devices are not
    compared. Training FLOPs per trial are compared exactly: equal FLOPs (the same model and steps) cost nothing
    extra. A negative difference is never a cost: ``a`` is cheaper.
    """
    if v.kind != "compare" or v.b is None or v.b == v.a or v.estimate is None:
        return None
    gain = v.estimate if np.isinf(v.bound[1]) else -v.estimate  # "a > b ...": higher is the gain; "a < b": lower
    if not gain > 0 or v.a not in result.arms or v.b not in result.arms or _metric_b(result, v) not in (None, v.metric):
        return None
    a, b = result.arms[v.a], result.arms[v.b]
    points = gain / 0.01
    device_time, seconds_a, seconds_b = _device_time(a, b)
    flops, flops_a, flops_b = _flops(a, b)
    if device_time == "unrecorded" and flops == "uncounted":  # scores from a file: nothing to compare
        return None
    return CostPerPoint(
        points,
        device_time,
        seconds_a,
        seconds_b,
        _per(seconds_a, seconds_b, points) if device_time == "cost" else None,
        flops,
        flops_a,
        flops_b,
        _per(flops_a, flops_b, points) if flops == "cost" else None,
        (a.device, b.device),
    )


def _per(a: float | None, b: float | None, points: float) -> float | None:
    return None if a is None or b is None else (a - b) / points


def _metric_b(result: ClaimResult, v: Verdict) -> str | None:
    """The metric of side b of the hypothesis behind ``v`` (``None``: the same as side a's)."""
    hyps = [h for h in result.claim.hypotheses if h.applies(result.scale)]
    if len(hyps) != len(result.verdicts):  # not the family these verdicts came from: one metric, as v says
        return None
    i = next((i for i, w in enumerate(result.verdicts) if w is v), None)
    return None if i is None else hyps[i].metric_b


def _device_time(a: ArmScores, b: ArmScores) -> tuple[str, float | None, float | None]:
    ta, tb = a.device_time_s[np.isfinite(a.device_time_s)], b.device_time_s[np.isfinite(b.device_time_s)]
    if not ta.size or not tb.size:
        return "unrecorded", None, None
    ma, mb = float(ta.mean()), float(tb.mean())
    if a.device and b.device and a.device != b.device:
        return "devices", ma, mb
    se = float(np.sqrt(ta.var(ddof=1) / ta.size + tb.var(ddof=1) / tb.size)) if ta.size > 1 and tb.size > 1 else 0.0
    if abs(ma - mb) <= max(NOISE_SE * se, NOISE_FLOOR * max(ma, mb)):
        return "noise", ma, mb
    return ("cost" if ma > mb else "cheaper"), ma, mb


def _flops(a: ArmScores, b: ArmScores) -> tuple[str, float | None, float | None]:
    if a.total_flops is None or b.total_flops is None or not a.n or not b.n:
        return "uncounted", None, None
    fa, fb = a.total_flops / a.n, b.total_flops / b.n
    if fa == fb:
        return "equal", fa, fb
    return ("cost" if fa > fb else "cheaper"), fa, fb
