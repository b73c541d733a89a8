"""The trial store: a plain folder with one sub-folder per trial, readable without scrutiny.

Layout of ``<store>/<trial id>/``:

=================== ===============================================================================
spec.json           the resolved spec, its hash, the seed (written first); ``code``: the SHA-256 of the user
                    modules and files that went into the hash, for a spec that names any
                    (:func:`scrutiny.spec.identity.code_digests`)
trial.json          the start record: seeds of every stream, provenance, backend flags
data.json           the data builder's ``info`` and ``depends_on``: trials whose output this one used (a GIT
                    generator trial and its checkpoint's SHA-256; :mod:`scrutiny.running`)
metrics.jsonl       one JSON object per epoch, raw values
result.json         the final record: status (complete | diverged | failed), final_* and best_*, times,
                    error and traceback for a failure. A folder without it is incomplete and is run again.
fault.json          written instead of result.json when the environment failed the trial (full disk,
                    read-only file system): the trial stays incomplete and runs again on the next call
checkpoint.pt       ``{"model": state_dict, "optimizer": state_dict, "epoch": int}``; load with
                    ``torch.load(path, weights_only=True)``; ``checkpoint.pt.sha256`` holds its SHA-256
outputs.npz         per-example predictions of the final evaluation, when asked for
=================== ===============================================================================

Locks live in ``<store>/.locks/<trial id>.lock`` (see :mod:`scrutiny.store._lock`); they are never deleted.

**The store harms nothing it did not write.** It never follows a symbolic link out of its root: a trial entry that
is a link, or not a folder, is refused with a one-line :class:`StoreError` before anything is read or written
through it. Clearing an incomplete attempt deletes only regular files of the kinds a trial writes (``*.json``,
``*.jsonl``, ``*.pt``, ``*.npz``, ``*.sha256``, temporary ``*.tmp``) and a ``probes/`` folder of such files; any
other entry (a link, a device, a file of another kind) is refused, never deleted. Lock files are opened with
``O_NOFOLLOW``. Every JSON record carries ``schema_version`` and ``scrutiny_version``.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from scrutiny.errors import StoreError
from scrutiny.store._atomic import write_json
from scrutiny.store._lock import LockFile, is_locked
from scrutiny.store._writer import FAULT, FINAL, SCHEMA_VERSION, TrialWriter, stamp

__all__ = ["DEFAULT_STORE", "SCHEMA_VERSION", "Store", "TrialBusyError", "TrialFinishedError", "TrialWriter"]

DEFAULT_STORE = "scrutiny-runs"
_TRIAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")
_OURS = (".json", ".jsonl", ".pt", ".npz", ".sha256", ".tmp", ".lock")


class TrialBusyError(StoreError):
    """Another live process holds the trial's lock."""


