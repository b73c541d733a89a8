"""``scrutiny diff A B``: every differing leaf key of two resolved specs."""

from __future__ import annotations

from pathlib import Path

import typer

from scrutiny.cli import app
from scrutiny.cli._common import JsonOpt
from scrutiny.cli._output import Output
from scrutiny.spec import ABSENT, diff, load_spec, spec_hash


@app.command("diff")
def diff_command(
    spec_a: Path = typer.Argument(..., help="First spec YAML."),
    spec_b: Path = typer.Argument(..., help="Second spec YAML."),
    set_a: list[str] = typer.Option(None, "--set-a", help="Override applied to A (repeatable)."),
    set_b: list[str] = typer.Option(None, "--set-b", help="Override applied to B (repeatable)."),
    as_json: bool = JsonOpt,
) -> None:
    """Show every leaf key whose resolved value differs between SPEC_A and SPEC_B (defaults included)."""
    out = Output(as_json)
    a, b = load_spec(spec_a, set_a or []), load_spec(spec_b, set_b or [])
    differences = diff(a, b)
    if as_json:
        out.json(
            {
                "a": {"file": str(spec_a), "spec_hash": spec_hash(a)},
                "b": {"file": str(spec_b), "spec_hash": spec_hash(b)},
                "differences": [
                    {
                        "key": d.key,
                        "a": None if d.a is ABSENT else d.a,
                        "b": None if d.b is ABSENT else d.b,
                        "absent": [side for side, v in (("a", d.a), ("b", d.b)) if v is ABSENT],
                    }
                    for d in differences
                ],
            }
        )
        return
    if not differences:
        out.print(f"no differences: {spec_a} and {spec_b} resolve to the same spec ({spec_hash(a)})")
        return
    out.table(
        f"{len(differences)} differences: A = {spec_a} ({spec_hash(a)}), B = {spec_b} ({spec_hash(b)})",
        ["key", "A", "B"],
        [[d.key, d.a, d.b] for d in differences],
    )
