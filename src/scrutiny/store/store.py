"""The trial store: a plain folder with one sub-folder per trial, readable without scrutiny.

Layout of ``<store>/<trial id>/``:

============== ====================================================================================
spec.json      the resolved spec, its hash, the seed (written first)
trial.json     the start record: seeds of every stream, provenance, backend flags
metrics.jsonl  one JSON object per epoch, raw values
result.json    the final record: status (complete | diverged | failed), final_* and best_*, times,
               error and traceback for a failure. A folder without it is incomplete and is run again.
checkpoint.pt  ``{"model": state_dict, "optimizer": state_dict, "epoch": int}``; load with
               ``torch.load(path, weights_only=True)``
outputs.npz    per-example predictions of the final evaluation, when asked for
============== ====================================================================================

Every JSON record carries ``schema_version`` and ``scrutiny_version``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

from scrutiny._version import __version__
from scrutiny.errors import StoreError
from scrutiny.store._atomic import append_jsonl, write_atomic, write_json

SCHEMA_VERSION = 1
DEFAULT_STORE = "scrutiny-runs"
FINAL = "result.json"


def stamp(record: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "scrutiny_version": __version__, **record}


class TrialBusyError(StoreError):
    """Another live process holds the trial's lock."""


class Store:
    """A folder of trial folders.

    Args:
        root: The store's folder (created on first write).
    """

    def __init__(self, root: str | Path = DEFAULT_STORE) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # ---- reading -------------------------------------------------------------------------------------------
    def trial_dir(self, trial_id: str) -> Path:
        return self.root / trial_id

    def trial_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and (p / "spec.json").exists())

    def status(self, trial_id: str) -> str:
        """``missing``, ``incomplete``, or the final record's status."""
        folder = self.trial_dir(trial_id)
        if not folder.is_dir():
            return "missing"
        if not (folder / FINAL).exists():
            return "incomplete"
        return self.result(trial_id).get("status", "incomplete")

    def _read_json(self, path: Path) -> dict[str, Any]:
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise StoreError(f"{path}: no such record") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StoreError(f"{path}: unreadable record ({exc})") from None

    def spec(self, trial_id: str) -> dict[str, Any]:
        return self._read_json(self.trial_dir(trial_id) / "spec.json")

    def trial(self, trial_id: str) -> dict[str, Any]:
        return self._read_json(self.trial_dir(trial_id) / "trial.json")

    def result(self, trial_id: str) -> dict[str, Any]:
        return self._read_json(self.trial_dir(trial_id) / FINAL)

    def probe(self, trial_id: str, prefix: str) -> dict[str, Any]:
        """The tables a probe wrote for the trial (``probes/<prefix>.json``)."""
        return self._read_json(self.trial_dir(trial_id) / "probes" / f"{prefix}.json")

    def arrays(self, trial_id: str, name: str) -> dict[str, Any]:
        """The arrays of ``<name>`` (an ``.npz`` file of the trial folder), loaded without pickle."""
        import numpy as np

        path = self.trial_dir(trial_id) / name
        if not path.exists():
            raise StoreError(f"{path}: no such file")
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def metrics(self, trial_id: str) -> list[dict[str, Any]]:
        path = self.trial_dir(trial_id) / "metrics.jsonl"
        if not path.exists():
            return []
        rows = []
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a torn last line of an interrupted trial
        return rows

    def resolve_id(self, prefix: str) -> str:
        """The trial id that starts with ``prefix``; ambiguous or unknown prefixes raise."""
        ids = self.trial_ids()
        if prefix in ids:
            return prefix
        matches = [i for i in ids if i.startswith(prefix)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise StoreError(f"{self.root}: no trial '{prefix}' (see 'scrutiny runs --store {self.root}')")
        raise StoreError(f"{self.root}: trial prefix '{prefix}' is ambiguous: {', '.join(matches[:5])}")

    # ---- writing -------------------------------------------------------------------------------------------
    def begin(self, trial_id: str, spec_record: dict[str, Any]) -> TrialWriter:
        """Start (or restart) a trial: lock its folder, clear an incomplete attempt, write ``spec.json``.

        A finished trial is never overwritten: beginning one raises.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        meta = self.root / "STORE.json"
        if not meta.exists():
            write_json(meta, stamp({"kind": "scrutiny trial store"}))
        folder = self.trial_dir(trial_id)
        folder.mkdir(exist_ok=True)
        _lock(folder)
        if (folder / FINAL).exists():
            _unlock(folder)
            raise StoreError(f"{folder}: trial already finished; remove the folder to run it again")
        for child in folder.iterdir():
            if child.name != ".lock":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        writer = TrialWriter(folder)
        writer.write("spec.json", spec_record)
        return writer

    def remove(self, trial_id: str) -> None:
        shutil.rmtree(self.trial_dir(trial_id), ignore_errors=True)


class TrialWriter:
    """Writes the records of one trial folder; :meth:`finish` writes the final record last and unlocks."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def write(self, name: str, record: dict[str, Any]) -> None:
        write_json(self.folder / name, stamp(record))

    def append_metrics(self, row: dict[str, Any]) -> None:
        append_jsonl(self.folder / "metrics.jsonl", row)

    def save_checkpoint(self, state: dict[str, Any], name: str = "checkpoint.pt") -> None:
        import torch

        write_atomic(self.folder / name, lambda fh: torch.save(state, fh))

    def save_arrays(self, name: str, arrays: dict[str, Any]) -> None:
        import numpy as np

        write_atomic(self.folder / name, lambda fh: np.savez(fh, **arrays))

    def finish(self, result: dict[str, Any]) -> None:
        self.write(FINAL, result)
        _unlock(self.folder)

    def abandon(self) -> None:
        """Release the lock without a final record (the trial stays incomplete)."""
        _unlock(self.folder)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock(folder: Path) -> None:
    lock = folder / ".lock"
    me = f"{socket.gethostname()}:{os.getpid()}"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            host, _, pid = lock.read_text().partition(":")
            if host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid)):
                lock.unlink(missing_ok=True)  # left by a process that died
                continue
            raise TrialBusyError(
                f"{folder}: being run by {host}:{pid} (remove {lock} if that process is gone)"
            ) from None
        with os.fdopen(fd, "w") as fh:
            fh.write(me)
        return
    raise TrialBusyError(f"{folder}: could not take the lock")


def _unlock(folder: Path) -> None:
    (folder / ".lock").unlink(missing_ok=True)
