"""Run a trial another trial depends on, in the same store: once, whichever worker gets there first.

:func:`run_dependency` is what :class:`scrutiny.running.TrialContext` calls for :func:`scrutiny.running.ensure_trial`
(a GIT classifier's generator trial, :mod:`scrutiny.data.git_augment`). It finds the trial complete, or runs it here,
or waits while another worker holds its lock, so every seed of every arm that names the same recipe shares one.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import torch

from scrutiny.errors import DataError
from scrutiny.running import running
from scrutiny.spec import trial_id
from scrutiny.store.store import TrialBusyError, TrialFinishedError

if TYPE_CHECKING:
    from scrutiny.spec import Spec
    from scrutiny.store import Store


def run_dependency(
    store: Store,
    threads: int | None,
    spec: Spec,
    seed: int,
    role: str,
    *,
    wait_s: float = 6 * 3600.0,
    poll_s: float = 0.5,
) -> str:
    """Make sure the trial ``(spec, seed)`` is complete in ``store``; return its id.

    Args:
        store: The store of the trial that depends on it.
        threads: CPU threads for torch while it runs here.
        spec: The dependency's resolved spec.
        seed: Its seed.
        role: What it is for, in error messages (e.g. ``data.augment.fit``).
        wait_s: Give up waiting for another worker after this long.
        poll_s: Seconds between looks while another worker runs it.

    Raises:
        DataError: One line, when the dependency failed or diverged (its record is kept: remove its folder to run
            it again), hit an environment fault, or the wait ran out.
    """
    from scrutiny.trials.loop import run_trial

    tid = trial_id(spec, seed)
    deadline = time.monotonic() + wait_s
    while True:
        status = store.status(tid)
        if status == "complete":
            return tid
        if status in ("failed", "diverged"):
            error = str(store.result(tid).get("error", ""))[:200]
            raise DataError(
                f"{role}: the trial it depends on, {tid}, {status} ({error}); remove {store.trial_dir(tid)} to "
                "run it again"
            )
        try:
            with torch.random.fork_rng(devices=[]), running(None):
                record = run_trial(spec, seed, store, threads=threads)
        except TrialBusyError:
            if time.monotonic() > deadline:
                raise DataError(f"{role}: waited {wait_s:.0f} s for trial {tid}, which another process runs") from None
            time.sleep(poll_s)
            continue
        except TrialFinishedError:
            continue
        if record.get("fault") == "environment":
            raise DataError(f"{role}: the trial it depends on, {tid}, hit an environment fault: {record.get('error')}")
