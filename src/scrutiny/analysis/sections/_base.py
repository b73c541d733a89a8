"""The plain data of a report section, and how a claim's sections are built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scrutiny.errors import ScrutinyError


@dataclass
class Table:
    """A table for the report: ``rows`` are lists of cells in the order of ``columns`` (numbers stay numbers)."""

    columns: list[str]
    rows: list[list[Any]]
    caption: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": self.rows, "caption": self.caption}


@dataclass
class Figure:
    """A figure for the report: ``draw()`` returns a matplotlib Axes (or Figure); the report saves it as ``name``."""

    name: str
    draw: Callable[[], Any]
    caption: str | None = None


@dataclass
class ReportSection:
    """One section of a claim's report.

    Attributes:
        title: The heading.
        paragraphs: Plain-text paragraphs (rendered escaped).
        tables: Tables, in order.
        figures: Figures, in order.
        data: What ``results.json`` keeps of the section (JSON-compatible).
        verdict: An optional one-word outcome shown next to the title (e.g. ``EXACT`` or ``NOT EXACT``).
    """

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    verdict: str | None = None
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "verdict": self.verdict,
            "paragraphs": self.paragraphs,
            "tables": [t.to_dict() for t in self.tables],
            "figures": [f.name for f in self.figures],
            "data": self.data,
        }


def arm_names(result: Any, arms: list[str] | None, section: str) -> list[str]:
    """``arms`` (default: every arm of the claim), each checked to be an arm; a one-line error names the section."""
    names = list(arms) if arms else list(result.arms)
    unknown = sorted(set(names) - set(result.arms))
    if unknown:
        raise ScrutinyError(f"sections: {section}: unknown arms {unknown}; arms are {sorted(result.arms)}")
    return names


def probe_table(store: Any, trial_id: str, prefix: str, key: str, section: str) -> dict[str, Any]:
    """The ``prefix`` probe's tables of one trial, which must hold ``key``; a one-line error otherwise."""
    from scrutiny.errors import StoreError

    try:
        table = store.probe(trial_id, prefix)
    except StoreError:
        table = None
    if not table or key not in table:
        raise ScrutinyError(f"sections: {section}: trial {trial_id} has no '{prefix}' probe table with '{key}'")
    return table


def build_sections(result: Any, store: Any) -> list[ReportSection]:
    """Build every section that ``result``'s claim lists, in order."""
    from scrutiny.registry import SECTIONS

    out = []
    for i, entry in enumerate(result.claim.sections):
        section = SECTIONS.get(entry.name)(result, store, **entry.kwargs)
        if not isinstance(section, ReportSection):
            raise ScrutinyError(f"sections.{i}: '{entry.name}' returned {type(section).__name__}, not a ReportSection")
        section.name = entry.name
        out.append(section)
    return out
