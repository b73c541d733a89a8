"""Figures of a claim report. Each function takes computed results and an optional matplotlib ``ax``.

Nothing here computes a statistic: intervals and verdicts come from :mod:`scrutiny.analysis`.

Text from a claim (arm labels, metric names, hypotheses) is drawn literally, never parsed as mathtext: every ``$``
in it is escaped (:func:`plain`), so a label such as ``cost $5-$10`` neither crashes a figure nor turns into math.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np

from scrutiny.analysis.display import CurveBand, ScorePanel
from scrutiny.analysis.scores import ArmScores
from scrutiny.analysis.verdicts import Verdict

_COLOURS = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
]


def plain(text: object) -> str:
    """``text`` as matplotlib draws it literally: ``$`` escaped, so mathtext never parses user text."""
    return str(text).replace("$", r"\$")


def _axes(ax, figsize):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, dpi=150)
    return fig, ax


def plot_scores(panel: ScorePanel, arms: dict[str, ArmScores] | Sequence[ArmScores], *, ax=None):
    """Every seed as a point, the mean as a bar with its interval, the reported value as a diamond.

    Args:
        panel: The metric's panel from :func:`scrutiny.analysis.display.score_panels` (values, means, intervals).
        arms: The arms by name (or a sequence of them), for labels and reported values.
    """
    by_name = arms if isinstance(arms, dict) else {a.name: a for a in arms}
    shown = [by_name[n] for n in panel.arms]
    fig, ax = _axes(ax, (2.0 + 1.2 * len(shown), 3.6))
    rng = np.random.default_rng(0)  # jitter only, for display
    for i, arm in enumerate(shown):
        colour = _COLOURS[i % len(_COLOURS)]
        scores = panel.values.get(arm.name, np.zeros(0))
        if scores.size:
            ax.scatter(
                i + rng.uniform(-0.12, 0.12, scores.size),
                scores,
                s=18,
                color=colour,
                alpha=0.8,
                zorder=3,
                label="seeds" if i == 0 else None,
            )
        if arm.name in panel.means:
            ax.hlines(
                panel.means[arm.name], i - 0.25, i + 0.25, color="black", lw=1.6, zorder=4,
                label="mean" if i == 0 else None,
            )  # fmt: skip
        if arm.name in panel.intervals:
            lo, hi = panel.intervals[arm.name]
            first = not any(a.name in panel.intervals for a in shown[:i])
            ax.vlines(i + 0.3, lo, hi, color="black", lw=1.2, zorder=4, label="95% interval" if first else None)
        if arm.reported and arm.name in panel.reported:
            pm = arm.reported.get("pm") or 0.0
            ax.errorbar(
                i - 0.3,
                arm.reported["value"],
                yerr=pm or None,
                fmt="D",
                color="#444444",
                ms=5,
                capsize=3,
                zorder=5,
                label=None if any(a.reported and a.name in panel.reported for a in shown[:i]) else "reported",
            )
    ax.set_xlim(-0.7, len(shown) - 0.3)
    _arm_ticks(ax, [a.label for a in shown])
    ax.set_ylabel(plain(panel.metric))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="best", framealpha=0.85)
    fig.tight_layout()
    return ax


def _arm_ticks(ax, labels: Sequence[str]) -> None:
    """Horizontal arm labels, each wrapped at spaces to the width of its slot on the axis so that neighbours never
    overlap. Text is measured as drawn; the font shrinks (down to 7 pt) until every word fits its slot, and only a
    word too long even then is broken."""
    from matplotlib.font_manager import FontProperties

    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    slot = ax.get_position().width * fig.get_figwidth() * fig.dpi / max(len(labels), 1) * 0.9  # pixels

    def width(text: str, size: float) -> float:
        return renderer.get_text_width_height_descent(text, FontProperties(size=size), ismath=False)[0]

    def wrap(text: str, size: float) -> str | None:
        lines: list[str] = []
        for word in text.split():
            if width(word, size) > slot:
                return None
            if lines and width(f"{lines[-1]} {word}", size) <= slot:
                lines[-1] = f"{lines[-1]} {word}"
            else:
                lines.append(word)
        return "\n".join(lines)

    size = 9.0
    while size > 7 and any(wrap(str(label), size) is None for label in labels):
        size -= 0.5
    chars = max(4, int(slot / max(width("n", size), 1.0)))  # at 7 pt: a word longer than its slot is broken
    wrapped = [wrap(str(label), size) or textwrap.fill(str(label), chars, break_long_words=True) for label in labels]
    ax.set_xticks(range(len(labels)), [plain(w) for w in wrapped], rotation=0, ha="center", fontsize=size)


def plot_score_panels(panels: Sequence[ScorePanel], arms: dict[str, ArmScores]):
    """The scores figure: one :func:`plot_scores` panel per metric; narrow panels side by side, wide ones stacked."""
    import matplotlib.pyplot as plt

    widest = max(len(p.arms) for p in panels)
    cols = 1 if widest > 3 else min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(cols * max(3.4, 2.0 + 1.2 * widest), 3.9 * rows), dpi=150, squeeze=False
    )
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        plot_scores(panel, arms, ax=ax)
    fig.tight_layout()
    return fig


def band_label(band: CurveBand) -> str:
    """An arm's legend entry: its label, the seeds drawn, and the planned seeds not drawn (diverged, failed, ...)."""
    missing = "; ".join(f"{k} {status}" for status, k in sorted(band.not_drawn.items()))
    return f"{band.label} (n={band.n}" + (f"; not drawn: {missing}" if missing else "") + ")"


