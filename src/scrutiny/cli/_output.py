"""The one output sink of the command line: human (rich tables on stdout, progress on stderr) or ``--json``."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from scrutiny.store._atomic import json_safe


class Output:
    """Where a command reports. In JSON mode only :meth:`json` writes, to stdout, with no ANSI codes."""

    def __init__(self, as_json: bool = False) -> None:
        self.as_json = as_json
        wide = None if sys.stdout.isatty() else 200  # pipes and files get full tables, not 80 columns
        self.out = Console(highlight=False, soft_wrap=True, width=wide)
        self.err = Console(stderr=True, highlight=False)

    def json(self, payload: Any) -> None:
        sys.stdout.write(json.dumps(json_safe(payload), indent=2) + "\n")

    def print(self, *args: Any, **kwargs: Any) -> None:
        if not self.as_json:
            self.out.print(*args, **kwargs)

    def note(self, text: str) -> None:
        """A human message on stderr (silent in JSON mode)."""
        if not self.as_json:
            self.err.print(text, markup=False)

    def table(self, title: str | None, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        if self.as_json:
            return
        # cells and titles are data (hypotheses such as "a[metric] > 0.5"), never rich markup
        table = Table(title=Text(title) if title else None, title_justify="left", header_style="bold")
        for col in columns:
            table.add_column(Text(col), overflow="fold")
        for row in rows:
            table.add_row(*(Text(fmt(v)) for v in row))
        self.out.print(table)


def fmt(value: Any) -> str:
    """Short human form of a value: floats to 4 significant digits, None as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return str(value)
