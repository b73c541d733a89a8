"""``scrutiny list models|datasets|protocols``: what the registries hold."""

from __future__ import annotations

import typer

from scrutiny.cli import app
from scrutiny.cli._common import JsonOpt
from scrutiny.cli._output import Output
from scrutiny.errors import ScrutinyError, suggest
from scrutiny.registry import DATASETS, MODELS, PROTOCOLS

REGISTRIES = {"models": MODELS, "datasets": DATASETS, "protocols": PROTOCOLS}


@app.command("list")
def list_command(
    what: str = typer.Argument(..., help="models, datasets or protocols"), as_json: bool = JsonOpt
) -> None:
    """List the registered names of one kind, with one line each."""
    if what not in REGISTRIES:
        raise ScrutinyError(
            f"list: unknown kind '{what}'{suggest(what, REGISTRIES)}; choose one of {', '.join(REGISTRIES)}"
        )
    out = Output(as_json)
    registry = REGISTRIES[what]
    entries = [{"name": n, "description": registry.describe(n)} for n in registry.names()]
    prefixes = [f"{p}:<name>" for p in registry.prefixes()]
    if as_json:
        out.json({"kind": what, "entries": entries, "prefixes": prefixes})
        return
    rows = [[e["name"], e["description"]] for e in entries]
    rows += [[p, "any model of that library, random weights"] for p in prefixes]
    out.table(f"{what} (plus 'package.module:callable' for your own)", ["name", "description"], rows)
