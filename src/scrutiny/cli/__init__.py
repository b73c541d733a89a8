"""The ``scrutiny`` command line: a thin layer over the public Python API, one module per command group.

Every way a command can end is one line at most: a user error (``scrutiny: error: ...``, exit 2), an error of
the environment such as a read-only or full disk (``scrutiny: error: ...``, exit 1), and Ctrl-C
(``scrutiny: interrupted``, exit 130). Tracebacks are kept for programming errors.
"""

from __future__ import annotations

import errno
import sys
import unicodedata

import click
import typer

from scrutiny.errors import ScrutinyError
from scrutiny.registry import UntrustedCodeError

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


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped, so that it prints as one line."""
    escape = ("Cc", "Zl", "Zp")  # control characters, line and paragraph separators
    return "".join(c.encode("unicode_escape").decode() if unicodedata.category(c) in escape else c for c in text)


def _fail(message: str, code: int) -> None:
    print(f"scrutiny: {one_line(message)}", file=sys.stderr)
    sys.exit(code)


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    from scrutiny.cli._common import TRUST_HINT

    try:
        code = app(standalone_mode=False)
    except (KeyboardInterrupt, click.exceptions.Abort):
        _fail("interrupted", 130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except UntrustedCodeError as exc:
        _fail(f"error: {exc.message(TRUST_HINT)}", exc.exit_code)
    except ScrutinyError as exc:
        _fail(f"error: {exc}", exc.exit_code)
    except OSError as exc:
        if exc.errno == errno.EPIPE:  # the reader of our output went away (``| head``)
            sys.exit(1)
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"error: {where}{exc.strerror or exc}", 1)
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["app", "main"]
