"""Plots of diagnostics results; each function takes the result dataclasses and optional matplotlib axes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from scrutiny.diagnostics.spp import SPPResult

SPP_PANELS = (
    ("avg_sq_mean", "Average channel squared mean"),
    ("avg_var", "Average channel variance"),
    ("res_avg_var", "Residual average channel variance"),
)


def plot_spp(
    results: Mapping[str, SPPResult] | SPPResult,
    axes: Sequence[Any] | None = None,
    *,
    yscale: str = "linear",
    mark_stage_ends: bool = True,
    title: str | None = None,
) -> np.ndarray:
    """Draw the paper's three SPP panels against depth (block index, from 1), one line per model.

    Args:
        results: ``{label: SPPResult}`` to overlay, or one result (no legend).
        axes: Three matplotlib axes; default: a new figure with a row of three panels (save it with
            ``axes[0].figure.savefig(path)``).
        yscale: Y scale of every panel (``"linear"`` or ``"log"``; log helps for unnormalised nets).
        mark_stage_ends: Black dots on the last block of each stage, as in the paper.
        title: Figure title (``suptitle``) when the figure is created here.

    Returns:
        The three axes, ``(3,)`` object array.
    """
    if isinstance(results, SPPResult):
        results = {"": results}
    if not results:
        raise ValueError("plot_spp needs at least one SPPResult")
    if axes is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(13, 3.8), layout="constrained")
        axes = fig.subplots(1, 3)
        if title:
            fig.suptitle(title)
    axes = np.asarray(axes, dtype=object).ravel()
    if axes.size != 3:
        raise ValueError(f"plot_spp needs 3 axes, got {axes.size}")
    for label, result in results.items():
        depth = np.arange(1, len(result) + 1)
        ends = result.stage_ends
        for ax, (attr, _) in zip(axes, SPP_PANELS, strict=True):
            y = getattr(result, attr)
            (line,) = ax.plot(depth, y, label=label or None, linewidth=1.5)
            if mark_stage_ends and len(ends):
                ax.plot(depth[ends], y[ends], "o", color="black", markersize=3.5, zorder=3)
    for ax, (_, name) in zip(axes, SPP_PANELS, strict=True):
        ax.set_xlabel("Depth (block)")
        ax.set_title(name, fontsize=10)
        ax.set_yscale(yscale)
        ax.grid(alpha=0.3)
    if any(label for label in results):
        axes[0].legend(fontsize=8)
    return axes