def plot_curves(
    bands: Sequence[CurveBand],
    loss: Sequence[CurveBand] = (),
    *,
    ax=None,
    ylabel: str = "accuracy of the evaluated split",
    loss_label: str = "training loss (epoch average)",
):
    """Per-epoch curves, one colour per arm: the mean over seeds as a line, the range over seeds as a band.

    Args:
        bands: Each arm's accuracy of the evaluated split (:func:`scrutiny.analysis.display.curve_bands`).
        loss: Each arm's training loss, drawn in a second panel beside the first (same colours); none: one panel.
        ax: Draw the accuracy panel here (the loss panel is then left out).

    Epochs are whole numbers on the x axis. The legend names the seeds of each arm that are not drawn (diverged,
    failed), so a curve never hides a seed in silence.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    colours: dict[str, str] = {}  # one colour per arm in both panels
    for band in [*bands, *loss]:
        colours.setdefault(band.name, _COLOURS[len(colours) % len(_COLOURS)])
    rows = (len(bands) + 1) // 2
    panels = [(bands, ylabel)] + ([(loss, loss_label)] if loss and ax is None else [])
    if ax is None:
        fig, grid = plt.subplots(
            1, len(panels), figsize=(7.0 if len(panels) == 1 else 10.0, 3.0 + 0.22 * rows), dpi=150, squeeze=False
        )
        axes = list(grid[0])
    else:
        fig, axes = ax.figure, [ax]
    for a, (drawn, label) in zip(axes, panels, strict=False):
        for band in drawn:
            colour = colours[band.name]
            a.plot(band.epochs, band.mean, color=colour, lw=1.6, label=plain(band_label(band)), marker=".")
            a.fill_between(band.epochs, band.low, band.high, color=colour, alpha=0.18, lw=0)
        a.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        a.set_xlabel("epoch")
        a.set_ylabel(plain(label))
        a.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    if not handles:  # no curves (e.g. scores brought from a file): no legend
        fig.tight_layout()
        return axes[0]
    if len(axes) == 1:  # below: the plot keeps its width
        axes[0].legend(fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
        fig.tight_layout()
    else:
        fig.tight_layout(rect=(0, 0.06 + 0.045 * rows, 1, 1))
        fig.legend(handles, labels, fontsize=7, frameon=False, loc="lower center", ncol=2)
    return axes[0]


def plot_forest(verdicts: Sequence[Verdict], *, ax=None):
    """Each hypothesis's estimate with its 95% interval, against the bound it was tested on (shaded).

    Hypotheses may be in different units (an accuracy difference, a distance in pixels), so each gets its own row
    and x-axis. With ``ax`` given, all rows share that one axis.
    """
    import matplotlib.pyplot as plt

    rows = [v for v in verdicts if v.estimate is not None]
    if ax is None:
        fig, grid = plt.subplots(
            max(len(rows), 1), 1, figsize=(7.0, 0.4 + 0.8 * max(len(rows), 1)), dpi=150, squeeze=False
        )
        axes = [a[0] for a in grid]
    else:
        fig, axes = ax.figure, [ax] * max(len(rows), 1)
    colours = {"REPRODUCED": "#2ca02c", "NOT REPRODUCED": "#d62728", "INCONCLUSIVE": "#7f7f7f"}
    for i, v in enumerate(rows):
        a = axes[i]
        y = 0 if ax is None else len(rows) - 1 - i
        estimate = v.estimate
        assert estimate is not None  # rows holds only the verdicts with an estimate
        lo_b, hi_b = v.bound
        finite = [abs(b) for b in (lo_b, hi_b) if np.isfinite(b)]
        if v.low is None or v.high is None:  # tied seeds: no interval
            low, high = estimate, estimate
        else:
            low, high = v.low, v.high
        span = max(high - low, abs(estimate), *finite, 0.0) or 1.0  # all zero: a unit span, not 1e-9
        left = lo_b if np.isfinite(lo_b) else min(low, estimate) - span
        right = hi_b if np.isfinite(hi_b) else max(high, estimate) + span
        a.fill_betweenx([y - 0.3, y + 0.3], left, right, color="#2ca02c", alpha=0.12, lw=0)
        for edge in (lo_b, hi_b):
            if np.isfinite(edge):
                a.vlines(edge, y - 0.35, y + 0.35, color="#2ca02c", lw=1, ls="--")
        a.errorbar(
            estimate,
            y,
            xerr=[[estimate - low], [high - estimate]],
            fmt="o" if v.low is not None else "s",
            color=colours[v.verdict],
            capsize=4,
            ms=5,
        )
        a.set_xlim(min(left, low) - 0.1 * span, max(right, high) + 0.1 * span)
        a.ticklabel_format(axis="x", useOffset=False)
        if ax is None:
            title = plain(f"{v.hypothesis}  [{v.verdict}]")
            a.set_title(title, fontsize=7, loc="left", pad=2)  # full width for the axis
            a.set_yticks([])
            a.tick_params(axis="x", labelsize=7)
            a.set_ylim(-0.6, 0.6)
            a.grid(axis="x", alpha=0.3)
    if ax is not None:
        ax.set_yticks(range(len(rows)), [plain(f"{v.hypothesis}  [{v.verdict}]") for v in reversed(rows)], fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    axes[-1].set_xlabel("estimate with 95% interval (shaded: where the claim holds)", fontsize=8)
    fig.tight_layout()
    return axes[0]
