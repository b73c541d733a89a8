"""Atomic writes: write a temporary file beside the target, flush it to disk, then rename it over the target.

File modes: every file is created with mode ``0o666`` less the process's umask, as ``open()`` creates files, so
records, reports and checkpoints are readable by the group and others wherever the umask allows it (``022``:
``rw-r--r--``; ``002``: group-writable too; ``077``: private). The temporary file is created with that mode
itself (:func:`tempfile.mkstemp` would make it ``0o600``, which the rename would keep).
"""

from __future__ import annotations

import json
import math
import os
import secrets
from pathlib import Path
from typing import Any

FILE_MODE = 0o666  # less the umask, applied by the kernel when the file is created


def json_safe(obj: Any) -> Any:
    """Replace non-finite floats by ``None`` (JSON has no NaN) and tuples by lists, recursively."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:  # numpy / torch scalars
        return json_safe(obj.item())
    return obj


def write_atomic(path: str | Path, write, verify=None) -> None:
    """Call ``write(fileobj)`` on a temporary binary file, then rename it to ``path``.

    Renaming replaces whatever entry ``path`` was (a planted link included) and never writes through it.
    ``verify(tmp_path)``, when given, runs on the complete temporary file before the rename (e.g. to hash it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if verify is not None:
            verify(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _create_temp(path: Path) -> tuple[int, str]:
    """Create a new, empty ``.<name>.<random>.tmp`` beside ``path`` (never through a link) with :data:`FILE_MODE`."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, FILE_MODE), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.parent}: no free temporary name for {path.name}")


def write_json(path: str | Path, obj: Any) -> None:
    text = json.dumps(json_safe(obj), indent=2, sort_keys=False, allow_nan=False) + "\n"
    write_atomic(path, lambda fh: fh.write(text.encode()))


def append_jsonl(path: str | Path, obj: Any) -> None:
    """Append one line; a torn last line can only belong to an incomplete trial, which is run again."""
    line = json.dumps(json_safe(obj), allow_nan=False) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    with os.fdopen(fd, "a") as fh:  # O_NOFOLLOW: never append through a planted link
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())
