"""Render an attribution: a waterfall of the contributions from A's score to B's, and a Markdown table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrutiny.ablation.attribution import Attribution, Estimate

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def plot_waterfall(result: Attribution, ax: Axes | None = None, *, title: str | None = None) -> Axes:
    """Waterfall from A's mean score through each contribution to B's, with bootstrap intervals as error bars.

    The contributions are :meth:`Attribution.contributions`: Shapley values where the design gives them (they sum to
    the gap), else the design's effects plus the interaction/residual bar.

    Args:
        result: The attribution to draw.
        ax: Axes to draw into; a new figure is made if ``None``.
        title: Title; default names the design and the metric.

    Returns:
        The axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(1.2 * (len(result.contributions()) + 2) + 2, 4))
    bars = result.contributions()
    labels = ["A", *[c.name for c in bars], "B"]
    level = result.a.estimate
    ax.bar(0, level, color="0.6")
    _errorbar(ax, 0, result.a, level)
    for i, c in enumerate(bars, start=1):
        colour = "tab:green" if c.estimate >= 0 else "tab:red"
        ax.bar(i, c.estimate, bottom=level, color=colour)
        _errorbar(ax, i, c, level + c.estimate)
        ax.plot([i - 1.4, i + 0.4], [level, level], color="0.3", lw=0.6, ls=":")
        level += c.estimate
    end = len(bars) + 1
    ax.bar(end, result.b.estimate, color="0.35")
    _errorbar(ax, end, result.b, result.b.estimate)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_ylabel(result.metric)
    lows = [result.a.estimate, result.b.estimate]
    running = result.a.estimate
    for c in bars:
        running += c.estimate
        lows.append(running)
    spread = max(lows) - min(lows) or abs(max(lows)) * 0.1 or 1.0
    bottom = min(lows) - 0.6 * spread
    ax.set_ylim(max(bottom, 0.0) if min(lows) >= 0 else bottom, max(lows) + 0.6 * spread)
    kind = "sampled " if not result.exact else ""
    ax.set_title(title or f"{result.design}: {kind}contributions to {result.metric} (n={len(result.seeds)} seeds)")
    return ax


def _errorbar(ax: Axes, x: float, est: Estimate, top: float) -> None:
    if est.low is None or est.high is None:
        return
    ax.errorbar(x, top, yerr=[[est.estimate - est.low], [est.high - est.estimate]], color="k", capsize=3, lw=1)


def markdown_table(result: Attribution) -> str:
    """The attribution as a Markdown table: A, each effect (and Shapley value), residual, interactions, B, gap."""
    pct = f"{round(100 * result.confidence)}%"
    rows = [f"| quantity | keys | estimate | {pct} interval |", "|---|---|---|---|"]

    def row(label: str, e: Estimate) -> None:
        ci = "—" if e.low is None else f"[{e.low:.4g}, {e.high:.4g}]"
        rows.append(f"| {label} | {', '.join(e.keys)} | {e.estimate:+.4g} | {ci} |")

    row("A", result.a)
    for e in result.effects:
        row(f"effect: {e.name}", e)
    if result.shapley and result.design != "shapley":
        for e in result.shapley:
            row(f"Shapley: {e.name}", e)
    if result.residual is not None:
        row(result.residual.name, result.residual)
    for e in result.interactions:
        row(f"interaction: {e.name}", e)
    row("B", result.b)
    row("gap (B − A)", result.gap)
    return "\n".join(rows) + "\n"
