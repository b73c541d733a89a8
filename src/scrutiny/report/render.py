"""Write a claim's report: ``report.md``, ``report.html`` (one self-contained file), ``results.json`` and PNGs.

Rendering only: every number comes from :class:`scrutiny.analysis.check.ClaimResult`.
"""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader

from scrutiny._version import __version__
from scrutiny.analysis.check import ClaimResult
from scrutiny.store._atomic import json_safe, write_atomic, write_json


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if math.isnan(value):
            return "—"
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.3e}"
        return f"{value:.{digits}g}"
    return str(value)


def _environment(autoescape: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("scrutiny.report", "templates"),
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = fmt
    return env


def make_figures(result: ClaimResult, out: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from scrutiny.report.figures import plot_curves, plot_forest, plot_scores

    arms = list(result.arms.values())
    panels = score_panels(result)
    paths = {}
    drawings = [
        ("scores", lambda: _draw_score_panels(result, panels, plot_scores)),
        ("curves", lambda: plot_curves(arms)),
        ("forest", lambda: plot_forest(result.verdicts)),
    ]
    drawings += [(f.name, f.draw) for section in result.sections for f in section.figures]
    for name, draw in drawings:
        if name in paths:
            raise ValueError(f"two report figures are named '{name}'")
        drawn = draw()
        fig = drawn if hasattr(drawn, "savefig") else drawn.figure
        path = out / f"{name}.png"
        fig.savefig(path, dpi=150, bbox_inches="tight")
        plt.close(fig)
        paths[name] = path
    return paths


def score_panels(result: ClaimResult) -> dict[str, tuple[list[str], set[str]]]:
    """Metric -> (the arms tested on it, in order; the arms whose reported value is drawn in it).

    Only the hypotheses tested at the result's scale count. Arms that none of them names are shown on the claim's
    metric. Each metric gets its own panel, so an accuracy and a distance in pixels never share an axis, and a
    reported value is drawn only where a hypothesis at this scale compares the arm with it.
    """
    claim = result.claim
    panels: dict[str, tuple[list[str], set[str]]] = {}

    def add(metric: str, arm: str, reported: bool = False) -> None:
        names, rep = panels.setdefault(metric, ([], set()))
        if arm not in names:
            names.append(arm)
        if reported:
            rep.add(arm)

    for h in claim.hypotheses:
        if not h.applies(result.scale):
            continue
        metric = h.metric or claim.metric
        add(metric, h.a, reported=h.kind == "matches_reported" and h.value is None)
        if h.b is not None:
            add(h.metric_b or metric, h.b)
    named = {a for names, _ in panels.values() for a in names}
    for arm in result.arms:
        if arm not in named:
            add(claim.metric, arm)
    for names, _ in panels.values():
        names.sort(key=list(result.arms).index)
    return panels


def _draw_score_panels(result: ClaimResult, panels: dict[str, tuple[list[str], set[str]]], plot_scores) -> Any:
    import matplotlib.pyplot as plt

    from scrutiny.analysis.metric_info import clip_interval, metric_range
    from scrutiny.stats import mean_ci

    widest = max(len(names) for names, _ in panels.values())
    cols = 1 if widest > 3 else min(3, len(panels))  # narrow panels side by side, wide ones stacked
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(cols * max(3.4, 2.0 + 1.2 * widest), 3.9 * rows), dpi=150, squeeze=False
    )
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, (metric, (names, reported)) in zip(axes.flat, panels.items(), strict=False):
        arms = [result.arms[n] for n in names]
        values = {a.name: a.values(metric) if a.n else a.scores for a in arms}
        intervals = {}
        for a in arms:
            v = values[a.name]
            if v.size >= 2 and v.std() > 0:
                ci = mean_ci(v)
                intervals[a.name] = clip_interval(ci.low, ci.high, metric_range(metric, result.claim.ranges))
        plot_scores(arms, intervals, ax=ax, metric=metric, values=values, show_reported=reported)
    fig.tight_layout()
    return fig


def write_report(result: ClaimResult, out: str | Path) -> dict[str, Path]:
    """Write the report files into ``out`` (created) and return their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figures = make_figures(result, out)
    data = result.to_dict()
    context = {
        "r": data,
        "claim": result.claim,
        "verdicts": data["verdicts"],
        "arms": data["arms"],
        "costs": data["costs"],
        "rules": data["rules"]["text"],
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "version": __version__,
        "figures": {k: p.name for k, p in figures.items()},
        "sections": result.sections,
        "images": {k: base64.b64encode(p.read_bytes()).decode() for k, p in figures.items()},
    }
    md = _environment(False).get_template("report.md.j2").render(**context)
    html = _environment(True).get_template("report.html.j2").render(**context)
    write_atomic(out / "report.md", lambda fh: fh.write(md.encode()))
    write_atomic(out / "report.html", lambda fh: fh.write(html.encode()))
    write_json(out / "results.json", json_safe({**data, "generated": context["generated"], "scrutiny": __version__}))
    return {
        "report.md": out / "report.md",
        "report.html": out / "report.html",
        "results.json": out / "results.json",
        **{f"{k}.png": p for k, p in figures.items()},
    }
