"""Plots of diagnostics results; each function takes the result dataclasses and optional matplotlib axes.

Figures are sized for print: the default row of three SPP panels is 7 inches wide (a two-column paper's text width)
with 8-point text; ``layout="column"`` stacks them 3.4 inches wide (one column). Fonts are set per element, never
through the global ``rcParams``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from scrutiny.diagnostics.spp import SPPResult

SPP_PANELS = (
    ("avg_sq_mean", "Avg. channel squared mean"),
    ("avg_var", "Avg. channel variance"),
    ("res_avg_var", "Residual avg. channel variance"),
)
FONT = 8
FIGSIZE = {"row": (7.0, 2.5), "column": (3.4, 6.2)}


def _shared_stage_ends(results: Sequence[SPPResult]) -> np.ndarray | None:
    """Stage ends (0-based block indices) when every result has the same stage layout, else ``None``."""
    first = results[0].stages
    if all(np.array_equal(r.stages, first) for r in results[1:]) and len(results[0]) > 0:
        return results[0].stage_ends
    return None


def plot_spp(
    results: Mapping[str, SPPResult] | SPPResult,
    axes: Sequence[Any] | None = None,
    *,
    yscale: str = "linear",
    mark_stage_ends: bool = True,
    title: str | None = None,
    layout: str = "row",
) -> np.ndarray:
    """Draw the paper's three SPP panels against depth (block index, from 1), one line per model.

    Stage ends are marked as in the paper, with a black dot on each curve at the last block of each stage; when all
    results share one stage layout, a dotted vertical line also separates the stages.

    Args:
        results: ``{label: SPPResult}`` to overlay, or one result (no legend).
        axes: Three matplotlib axes; default: a new figure (save it with ``axes[0].figure.savefig(path)``).
        yscale: Y scale of every panel (``"linear"`` or ``"log"``; log helps for unnormalised nets).
        mark_stage_ends: Mark the stage ends.
        title: Figure title (``suptitle``) when the figure is created here.
        layout: ``"row"`` (three panels side by side, 7 in wide) or ``"column"`` (stacked, 3.4 in wide) when the
            figure is created here.

    Returns:
        The three axes, ``(3,)`` object array.
    """
    if isinstance(results, SPPResult):
        results = {"": results}
    if not results:
        raise ValueError("plot_spp needs at least one SPPResult")
    own_figure = axes is None
    if own_figure:
        from matplotlib.figure import Figure

        if layout not in FIGSIZE:
            raise ValueError(f"layout must be 'row' or 'column', got '{layout}'")
        fig = Figure(figsize=FIGSIZE[layout], layout="constrained")
        axes = fig.subplots(*((1, 3) if layout == "row" else (3, 1)), sharex=layout == "column")
        if title:
            fig.suptitle(title, fontsize=FONT + 1)
    panels = np.asarray(axes, dtype=object).ravel()
    if panels.size != 3:
        raise ValueError(f"plot_spp needs 3 axes, got {panels.size}")
    handles = []
    for label, result in results.items():
        depth = np.arange(1, len(result) + 1)
        ends = result.stage_ends
        color = None
        for ax, (attr, _) in zip(panels, SPP_PANELS, strict=True):
            y = getattr(result, attr)
            (line,) = ax.plot(depth, y, label=label or None, linewidth=1.2, color=color)
            color = line.get_color()
            if mark_stage_ends and len(ends):
                ax.plot(depth[ends], y[ends], "o", color="black", markersize=2.5, zorder=3)
        handles.append(line)
    boundaries = _shared_stage_ends(list(results.values())) if mark_stage_ends else None
    for i, (ax, (_, name)) in enumerate(zip(panels, SPP_PANELS, strict=True)):
        if boundaries is not None:
            for b in boundaries[:-1]:
                ax.axvline(b + 1.5, color="0.6", linestyle=":", linewidth=0.8, zorder=0)
        if own_figure and layout == "column" and i < 2:
            ax.tick_params(labelbottom=False)
        else:
            ax.set_xlabel("Depth (residual block)", fontsize=FONT)
        ax.set_ylabel(name, fontsize=FONT)
        ax.set_yscale(yscale)
        ax.tick_params(which="both", labelsize=FONT - 1)  # log axes label minor ticks too
        ax.grid(alpha=0.3, linewidth=0.5)
        ax.margins(x=0.01)
    labelled = [h for h, label in zip(handles, results, strict=True) if label]
    if labelled and own_figure:
        from matplotlib.lines import Line2D

        extra = []
        if mark_stage_ends:
            extra = [Line2D([], [], marker="o", color="black", linestyle="none", markersize=3, label="end of stage")]
        panels[0].figure.legend(
            handles=labelled + extra,
            loc="outside lower center",
            ncol=min(len(labelled) + len(extra), 3),
            fontsize=FONT,
            frameon=False,
        )
    elif labelled:
        panels[0].legend(fontsize=FONT)
    return panels