class TrialFinishedError(StoreError):
    """The trial has a final record already (another process may have finished it meanwhile)."""


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
        if not _TRIAL_ID.fullmatch(trial_id):
            raise StoreError(f"{self.root}: '{trial_id[:60]}' is not a trial id")
        return self.root / trial_id

    def _entry(self, trial_id: str) -> os.stat_result | None:
        """The ``lstat`` of a trial's entry, ``None`` if absent; a link or a non-folder is refused."""
        folder = self.trial_dir(trial_id)
        try:
            st = os.lstat(folder)
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            raise StoreError(f"{self.root}: is a file, not a store folder") from None
        if stat.S_ISLNK(st.st_mode):
            raise StoreError(f"{folder}: is a symbolic link; a store entry must be a trial folder (remove the link)")
        if not stat.S_ISDIR(st.st_mode):
            raise StoreError(f"{folder}: is not a folder; a store entry must be a trial folder (remove it)")
        return st

    def trial_ids(self) -> list[str]:
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.root}: is a file, not a store folder")
        if not self.root.is_dir():
            return []
        return sorted(
            e.name
            for e in os.scandir(self.root)
            if e.is_dir(follow_symlinks=False) and os.path.isfile(os.path.join(e.path, "spec.json"))
        )

    def status(self, trial_id: str) -> str:
        """``missing``, ``incomplete``, or the final record's status."""
        if self._entry(trial_id) is None:
            return "missing"
        if not (self.trial_dir(trial_id) / FINAL).exists():
            return "incomplete"
        return self.result(trial_id).get("status", "incomplete")

    def busy(self, trial_id: str) -> bool:
        """Whether a process holds the trial's lock now."""
        return is_locked(self._lock_path(trial_id))

    def _read_json(self, path: Path) -> dict[str, Any]:
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise StoreError(f"{path}: no such record") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StoreError(f"{path}: unreadable record ({str(exc)[:100]})") from None
        except OSError as exc:
            raise StoreError(f"{path}: cannot read ({exc.strerror})") from None

    def spec(self, trial_id: str) -> dict[str, Any]:
        return self._read_json(self.trial_dir(trial_id) / "spec.json")

    def trial(self, trial_id: str) -> dict[str, Any]:
        return self._read_json(self.trial_dir(trial_id) / "trial.json")

    def result(self, trial_id: str) -> dict[str, Any]:
        return self._read_json(self.trial_dir(trial_id) / FINAL)

    def fault(self, trial_id: str) -> dict[str, Any] | None:
        """The environment fault that left the trial incomplete, if one was recorded."""
        path = self.trial_dir(trial_id) / FAULT
        return self._read_json(path) if path.exists() else None

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
            raise StoreError(f"{self.root}: no trial '{prefix[:60]}' (see 'scrutiny runs' on this store)")
        raise StoreError(f"{self.root}: trial prefix '{prefix[:60]}' is ambiguous: {', '.join(matches[:5])}")

    # ---- writing -------------------------------------------------------------------------------------------
    def _lock_path(self, trial_id: str) -> Path:
        return self.root / ".locks" / f"{self.trial_dir(trial_id).name}.lock"

    def _prepare_root(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.root}: is a file, not a store folder")
        self.root.mkdir(parents=True, exist_ok=True)
        locks = self.root / ".locks"
        if locks.is_symlink() or (locks.exists() and not locks.is_dir()):
            raise StoreError(f"{locks}: must be a folder, not a link or a file (remove it)")
        locks.mkdir(exist_ok=True)
        meta = self.root / "STORE.json"
        if not meta.exists() and not meta.is_symlink():
            write_json(meta, stamp({"kind": "scrutiny trial store"}))

    def lock(self, trial_id: str) -> LockFile:
        """Take the trial's lock now, or raise :class:`TrialBusyError`."""
        self._prepare_root()
        lock = LockFile(self._lock_path(trial_id))
        try:
            taken = lock.acquire()
        except OSError as exc:
            if exc.errno == getattr(os, "ELOOP", 40):
                raise StoreError(f"{lock.path}: is a symbolic link; remove it") from None
            raise
        if not taken:
            raise TrialBusyError(f"{self.trial_dir(trial_id)}: being run by {lock.holder()}")
        return lock

    def begin(self, trial_id: str, spec_record: dict[str, Any], *, replace_failed: bool = False) -> TrialWriter:
        """Start (or restart) a trial: lock it, clear an incomplete attempt, write ``spec.json``.

        Args:
            trial_id: The trial's id.
            spec_record: The content of ``spec.json``.
            replace_failed: Also start again a trial whose final record says ``failed``.

        Raises:
            TrialBusyError: Another process holds the trial's lock.
            TrialFinishedError: The trial has a final record (and it is not a failure to replace).
            StoreError: The trial entry is a link or a file, or holds entries scrutiny did not write.
        """
        lock = self.lock(trial_id)
        try:
            folder = self.trial_dir(trial_id)
            if self._entry(trial_id) is None:
                folder.mkdir()
            final = folder / FINAL
            if final.exists():
                status = self._read_json(final).get("status") if replace_failed else None
                if status != "failed":
                    raise TrialFinishedError(f"{folder}: trial already finished; remove the folder to run it again")
            _clear(folder)
            writer = TrialWriter(folder, lock)
            writer.write("spec.json", _with_code(spec_record))
        except BaseException:
            lock.release()
            raise
        return writer

    def mark_failed(self, trial_id: str, record: dict[str, Any]) -> bool:
        """Write a ``failed`` final record for a trial whose process died (no final record yet).

        Returns:
            False, doing nothing, when the trial is locked by a live process or already has a final record.
        """
        try:
            lock = self.lock(trial_id)
        except TrialBusyError:
            return False
        try:
            folder = self.trial_dir(trial_id)
            if self._entry(trial_id) is None:
                folder.mkdir()
            if (folder / FINAL).exists():
                return False
            write_json(folder / FINAL, stamp({"status": "failed", **record}))
            return True
        finally:
            lock.release()

    def remove(self, trial_id: str) -> None:
        """Delete a trial's folder (under its lock; a link or foreign entry is refused, nothing deleted)."""
        lock = self.lock(trial_id)
        try:
            if self._entry(trial_id) is not None:
                folder = self.trial_dir(trial_id)
                _clear(folder)
                folder.rmdir()
        finally:
            lock.release()


def _with_code(spec_record: dict[str, Any]) -> dict[str, Any]:
    """The record with the user code digests that went into its ``spec_hash`` (computed in this process)."""
    from scrutiny.spec.identity import recorded_code  # lazily: reading a store needs no spec machinery

    code = recorded_code(str(spec_record.get("spec_hash")))
    return {**spec_record, "code": code} if code and "code" not in spec_record else spec_record


def _clear(folder: Path) -> None:
    """Delete what a trial wrote in ``folder``; refuse (one line) anything scrutiny would not have written."""
    entries = list(os.scandir(folder))
    probes = [e for e in entries if e.name == "probes" and e.is_dir(follow_symlinks=False)]
    inner = list(os.scandir(probes[0].path)) if probes else []
    for entry in [e for e in entries if not probes or e.name != "probes"] + inner:
        if not (entry.is_file(follow_symlinks=False) and entry.name.endswith(_OURS)):
            kind = "a symbolic link" if entry.is_symlink() else "not a file scrutiny writes"
            raise StoreError(f"{entry.path}: {kind}; refusing to clear the trial folder (remove it yourself)")
    for entry in inner + [e for e in entries if not probes or e.name != "probes"]:
        os.unlink(entry.path)
    if probes:
        os.rmdir(probes[0].path)
