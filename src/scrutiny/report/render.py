"""Write a claim's report: ``report.md``, ``report.html`` (one self-contained file), ``results.json`` and PNGs.

Rendering only: every number comes from :class:`scrutiny.analysis.check.ClaimResult`.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader
from markupsafe import Markup, escape

from scrutiny._version import __version__
from scrutiny.analysis.check import ClaimResult
from scrutiny.analysis.display import (
    CostPerPoint,
    CurveBand,
    PairDifferences,
    ScorePanel,
    compared_differences,
    cost_per_point,
    curve_bands,
    has_reported,
    score_panels,
    seeds_not_drawn,
)
from scrutiny.errors import ScrutinyError
from scrutiny.report.format import fmt, plural, spec_value
from scrutiny.store._atomic import json_safe, write_atomic, write_json


def holds(bound: Sequence[float | None]) -> str:
    """Where a hypothesis holds, as a condition on its estimate: ``> 0``, ``< 0.5``, ``between 0.99 and 1.01``."""
    low, high = (None if b is None or math.isinf(b) else b for b in bound)
    if low is None and high is None:
        return "anywhere"
    if high is None:
        return f"> {fmt(low)}"
    if low is None:
        return f"< {fmt(high)}"
    return f"between {fmt(low)} and {fmt(high)}"


def cost_text(cost: CostPerPoint | None, a: str, metric: str) -> str:
    """One sentence on what a gain costs (:func:`scrutiny.analysis.display.cost_per_point`); empty without one.

    A cost is stated only where there is one (device time beyond timing noise, more training FLOPs); otherwise the
    sentence says why none is stated. A negative cost is never printed as a cost.
    """
    if cost is None:
        return ""
    c = cost
    secs = f"{fmt(c.seconds_a, 3)} s vs {fmt(c.seconds_b, 3)} s per trial"
    time = {
        "cost": f"{fmt(c.device_seconds, 3)} extra device s per trial ({secs})",
        "noise": f"no device time beyond timing noise ({secs})",
        "cheaper": f"no extra device time ({a} took less: {secs})",
        "devices": f"device time not compared (the arms ran on different devices: {c.devices[0]}, {c.devices[1]})",
        "unrecorded": "device time not recorded",
    }[c.device_time]
    flops = f"{fmt(c.flops_a, 3)} vs {fmt(c.flops_b, 3)} per trial"
    compute = {
        "cost": f"{fmt(c.train_flops, 3)} extra training FLOPs per trial ({flops})",
        "equal": f"no extra training FLOPs (the same in both arms: {fmt(c.flops_a, 3)} per trial)",
        "cheaper": f"no extra training FLOPs ({a} needs fewer: {flops})",
        "uncounted": "training FLOPs not counted",
    }[c.flops]
    return f"Cost per 0.01 of {metric} gained (gained here: {fmt(c.points * 0.01)}): {time}; {compute}."


def inline_html(text: object) -> Markup:
    """Text with Markdown's inline code (``x`` or `x`) and **bold** as HTML, everything else escaped: what the Markdown
    report shows, the HTML report shows the same way."""
    body = str(escape(str(text)))
    body = re.sub(r"``(.+?)``|`([^`]+)`", lambda m: f"<code>{m.group(1) or m.group(2)}</code>", body)
    return Markup(re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", body))


def rules_html(text: str) -> Markup:
    """The decision rules (numbered paragraphs with ``code`` and **bold**) as an HTML list."""
    out: list[str] = []
    in_list = False
    for item in re.split(r"\n(?=\d+\. )", text.strip()):
        item = " ".join(re.sub(r"(\w)-\n\s*(\w)", r"\1-\2", item).split())  # "pseudo-\n examples": one word
        numbered = re.match(r"\d+\. ", item)
        body = inline_html(item[numbered.end() :] if numbered else item)
        if bool(numbered) != in_list:
            out.append("<ol>" if numbered else "</ol>")
            in_list = bool(numbered)
        out.append(f"<li>{body}</li>" if numbered else f"<p>{body}</p>")
    if in_list:
        out.append("</ol>")
    return Markup("\n".join(out))


def rules_md(text: str) -> str:
    """The decision rules for Markdown: a word hyphenated across a line break is joined again."""
    return re.sub(r"(\w)-\n\s*(\w)", r"\1-\2", text)


def _environment(autoescape: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("scrutiny.report", "templates"),
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = fmt
    env.filters["spec_value"] = spec_value
    env.filters["holds"] = holds
    env.filters["rules_html"] = rules_html
    env.filters["inline"] = inline_html
    env.filters["rules_md"] = rules_md
    env.globals["plural"] = plural
    env.globals["cost_text"] = cost_text
    return env


@dataclass
class ReportView:
    """What the report shows beyond :meth:`ClaimResult.to_dict`, as :mod:`scrutiny.analysis.display` computes it.

    Attributes:
        panels: The scores figure's panels.
        curves: Each arm's accuracy curve; ``loss``: each arm's training-loss curve (empty where not recorded).
        pairs: The spec differences of each pair of arms that a hypothesis compares.
        costs: Per verdict, what its gain costs (``None`` where the hypothesis states no gain of one arm over another).
        not_drawn: Arm label -> status -> how many of its planned seeds have no complete trial, so no point or curve.
    """

    panels: list[ScorePanel]
    curves: list[CurveBand]
    loss: list[CurveBand]
    pairs: list[PairDifferences]
    costs: list[CostPerPoint | None]
    not_drawn: dict[str, dict[str, int]]

    @classmethod
    def of(cls, result: ClaimResult) -> ReportView:
        arms = list(result.arms.values())
        return cls(
            score_panels(result.claim, result.scale, result.arms),
            curve_bands(arms),
            curve_bands(arms, {a.name: (a.loss_epochs, a.loss_curves) for a in arms if a.loss_curves.size}),
            compared_differences(result),
            [cost_per_point(result, v) for v in result.verdicts],
            {a.label: seeds_not_drawn(a) for a in arms if seeds_not_drawn(a)},
        )

    @property
    def has_reported(self) -> bool:
        """Whether the scores figure draws a published value (a diamond)."""
        return has_reported(self.panels)


def make_figures(result: ClaimResult, out: Path, view: ReportView | None = None) -> dict[str, Path]:
    """Draw the report's figures into ``out`` as PNGs: scores, curves (where there are any), forest, then each
    section's."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from scrutiny.report.figures import plot_curves, plot_forest, plot_score_panels

    shown = view or ReportView.of(result)
    paths = {}
    drawings = [
        ("scores", lambda: plot_score_panels(shown.panels, result.arms)),
        ("curves", lambda: plot_curves(shown.curves, shown.loss)),
        ("forest", lambda: plot_forest(result.verdicts)),
    ]
    if not shown.curves:  # scores brought from a file: no per-epoch curves, no empty figure
        drawings.pop(1)
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


