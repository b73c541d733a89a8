"""``invariance_figure``: per-class eKLD against training class size, pooled over long-tail instances and seeds.

Zhou et al. (ICLR 2022) plot each class's eKLD against its training size; on long-tailed data the curve falls as
the class grows. This section reads the ``ekld`` probe table of every complete trial of each group of arms (a group
is one training method; its arms are long-tail instances) and pools the trials: for each distinct class size, a
trial contributes the mean eKLD of its classes of that size, and the figure shows the mean over trials with a
95 % Student-t interval over trials (log axes). The table gives, per group, the mean over trials of the Spearman
correlation, head and tail eKLD, with the same intervals: the interval over instances × seeds. A second table puts
each class size's accuracy (on the trials' evaluated split, where the probe measured it) next to its eKLD: eKLD says
something about learned invariance only for classes the classifier has learned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scrutiny.analysis.sections._base import Figure, ReportSection, Table, arm_names, probe_table
from scrutiny.registry import SECTIONS
from scrutiny.spec import trial_id
from scrutiny.stats import mean_ci

_FIELDS = ("spearman", "head", "tail", "mean", "acc_balanced")


@dataclass
class GroupCurve:
    """Pooled eKLD of one group of arms.

    Attributes:
        label: The group's name.
        arms: Its arms.
        sizes: Distinct training class sizes, ascending ``(S,)``.
        per_trial: Mean eKLD of each trial's classes of each size ``(n_trials, S)``; NaN where a trial lacks it.
        acc_per_trial: Mean accuracy of each trial's classes of each size ``(n_trials, S)``; NaN where not measured.
        fields: Per result field (``spearman``, ``head``, ``tail``, ``mean``), the per-trial values ``(n_trials,)``.
        trials: The distinct trial ids pooled, in order (a trial shared by two arms of the group counts once).
    """

    label: str
    arms: list[str]
    sizes: np.ndarray
    per_trial: np.ndarray
    fields: dict[str, np.ndarray]
    trials: list[str]
    acc_per_trial: np.ndarray

    def summary(self, values: np.ndarray) -> tuple[float | None, float | None, float | None]:
        """Mean and 95 % t-interval over trials of ``values`` ``(n,)``; NaNs dropped; no interval below 2 values."""
        values = values[np.isfinite(values)]
        if values.size == 0:
            return None, None, None
        if values.size < 2:
            return float(values[0]), None, None
        ci = mean_ci(values)
        return ci.estimate, ci.low, ci.high

    def curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean ``(S,)`` and interval bounds ``(S,)``, ``(S,)`` of eKLD at each class size (NaN bounds below 2)."""
        out = np.array([self.summary(self.per_trial[:, j]) for j in range(self.sizes.size)], dtype=float)
        return out[:, 0], out[:, 1], out[:, 2]


def _group_curve(result: Any, store: Any, label: str, arms: list[str], prefix: str) -> GroupCurve:
    rows_by_trial: list[dict[int, float]] = []
    acc_by_trial: list[dict[int, float]] = []
    fields: dict[str, list[float]] = {f: [] for f in _FIELDS}
    trials: list[str] = []
    for name in arms:
        arm = result.arms[name]
        for seed in arm.complete_seeds:
            tid = trial_id(arm.spec_hash, seed)
            if tid in trials:  # arms that resolve to the same spec (e.g. instances collapsed by a scale) share trials
                continue
            table = probe_table(store, tid, prefix, "classes", "invariance_figure")
            by_size: dict[int, list[float]] = {}
            acc_by_size: dict[int, list[float]] = {}
            for row in table["classes"]:
                if row["ekld"] is not None and row["train_size"] is not None:
                    by_size.setdefault(int(row["train_size"]), []).append(float(row["ekld"]))
                if row.get("acc") is not None and row["train_size"] is not None:
                    acc_by_size.setdefault(int(row["train_size"]), []).append(float(row["acc"]))
            rows_by_trial.append({s: float(np.mean(v)) for s, v in by_size.items()})
            acc_by_trial.append({s: float(np.mean(v)) for s, v in acc_by_size.items()})
            record = store.result(tid)
            for f in _FIELDS:
                value = record.get(f"{prefix}_{f}")
                fields[f].append(np.nan if value is None else float(value))
            trials.append(tid)
    sizes = np.array(sorted({s for r in rows_by_trial for s in r}), dtype=np.int64)
    per_trial = np.array([[r.get(int(s), np.nan) for s in sizes] for r in rows_by_trial], dtype=float)
    per_trial = per_trial.reshape(len(rows_by_trial), sizes.size)
    acc = np.array([[r.get(int(s), np.nan) for s in sizes] for r in acc_by_trial], dtype=float)
    acc = acc.reshape(len(acc_by_trial), sizes.size)
    values = {f: np.asarray(v, dtype=float) for f, v in fields.items()}
    return GroupCurve(label, arms, sizes, per_trial, values, trials, acc)


