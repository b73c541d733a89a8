"""Import every public submodule of a package, so that the registrations they hold take effect.

A new model family, dataset, protocol or command module only has to be added as a file; nothing else lists it.
Modules whose names start with an underscore hold machinery and are not imported here.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import json
import os
import pkgutil
import sys
import types
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeGuard


def import_submodules(package: str) -> list[str]:
    """Import ``package``'s public submodules (not recursively) in name order; return their names."""
    pkg = importlib.import_module(package)
    names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))
    for name in names:
        importlib.import_module(f"{package}.{name}")
    return names


def lazy_exports(package: str, where: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module ``__getattr__`` and ``__dir__`` (PEP 562) that import each public name's module on first access.

    Args:
        package: The package whose names these are (for the error message and the cache).
        where: Public name -> the module that defines it.

    Returns:
        ``(__getattr__, __dir__)`` to assign in the package's ``__init__``.

    A name that is also a submodule's (``scrutiny.stats.expected_max``, the function of the module of that name)
    stays the object, as an eager ``from .expected_max import expected_max`` leaves it, even when the submodule is
    imported first: binding the submodule on the package is redirected to the submodule's object of that name.
    """
    module = sys.modules[package]
    namespace = module.__dict__
    namespace["_LAZY_SHADOWED"] = {n for n, m in where.items() if m == f"{package}.{n}"}
    module.__class__ = _LazyModule

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # the next access is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__


class _LazyModule(types.ModuleType):
    """A package module whose lazily exported names are not replaced by the submodules of the same name."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in self.__dict__.get("_LAZY_SHADOWED", ()):
            value = getattr(value, name)  # the import system binds the submodule; the public name is its object
        super().__setattr__(name, value)


@dataclass(frozen=True)
class DeclaredCommand:
    """A command that a module of a CLI package declares, read from its source without importing it.

    Attributes:
        module: The module's short name (``run`` for ``scrutiny.cli.run``).
        name: The command's name as typed (``run``, ``audit``).
        help: Its help text (the ``help=`` argument or the function's docstring).
        group: Whether it is a group of subcommands (``app.add_typer``).
    """

    module: str
    name: str
    help: str | None
    group: bool


def public_submodules(package: str) -> list[str]:
    """The names of ``package``'s public submodules in name order, without importing them."""
    spec = importlib.util.find_spec(package)
    paths = list(spec.submodule_search_locations or []) if spec else []
    return sorted(m.name for m in pkgutil.iter_modules(paths) if not m.name.startswith("_"))


@functools.lru_cache
def declared_commands(package: str, app_name: str = "app") -> tuple[DeclaredCommand, ...]:
    """The commands that ``package``'s public modules register on ``app_name``, in registration order.

    Reads ``@app.command(...)`` functions and ``app.add_typer(sub, name=...)`` calls from the source, so that a
    command list costs no import of what the commands use.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"no package named '{package}'", name=package)
    folder = Path(next(iter(spec.submodule_search_locations)))
    modules = public_submodules(package)
    cache = folder / "__pycache__" / f"declared_commands.{app_name}.json"
    key = [[m, *_stamp(folder / f"{m}.py")] for m in modules]  # parsing is slower than --help may take
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data["key"] == key:
            return tuple(DeclaredCommand(**d) for d in data["commands"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    out = _declared(folder, modules, app_name)
    try:  # a cache only: a read-only install parses every time
        cache.parent.mkdir(exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, "commands": [asdict(d) for d in out]}), encoding="utf-8")
        os.replace(tmp, cache)
    except OSError:
        pass
    return out


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_mtime_ns, st.st_size]


def _declared(folder: Path, modules: list[str], app_name: str) -> tuple[DeclaredCommand, ...]:
    out: list[DeclaredCommand] = []
    for module in modules:
        tree = ast.parse((folder / f"{module}.py").read_text(encoding="utf-8"))
        typers = {
            node.targets[0].id: _kwarg(node.value, "help")
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and _is_call(node.value, "Typer")
        }
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                for dec in node.decorator_list:
                    if _is_call(dec, "command", app_name):
                        name = _const(dec.args[0]) if dec.args else _kwarg(dec, "name")
                        help_text = _kwarg(dec, "help") or ast.get_docstring(node)
                        out.append(
                            DeclaredCommand(module, name or node.name.lower().replace("_", "-"), help_text, False)
                        )
            elif isinstance(node, ast.Expr) and _is_call(node.value, "add_typer", app_name):
                call = node.value
                sub = call.args[0].id if call.args and isinstance(call.args[0], ast.Name) else None
                out.append(
                    DeclaredCommand(
                        module,
                        _kwarg(call, "name") or "",
                        _kwarg(call, "help") or (typers.get(sub) if sub else None),
                        True,
                    )
                )
    return tuple(out)


def _is_call(node: ast.AST, attr: str, owner: str | None = None) -> TypeGuard[ast.Call]:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == attr):
        return False
    return owner is None or (isinstance(node.func.value, ast.Name) and node.func.value.id == owner)


def _const(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _kwarg(call: ast.AST, name: str) -> str | None:
    if not isinstance(call, ast.Call):
        return None
    return next((_const(k.value) for k in call.keywords if k.arg == name), None)