class ReportFolderError(ScrutinyError):
    """The report folder is not empty and holds something other than an earlier report of the same claim and scale."""

    def __init__(self, folder: Path, holds: str) -> None:
        self.folder, self.holds = folder, holds
        super().__init__(self.with_flags({}))

    def with_flags(self, flags: Mapping[str, str]) -> str:
        """The message with ``out`` and ``force`` written as their command-line flags where ``flags`` has them."""
        out, force = flags.get("out", "out"), flags.get("force", "force=True")
        return f"{out}: {self.folder} {self.holds}; choose another folder, or pass {force} to write over it"


def check_report_folder(out: str | Path, claim_file: str | Path, scale: str, force: bool = False) -> None:
    """Refuse (:class:`ReportFolderError`) to write the report of ``claim_file`` at ``scale`` into a non-empty folder
    that does not hold an earlier report of the same claim file at the same scale, unless ``force``. A missing or
    empty folder is fine. :func:`write_report` calls it; a caller may call it before running any trial."""
    out = Path(out)
    if force or not out.is_dir():
        return
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    try:
        earlier = json.loads((out / "results.json").read_text())
        earlier_file, earlier_scale = Path(str(earlier["claim_file"])), str(earlier["scale"])
        title = str(earlier["title"])
    except (OSError, ValueError, KeyError, TypeError):
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise ReportFolderError(out, f"is not empty ({shown}) and holds no scrutiny report") from None
    if earlier_file.resolve() == Path(claim_file).resolve() and earlier_scale == scale:
        return  # an earlier report of this claim at this scale: replaced
    raise ReportFolderError(
        out, f"holds the report of another claim ('{title}', {earlier_file}, scale {earlier_scale})"
    )


def write_report(result: ClaimResult, out: str | Path, *, force: bool = False) -> dict[str, Path]:
    """Write the report files into ``out`` (created) and return their paths.

    Raises:
        ReportFolderError: ``out`` is not empty and holds no earlier report of this claim at this scale (another
            claim's report, or other files), and ``force`` is not set.
    """
    out = Path(out)
    check_report_folder(out, result.path, result.scale, force)
    out.mkdir(parents=True, exist_ok=True)
    view = ReportView.of(result)
    figures = make_figures(result, out, view)
    data = result.to_dict()
    context = {
        "view": view,
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