def _mean_or_none(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else None


def by_size_table(curves: list[GroupCurve]) -> Table | None:
    """Per group, the mean over trials of eKLD and of accuracy at each class size (largest first); None unmeasured."""
    if not any(np.isfinite(c.acc_per_trial).any() for c in curves):
        return None
    sizes = sorted({int(s) for c in curves for s in c.sizes}, reverse=True)
    rows: list[list[Any]] = []
    for c in curves:
        at = {int(s): j for j, s in enumerate(c.sizes)}
        for what, values in (("eKLD", c.per_trial), ("accuracy", c.acc_per_trial)):
            rows.append([c.label, what] + [_mean_or_none(values[:, at[s]]) if s in at else None for s in sizes])
    caption = (
        "Means over trials; a trial's value at a size is the mean over its classes of that size. Accuracy is on the "
        "trials' evaluated split (the transformed test images)."
    )
    return Table(["group", "mean", *[f"{s} images" for s in sizes]], rows, caption)


def plot_groups(curves: list[GroupCurve], ax: Any = None, *, title: str | None = None) -> Any:
    """Mean eKLD against class size per group, log–log, with 95 % intervals over trials; returns the axes."""
    if ax is None:
        from matplotlib.figure import Figure as MplFigure

        ax = MplFigure(figsize=(6.0, 4.2), layout="constrained").subplots()
    n = len(curves)
    for i, c in enumerate(curves):
        mean, low, high = c.curve()
        ok = np.isfinite(mean) & (mean > 0)
        shift = 1.06 ** (i - (n - 1) / 2)  # small horizontal offsets so that the intervals do not overlap
        x = c.sizes[ok] * shift
        lo = np.where(np.isfinite(low[ok]), low[ok], mean[ok])
        hi = np.where(np.isfinite(high[ok]), high[ok], mean[ok])
        err = np.vstack([mean[ok] - lo, hi - mean[ok]])
        err[0] = np.minimum(err[0], mean[ok] * 0.999)  # a bound at or below zero cannot be drawn on a log axis
        label = f"{c.label} ({len(c.trials)} trials)"
        ax.errorbar(x, mean[ok], yerr=err, fmt="o-", ms=4, lw=1.2, capsize=2, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training class size (images)")
    ax.set_ylabel("eKLD  KL(P(·|x) ‖ P(·|x′))")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


@SECTIONS.register("invariance_figure")
def invariance_figure(
    result: Any,
    store: Any,
    groups: dict[str, list[str]] | None = None,
    prefix: str = "ekld",
    figure: str = "ekld_by_class_size",
    title: str = "eKLD against training class size",
    note: str | None = None,
) -> ReportSection:
    """eKLD against class size per group of arms, pooled over the groups' trials, and a table of the pooled fields.

    Args:
        result: The claim's result.
        store: The trial store.
        groups: Group label -> arms pooled into it (e.g. one method's long-tail instances); default one group per
            arm, named by the arm.
        prefix: The ``ekld`` probe's prefix in the arms' specs.
        figure: The figure's file name (without ``.png``).
        title: The section heading.
        note: A paragraph shown before the figure.
    """
    groups = groups or {name: [name] for name in result.arms}
    arm_names(result, [a for arms in groups.values() for a in arms], "invariance_figure")
    curves = [_group_curve(result, store, label, list(arms), prefix) for label, arms in groups.items()]
    curves = [c for c in curves if c.trials]
    rows: list[list[Any]] = []
    data: dict[str, Any] = {}
    for c in curves:
        row: list[Any] = [c.label, len(c.trials)]
        entry: dict[str, Any] = {"arms": c.arms, "trials": c.trials, "sizes": c.sizes.tolist()}
        for f in _FIELDS:
            est, low, high = c.summary(c.fields[f])
            row += [est, None if low is None else f"[{low:.3g}, {high:.3g}]"]
            entry[f] = {"mean": est, "low": low, "high": high, "per_trial": c.fields[f].tolist()}
        curve_mean, curve_low, curve_high = c.curve()
        entry["curve"] = {"mean": curve_mean.tolist(), "low": curve_low.tolist(), "high": curve_high.tolist()}
        entry["accuracy_by_size"] = [_mean_or_none(c.acc_per_trial[:, j]) for j in range(c.sizes.size)]
        data[c.label] = entry
        rows.append(row)
    paragraphs = [note] if note else []
    paragraphs.append(
        "Each point: the mean over trials (long-tail instances × seeds) of a trial's mean eKLD over its classes of "
        "that training size, with a 95% Student-t interval over trials. The table pools the same trials; "
        "Spearman ρ is the rank correlation of class size and per-class eKLD within each trial (negative: smaller "
        "classes are less invariant)."
    )
    if not curves:
        paragraphs.append("No complete trial has an eKLD table yet.")
    columns = ["group", "trials"]
    for f in ("Spearman ρ", "head eKLD", "tail eKLD", "mean eKLD", "balanced accuracy"):
        columns += [f, "95% CI"]
    caption = "Pooled over long-tail instances and seeds; intervals are Student-t over trials."
    tables = [Table(columns, rows, caption)]
    sized = by_size_table(curves)
    if sized is not None:
        tables.append(sized)
    figures = [Figure(figure, lambda: plot_groups(curves), "Per-class eKLD against training class size (log axes).")]
    return ReportSection(
        title=title,
        paragraphs=paragraphs,
        tables=tables,
        figures=figures if curves else [],
        data=data,
    )
