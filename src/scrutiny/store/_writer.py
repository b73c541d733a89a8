"""Writing one trial folder: records, metrics, checkpoints with their SHA-256, and the final or fault record."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from scrutiny._version import __version__
from scrutiny.store._atomic import append_jsonl, write_atomic, write_json
from scrutiny.store._lock import LockFile

SCHEMA_VERSION = 1
FINAL = "result.json"
FAULT = "fault.json"
DIGEST_SUFFIX = ".sha256"


def stamp(record: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "scrutiny_version": __version__, **record}


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class TrialWriter:
    """Writes the records of one trial folder while holding its lock; :meth:`finish` writes the final record last.

    Args:
        folder: The trial folder.
        lock: The trial's held lock, released by :meth:`finish`, :meth:`fault` or :meth:`abandon`.
    """

    def __init__(self, folder: Path, lock: LockFile | None = None) -> None:
        self.folder = folder
        self._lock = lock

    def write(self, name: str, record: dict[str, Any]) -> None:
        write_json(self.folder / name, stamp(record))

    def append_metrics(self, row: dict[str, Any]) -> None:
        append_jsonl(self.folder / "metrics.jsonl", row)

    def save_checkpoint(self, state: dict[str, Any], name: str = "checkpoint.pt") -> str:
        """Write ``state`` with ``torch.save``, then ``<name>.sha256`` (``sha256sum`` format); return the digest."""
        import torch

        path = self.folder / name
        digests: list[str] = []
        write_atomic(path, lambda fh: torch.save(state, fh), verify=lambda tmp: digests.append(file_sha256(tmp)))
        text = f"{digests[0]}  {name}\n"
        write_atomic(path.with_name(name + DIGEST_SUFFIX), lambda fh: fh.write(text.encode()))
        return digests[0]

    def save_arrays(self, name: str, arrays: dict[str, Any]) -> None:
        import numpy as np

        write_atomic(self.folder / name, lambda fh: np.savez(fh, **arrays))

    def finish(self, result: dict[str, Any]) -> None:
        try:
            self.write(FINAL, result)
        finally:
            self.abandon()

    def fault(self, record: dict[str, Any]) -> None:
        """Record an environment fault (best effort: the disk may be full) and release; the trial stays incomplete."""
        try:
            self.write(FAULT, record)
        except OSError:
            pass
        finally:
            self.abandon()

    def abandon(self) -> None:
        """Release the lock without a final record (the trial stays incomplete)."""
        if self._lock is not None:
            self._lock.release()
