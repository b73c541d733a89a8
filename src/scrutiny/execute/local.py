"""Run many trials on this machine: serially, or in worker processes that split the CPU threads between them.

A trial runs only if the store lacks it (no folder, or a folder without its final record). Completed and
diverged trials are never run again; failed ones only with ``retry_failed``. An interrupted sweep keeps every
trial that finished; the others are run on the next call, from the start, and nothing is duplicated.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from scrutiny.spec import Spec, trial_id
from scrutiny.store import Store, TrialBusyError
from scrutiny.trials.environment import resolve_device
from scrutiny.trials.loop import run_trial


@dataclass(frozen=True)
class PlannedTrial:
    spec: Spec
    seed: int
    trial_id: str
    status: str  # status in the store before the sweep: missing | incomplete | complete | diverged | failed

    def needs_run(self, retry_failed: bool) -> bool:
        return self.status in ("missing", "incomplete") or (retry_failed and self.status == "failed")


@dataclass
class SweepResult:
    """What a sweep did: records of the trials it ran, and the ids it skipped because the store had them."""

    ran: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)
    interrupted: bool = False

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for record in self.ran.values():
            out[record["status"]] = out.get(record["status"], 0) + 1
        return out


class Reporter:
    """Progress events of a sweep; the default ignores them. The CLI's rich display subclasses it."""

    def start(self, plan: Sequence[PlannedTrial], to_run: Sequence[PlannedTrial]) -> None: ...

    def trial_started(self, trial: PlannedTrial) -> None: ...

    def epoch(self, event: dict[str, Any]) -> None: ...

    def trial_finished(self, trial: PlannedTrial, record: dict[str, Any]) -> None: ...


def plan(items: Sequence[tuple[Spec, int]], store: Store) -> list[PlannedTrial]:
    """The trials of ``items`` (spec, seed) with their current status in ``store``; repeats dropped."""
    out, seen = [], set()
    for spec, seed in items:
        tid = trial_id(spec, seed)
        if tid not in seen:
            seen.add(tid)
            out.append(PlannedTrial(spec, seed, tid, store.status(tid)))
    return out


def run_trials(
    items: Sequence[tuple[Spec, int]],
    store: Store,
    *,
    workers: int = 1,
    fail_fast: bool = False,
    retry_failed: bool = False,
    threads: int | None = None,
    reporter: Reporter | None = None,
) -> SweepResult:
    """Run every (spec, seed) of ``items`` that ``store`` lacks.

    Args:
        items: (resolved spec, seed) pairs.
        store: The trial store.
        workers: Worker processes; 1 runs in this process.
        threads: torch CPU threads per trial. Default: torch's own setting when serial, ``cpu_count // workers``
            with workers. On the CPU, numbers depend on the thread count (the order of reductions changes), so a
            parallel sweep matches a serial one bit for bit when both use the same ``threads``; the count used
            is stored in each trial's ``backend_flags``.
        fail_fast: Stop scheduling trials after the first failure.
        retry_failed: Run failed trials again.
        reporter: Receives progress events.

    Returns:
        What ran. On Ctrl-C the sweep stops, ``interrupted`` is set, finished trials are kept in the store and
        unfinished ones stay incomplete (they run again next time).
    """
    reporter = reporter or Reporter()
    planned = plan(items, store)
    to_run = [t for t in planned if t.needs_run(retry_failed)]
    for t in to_run:
        resolve_device(t.spec.train.device)  # a missing GPU is a user error before anything starts
    result = SweepResult(skipped=[t.trial_id for t in planned if not t.needs_run(retry_failed)])
    reporter.start(planned, to_run)
    if retry_failed:
        for t in to_run:
            if t.status == "failed":
                store.remove(t.trial_id)
    try:
        if workers <= 1:
            _run_serial(to_run, store, fail_fast, threads, reporter, result)
        else:
            _run_parallel(to_run, store, workers, fail_fast, threads, reporter, result)
    except KeyboardInterrupt:
        result.interrupted = True  # finished trials are in the store; the others stay incomplete
    return result


def _finish(t: PlannedTrial, outcome, reporter: Reporter, result: SweepResult, fail_fast: bool) -> bool:
    """Record one trial's outcome (a zero-argument callable returning its record); True if the sweep should stop."""
    try:
        record = outcome()
    except TrialBusyError:
        result.busy.append(t.trial_id)
        return False
    result.ran[t.trial_id] = record
    reporter.trial_finished(t, record)
    return fail_fast and record["status"] == "failed"


def _run_serial(to_run, store, fail_fast, threads, reporter, result) -> None:
    for t in to_run:
        reporter.trial_started(t)

        def outcome(t=t):
            return run_trial(t.spec, t.seed, store, threads=threads, on_epoch=reporter.epoch)

        if _finish(t, outcome, reporter, result, fail_fast):
            break


_EVENTS = None  # the worker process's end of the progress queue, set by _init_worker


def _init_worker(events) -> None:
    """Worker start-up: Ctrl-C is the parent's to handle (it terminates workers), progress goes to ``events``."""
    global _EVENTS
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _EVENTS = events


def _worker(spec_data: dict, seed: int, store_root: str, threads: int) -> dict[str, Any]:
    """Entry point of a worker process: run one trial, forward epoch events to the parent."""
    spec = Spec.model_validate(spec_data)

    def on_epoch(event: dict[str, Any]) -> None:
        try:
            _EVENTS.put(("epoch", event))
        except (OSError, ValueError, AttributeError):
            pass  # progress is best effort; it never fails a trial

    return run_trial(spec, seed, Store(store_root), threads=threads, on_epoch=on_epoch)


def _run_parallel(to_run, store, workers, fail_fast, threads, reporter, result) -> None:
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    ctx = mp.get_context("spawn")
    events = ctx.Queue()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(events,))
    pending: dict[Future, PlannedTrial] = {}
    waiting = list(to_run)
    try:
        while waiting or pending:
            while waiting and len(pending) < workers:
                t = waiting.pop(0)
                reporter.trial_started(t)
                pending[pool.submit(_worker, t.spec.to_dict(), t.seed, str(store.root), threads)] = t
            done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(events, reporter)
            for fut in done:
                if _finish(pending.pop(fut), fut.result, reporter, result, fail_fast):
                    waiting.clear()
        _drain(events, reporter)
    except BaseException:
        # Interrupted: stop the workers where they are. Their trials have no final record, so they are incomplete
        # and run again next time; their locks name dead processes and are taken over.
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        events.close()


def _drain(events, reporter: Reporter) -> None:
    while True:
        try:
            kind, payload = events.get_nowait()
        except (queue.Empty, EOFError, OSError, ValueError):
            return
        if kind == "epoch":
            reporter.epoch(payload)


def run_sweep(spec: Spec, seeds: Sequence[int], store: Store, **kwargs) -> SweepResult:
    """:func:`run_trials` over one spec and several seeds."""
    return run_trials([(spec, s) for s in seeds], store, **kwargs)
