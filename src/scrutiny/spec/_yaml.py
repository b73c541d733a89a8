"""Reading YAML safely: only regular files, of bounded size, UTF-8, with bounded expansion and nesting.

Limits (each a one-line :class:`SpecError` that names it): at most :data:`MAX_YAML_BYTES`; a document expands (YAML
aliases included) to at most :data:`MAX_NODES` values, nested at most :data:`MAX_DEPTH` deep.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from scrutiny.errors import SpecError
from scrutiny.spec._errors import excerpt

MAX_YAML_BYTES = 1 << 20
MAX_NODES = 100_000
MAX_DEPTH = 64


def read_text(path: str | Path, limit: int = MAX_YAML_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes; anything else is a one-line :class:`SpecError`.

    FIFOs, devices and folders are refused before they are opened, so ``/dev/zero`` or a pipe never hangs a read.
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SpecError(str(path), None, "file not found") from None
    except OSError as exc:
        raise SpecError(str(path), None, f"cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise SpecError(str(path), None, "not a regular file")
    if info.st_size > limit:
        raise SpecError(str(path), None, f"{info.st_size:,} bytes, over the limit of {limit:,} bytes for a spec")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise SpecError(str(path), None, f"cannot read ({exc.strerror})") from None
    if len(raw) > limit:
        raise SpecError(str(path), None, f"over the limit of {limit:,} bytes for a spec")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f"byte 0x{raw[exc.start]:02x} at offset {exc.start}"
        raise SpecError(str(path), None, f"not UTF-8 text ({where})") from None


def parse_yaml(text: str, source: str) -> Any:
    """``yaml.safe_load`` with the size limits checked on the result; errors name ``source``."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(source, None, f"{where}malformed YAML ({str(problem)[:100]})") from None
    except RecursionError:
        raise SpecError(source, None, f"nested deeper than the limit of {MAX_DEPTH} levels") from None
    check_size(data, source)
    return data


def check_size(data: Any, source: str, key: str | None = None) -> None:
    """Raise if ``data`` expands to more than :data:`MAX_NODES` values or nests deeper than :data:`MAX_DEPTH`.

    Counted on the object graph with one visit per distinct container, so an alias bomb (a few lines that expand
    to billions of values) is measured in time linear in the file, and refused.
    """
    sizes: dict[int, tuple[int, int]] = {}  # id -> (expanded values, depth)
    active: set[int] = set()

    def visit(node: Any, depth: int) -> tuple[int, int]:
        if not isinstance(node, dict | list):
            return 1, 0
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in active:
            raise SpecError(source, key, "a YAML alias refers to its own ancestor (a recursive structure)")
        if depth > MAX_DEPTH:
            raise SpecError(source, key, f"nested deeper than the limit of {MAX_DEPTH} levels")
        active.add(id(node))
        total, deepest = 1, 0
        for child in list(node.keys()) + list(node.values()) if isinstance(node, dict) else node:
            n, d = visit(child, depth + 1)
            total, deepest = total + n, max(deepest, d + 1)
            if total > MAX_NODES:
                raise SpecError(source, key, f"expands to more than the limit of {MAX_NODES:,} values (YAML aliases?)")
        active.discard(id(node))
        sizes[id(node)] = (total, deepest)
        return total, deepest

    visit(data, 0)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read one YAML mapping; errors name the file (and the line for malformed YAML)."""
    data = parse_yaml(read_text(path), str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SpecError(str(path), None, f"expected a mapping at the top level, got {type(data).__name__}")
    bad = next((k for k in data if not isinstance(k, str)), None)
    if bad is not None:
        raise SpecError(str(path), None, f"keys must be strings, got {excerpt(bad)}")
    return data
