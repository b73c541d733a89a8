"""The plain data of a report section, the :class:`Section` contract, and how a claim's sections are built."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from scrutiny.errors import ScrutinyError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure as MplFigure

    from scrutiny.analysis.check import ClaimResult
    from scrutiny.store import Store

Cell: TypeAlias = str | int | float | bool | None
"""One cell of a :class:`Table`: numbers stay numbers (the report formats them); ``None`` is an empty cell."""


@dataclass
class Table:
    """A table for the report: ``rows`` are lists of cells in the order of ``columns`` (numbers stay numbers)."""

    columns: list[str]
    rows: Sequence[Sequence[Cell]]
    caption: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": self.rows, "caption": self.caption}


@dataclass
class Figure:
    """A figure for the report: ``draw()`` returns a matplotlib Axes (or Figure); the report saves it as ``name``."""

    name: str
    draw: Callable[[], Axes | MplFigure]
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


class Section(Protocol):
    """A report section: computes from the claim's result and the store (never from a model), returns plain data.

    Its keyword arguments are the claim's ``sections`` entry's own keys (e.g. ``arms``, ``metric``).
    """

    def __call__(self, result: ClaimResult, store: Store, /, *args: Any, **kwargs: Any) -> ReportSection: ...


def arm_names(result: ClaimResult, arms: list[str] | None, section: str) -> list[str]:
    """``arms`` (default: every arm of the claim), each checked to be an arm; a one-line error names the section."""
    names = list(arms) if arms else list(result.arms)
    unknown = sorted(set(names) - set(result.arms))
    if unknown:
        raise ScrutinyError(f"sections: {section}: unknown arms {unknown}; arms are {sorted(result.arms)}")
    return names


def probe_table(store: Store, trial_id: str, prefix: str, key: str, section: str) -> dict[str, Any]:
    """The ``prefix`` probe's tables of one trial, which must hold ``key``; a one-line error otherwise."""
    from scrutiny.errors import StoreError

    table: dict[str, Any] | None
    try:
        table = store.probe(trial_id, prefix)
    except StoreError:
        table = None
    if not table or key not in table:
        raise ScrutinyError(f"sections: {section}: trial {trial_id} has no '{prefix}' probe table with '{key}'")
    return table


def build_sections(
    result: ClaimResult, store: Store, computed: Mapping[int, Mapping[str, Any]] | None = None
) -> list[ReportSection]:
    """Build every section that ``result``'s claim lists, in order.

    ``computed``: per section (its index in the claim's list), keyword arguments that a workflow computed for it
    (networks it ran, an attribution it made), passed on top of the claim's own arguments.
    """
    from scrutiny.registry import SECTIONS

    out = []
    for i, entry in enumerate(result.claim.sections):
        build: Section = SECTIONS.get(entry.name)
        section: object = build(result, store, **entry.kwargs, **(computed or {}).get(i, {}))
        if not isinstance(section, ReportSection):
            raise ScrutinyError(f"sections.{i}: '{entry.name}' returned {type(section).__name__}, not a ReportSection")
        section.name = entry.name
        out.append(section)
    return out
