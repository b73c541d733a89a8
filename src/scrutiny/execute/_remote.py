"""What a trial on another machine runs (a Ray task, a SLURM array task): check the store, run the trial.

Kept free of Ray and submitit, and importing torch only when a trial runs, so the same function serves both.
"""

from __future__ import annotations

import os
import pickle
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrutiny.store import Store

TOKEN_DIR = ".locks"  # the driver writes a token here; a node that cannot read it does not see the store


def store_visible(store_root: str, token: str | None = None) -> tuple[str, bool]:
    """``(host, visible)``: whether this node sees the store at ``store_root`` (and the driver's ``token`` in it).

    A node that mounts nothing at the path, or an empty folder of its own there, lacks the store's ``STORE.json``.
    """
    root = Path(store_root)
    ok = root.is_dir() and os.access(root, os.W_OK) and (root / "STORE.json").is_file()
    if ok and token is not None:
        ok = (root / TOKEN_DIR / token).is_file()
    return socket.gethostname(), ok


def run_remote_trial(
    store_root: str, spec_data: dict, seed: int, replace_failed: bool, threads: int, events: Any = None
) -> tuple[str, Any]:
    """One trial, as the local executor's workers run it; ``events`` (a queue with ``put_nowait``) gets its epochs.

    Returns:
        ``("done", final record)``, ``("error", exception)`` for what the driver decides (busy, finished
        elsewhere, a store error), or ``("nostore", host)`` when this node does not see the store.
    """
    host, ok = store_visible(store_root)
    if not ok:
        return "nostore", host
    from scrutiny.spec import Spec
    from scrutiny.store import Store
    from scrutiny.trials.loop import run_trial

    def on_epoch(event: dict[str, Any]) -> None:
        try:
            events.put_nowait(event)
        except Exception:
            pass  # progress is best effort; it never fails a trial

    try:
        spec = Spec.model_validate(spec_data)
        record = run_trial(
            spec,
            seed,
            Store(store_root),
            threads=threads,
            replace_failed=replace_failed,
            on_epoch=on_epoch if events is not None else None,
        )
        return "done", record
    except Exception as exc:
        return "error", _picklable(exc)


def _picklable(exc: Exception) -> Any:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def prepare_store(store: Store, trial_id: str) -> Path:
    """Create the store folder as any write does (``STORE.json``, ``.locks``) and return its absolute path."""
    from scrutiny.store import TrialBusyError

    try:
        store.lock(trial_id).release()
    except TrialBusyError:
        pass  # another process runs that trial: the folder is there
    return store.root.resolve()
