"""The ``scrutiny`` command line: a thin layer over the public Python API, one module per command group."""

from __future__ import annotations

import sys

import typer

from scrutiny.errors import ScrutinyError

app = typer.Typer(
    name="scrutiny",
    help="Put a deep-learning paper's claim to the test: run specs across seeds, diff setups, inspect results.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

from scrutiny._discover import import_submodules  # noqa: E402

import_submodules(__name__)  # one module per command group registers its commands


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    try:
        app()
    except ScrutinyError as exc:
        print(f"scrutiny: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


__all__ = ["app", "main"]
