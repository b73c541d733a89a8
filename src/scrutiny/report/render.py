"""Write a claim's report: ``report.md``, ``report.html`` (one self-contained file), ``results.json`` and PNGs.

Rendering only: every number comes from :class:`scrutiny.analysis.check.ClaimResult`.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader

from scrutiny._version import __version__
from scrutiny.analysis.check import ClaimResult
from scrutiny.errors import ScrutinyError
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

    from scrutiny.analysis.display import curve_bands, score_panels
    from scrutiny.report.figures import plot_curves, plot_forest, plot_score_panels

    panels = score_panels(result.claim, result.scale, result.arms)
    paths = {}
    drawings = [
        ("scores", lambda: plot_score_panels(panels, result.arms)),
        ("curves", lambda: plot_curves(curve_bands(list(result.arms.values())))),
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


class ReportFolderError(ScrutinyError):
    """The report folder is not empty and holds something other than an earlier report of the same claim and scale."""

    def __init__(self, folder: Path, holds: str) -> None:
        self.folder, self.holds = folder, holds
        super().__init__(self.with_flags({}))

    def with_flags(self, flags: Mapping[str, str]) -> str:
        """The message with ``out`` and ``force`` written as their command-line flags where ``flags`` has them."""
        out, force = flags.get("out", "out"), flags.get("force", "force=True")
        return f"{out}: {self.folder} {self.holds}; choose another folder, or pass {force} to write over it"


def check_report_folder(out: str | Path, result: ClaimResult, force: bool = False) -> None:
    """Refuse (:class:`ReportFolderError`) to write ``result``'s report into a non-empty folder that does not hold an
    earlier report of the same claim file at the same scale, unless ``force``. A missing or empty folder is fine."""
    out = Path(out)
    if force or not out.is_dir():
        return
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    try:
        earlier = json.loads((out / "results.json").read_text())
        claim_file, scale, title = Path(str(earlier["claim_file"])), str(earlier["scale"]), str(earlier["title"])
    except (OSError, ValueError, KeyError, TypeError):
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise ReportFolderError(out, f"is not empty ({shown}) and holds no scrutiny report") from None
    if claim_file.resolve() == result.path.resolve() and scale == result.scale:
        return  # an earlier report of this claim at this scale: replaced
    raise ReportFolderError(out, f"holds the report of another claim ('{title}', {claim_file}, scale {scale})")


def write_report(result: ClaimResult, out: str | Path, *, force: bool = False) -> dict[str, Path]:
    """Write the report files into ``out`` (created) and return their paths.

    Raises:
        ReportFolderError: ``out`` is not empty and holds no earlier report of this claim at this scale (another
            claim's report, or other files), and ``force`` is not set.
    """
    out = Path(out)
    check_report_folder(out, result, force)
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
