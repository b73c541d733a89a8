"""The one output sink of the command line: human (rich tables on stdout, progress on stderr) or ``--json``."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from scrutiny.report.format import fmt
from scrutiny.store._atomic import json_safe

__all__ = ["Output", "fmt"]


def _console(stderr: bool) -> Console:
    """A console that wraps text only on a terminal: a pipe or a file gets each message on one line, never broken
    mid-word (or mid-path) at 80 columns, and tables 200 columns wide."""
    tty = (sys.stderr if stderr else sys.stdout).isatty()
    return Console(stderr=stderr, highlight=False, soft_wrap=not tty, width=None if tty else 200)


class Output:
    """Where a command reports. In JSON mode only :meth:`json` writes, to stdout, with no ANSI codes."""

    def __init__(self, as_json: bool = False) -> None:
        self.as_json = as_json
        self.out = _console(stderr=False)
        self.err = _console(stderr=True)

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
