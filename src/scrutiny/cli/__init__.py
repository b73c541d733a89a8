"""The ``scrutiny`` command line: a thin layer over the public Python API, one module per command group.

Every way a command can end is one line at most: a user error (``scrutiny: error: ...``, exit 2), an error of
the environment such as a read-only or full disk (``scrutiny: error: ...``, exit 1), and Ctrl-C
(``scrutiny: interrupted``, exit 130). Tracebacks are kept for programming errors.
"""

from __future__ import annotations

import errno
import importlib
import sys
import unicodedata
from typing import Any

import click
import typer
from typer.models import CommandInfo, TyperInfo

from scrutiny._discover import declared_commands
from scrutiny.errors import ScrutinyError
from scrutiny.registry import UntrustedCodeError

_Registrations = tuple[list[CommandInfo], list[TyperInfo]]  # (commands, groups) of the app


class _LazyTyper(typer.Typer):
    """The root app; its command modules are imported when its commands are first read.

    ``scrutiny --help`` lists the commands from their modules' source (:func:`declared_commands`) and imports none
    of them; ``scrutiny run ...`` imports only ``scrutiny.cli.run``. Reading :attr:`registered_commands` outside
    :func:`main` (``typer.testing.CliRunner`` does) imports every command module, as before.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._writing = 0  # inside command() / add_typer(): the raw lists are read to be appended to
        self._view: _Registrations | None = None  # what main() assembled for one call
        self._origin: dict[int, str] = {}  # id of a registration -> the module that made it
        super().__init__(**kwargs)

    @property
    def registered_commands(self) -> list[CommandInfo]:
        return self._raw_commands if self._writing else self._current()[0]

    @registered_commands.setter
    def registered_commands(self, value: list[CommandInfo]) -> None:
        self._raw_commands = value

    @property
    def registered_groups(self) -> list[TyperInfo]:
        return self._raw_groups if self._writing else self._current()[1]

    @registered_groups.setter
    def registered_groups(self, value: list[TyperInfo]) -> None:
        self._raw_groups = value

    def command(self, *args: Any, **kwargs: Any) -> Any:
        decorator = super().command(*args, **kwargs)

        def register(f: Any) -> Any:
            self._writing += 1
            try:
                out = decorator(f)
            finally:
                self._writing -= 1
            self._origin[id(self._raw_commands[-1])] = f.__module__
            return out

        return register

    def add_typer(self, *args: Any, **kwargs: Any) -> None:
        self._writing += 1
        try:
            super().add_typer(*args, **kwargs)
        finally:
            self._writing -= 1
        self._origin[id(self._raw_groups[-1])] = sys._getframe(1).f_globals.get("__name__", "")

    def _current(self) -> _Registrations:
        return self._view if self._view is not None else self.assemble(None)

    def assemble(self, command: str | None, lazy: bool = False) -> _Registrations:
        """The registrations of every command module in order: real for ``command``'s module and for modules
        already imported; with ``lazy``, placeholders (name and help only) for the others."""
        declared = declared_commands(__name__)
        wanted = {d.module for d in declared if d.name == command}
        commands: list[CommandInfo] = []
        groups: list[TyperInfo] = []
        for module in dict.fromkeys(d.module for d in declared):
            qualified = f"{__name__}.{module}"
            if not lazy or module in wanted or qualified in sys.modules:
                importlib.import_module(qualified)
                commands += [c for c in self._raw_commands if self._origin.get(id(c)) == qualified]
                groups += [g for g in self._raw_groups if self._origin.get(id(g)) == qualified]
                continue
            for d in (d for d in declared if d.module == module):
                if d.group:
                    groups.append(TyperInfo(typer.Typer(help=d.help, no_args_is_help=True), name=d.name))
                else:
                    commands.append(CommandInfo(name=d.name, help=d.help, callback=_placeholder))
        return commands, groups


def _placeholder() -> None:  # pragma: no cover - main() imports a command's module before it can run
    raise RuntimeError("a command listed from source ran without its module")


app = _LazyTyper(
    name="scrutiny",
    help="Put a deep-learning paper's claim to the test: run specs across seeds, diff setups, inspect results.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


# typer 0.29 raises its own copy of click's exceptions (``typer._click``); catch both
_ABORTS = tuple({click.exceptions.Abort, typer.Abort})
_CLICK_ERRORS = tuple({click.ClickException, getattr(typer, "_click", click).ClickException})


def _invoked(argv: list[str]) -> str | None:
    """The command named on the command line: the first argument that is not an option."""
    return next((a for a in argv if not a.startswith("-")), None)


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped, so that it prints as one line."""
    escape = ("Cc", "Zl", "Zp")  # control characters, line and paragraph separators
    return "".join(c.encode("unicode_escape").decode() if unicodedata.category(c) in escape else c for c in text)


def _fail(message: str, code: int) -> None:
    print(f"scrutiny: {one_line(message)}", file=sys.stderr)
    sys.exit(code)


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    app._view = app.assemble(_invoked(sys.argv[1:]), lazy=True)
    try:
        code = app(standalone_mode=False)
    except (KeyboardInterrupt, *_ABORTS):
        _fail("interrupted", 130)
    except _CLICK_ERRORS as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except UntrustedCodeError as exc:
        from scrutiny.cli._common import TRUST_HINT

        _fail(f"error: {exc.message(TRUST_HINT)}", exc.exit_code)
    except ScrutinyError as exc:
        _fail(f"error: {exc}", exc.exit_code)
    except OSError as exc:
        if exc.errno == errno.EPIPE:  # the reader of our output went away (``| head``)
            sys.exit(1)
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"error: {where}{exc.strerror or exc}", 1)
    finally:
        app._view = None
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["app", "main"]
