"""Run many trials on this machine: serially, or in worker processes that split the CPU threads between them.

A trial runs only if the store lacks it (no folder, or a folder without its final record). Completed and
diverged trials are never run again; failed ones only with ``retry_failed``. An interrupted sweep keeps every
trial that finished; the others are run on the next call, from the start, and nothing is duplicated.

Faults: a worker process that dies (a signal such as the OOM killer's SIGKILL, ``sys.exit`` in model code) fails
only its own trial, which is recorded as ``failed`` with the cause; the worker is replaced and the sweep goes on.
Such a trial is run again up to ``max_retries`` times in the sweep, then left failed (run again only with
``retry_failed``). Sweeps over one store cooperate: a trial locked by another process is skipped, then waited for
once everything else is done, and reported as finished elsewhere (or run here, if its process died).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scrutiny.execute._pool import WorkerPool
from scrutiny.spec import Spec, trial_id
from scrutiny.store import Store, TrialBusyError, TrialFinishedError
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
    """What a sweep did.

    Attributes:
        ran: Final records of the trials this sweep ran (a trial whose worker died: ``failed`` with the cause).
        skipped: Trials the store had before the sweep.
        elsewhere: Final records of trials that another process ran meanwhile (this sweep waited for them).
        busy: Trials still being run by another process when the sweep was interrupted.
        interrupted: Ctrl-C stopped the sweep.
    """

    ran: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    elsewhere: dict[str, dict[str, Any]] = field(default_factory=dict)
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
    max_retries: int = 1,
    poll_s: float = 0.25,
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
        max_retries: How many times a trial whose worker process died is run again within the sweep.
        poll_s: How often trials locked by another process are checked while waiting for them.

    Returns:
        What ran. On Ctrl-C the sweep stops, ``interrupted`` is set, finished trials are kept in the store and
        unfinished ones stay incomplete (they run again next time).
    """
    if max_retries < 0:
        raise ValueError(f"max_retries: expected a non-negative integer, got {max_retries}")
    reporter = reporter or Reporter()
    planned = plan(items, store)
    to_run = [t for t in planned if t.needs_run(retry_failed)]
    for t in to_run:
        resolve_device(t.spec.train.device)  # a missing GPU is a user error before anything starts
    result = SweepResult(skipped=[t.trial_id for t in planned if not t.needs_run(retry_failed)])
    reporter.start(planned, to_run)
    sweep = _Sweep(store, reporter, result, fail_fast, retry_failed, max_retries)
    try:
        if workers <= 1:
            _run_serial(sweep, to_run, threads, poll_s)
        else:
            threads = threads or max(1, (os.cpu_count() or 1) // workers)
            _run_parallel(sweep, to_run, workers, threads, poll_s)
    except KeyboardInterrupt:
        result.interrupted = True  # finished trials are in the store; the others stay incomplete
        result.busy = [t.trial_id for t in sweep.deferred]
    return result


class _Sweep:
    """Bookkeeping shared by the serial and the parallel runner: outcomes, busy trials, deaths and retries."""

    def __init__(self, store, reporter, result, fail_fast, retry_failed, max_retries) -> None:
        self.store, self.reporter, self.result = store, reporter, result
        self.fail_fast, self.retry_failed, self.max_retries = fail_fast, retry_failed, max_retries
        self.deferred: list[PlannedTrial] = []  # locked by another process: waited for at the end
        self.deaths: dict[str, int] = {}
        self.stop = False

    def replace_failed(self, t: PlannedTrial) -> bool:
        return self.retry_failed or t.trial_id in self.deaths

    def record(self, t: PlannedTrial, record: dict[str, Any]) -> None:
        self.result.ran[t.trial_id] = record
        self.reporter.trial_finished(t, record)
        self.stop = self.stop or (self.fail_fast and record["status"] == "failed")

    def error(self, t: PlannedTrial, exc: BaseException) -> None:
        if isinstance(exc, TrialBusyError):
            self.deferred.append(t)
        elif isinstance(exc, TrialFinishedError):
            self.finished_elsewhere(t)
        else:
            raise exc

    def finished_elsewhere(self, t: PlannedTrial) -> None:
        record = self.store.result(t.trial_id)
        self.result.elsewhere[t.trial_id] = record
        self.reporter.trial_finished(t, record)

    def died(self, t: PlannedTrial, cause: str) -> bool:
        """Record a dead worker's trial as failed; return whether to run it again."""
        n = self.deaths[t.trial_id] = self.deaths.get(t.trial_id, 0) + 1
        retry = n <= self.max_retries
        record = {"trial_id": t.trial_id, "seed": t.seed, "status": "failed", "error": cause, "worker_deaths": n}
        if not retry:
            record["error"] += f" ({n} time(s); not retried again without retry_failed)"
        self.store.mark_failed(t.trial_id, record)
        if not retry:
            self.record(t, record)
        return retry

    def released(self, poll_s: float) -> list[PlannedTrial]:
        """Wait until some deferred trial's lock is free; report those finished elsewhere, return those to run."""
        while self.deferred:
            free = [t for t in self.deferred if not self.store.busy(t.trial_id)]
            if free:
                self.deferred = [t for t in self.deferred if t not in free]
                again = []
                for t in free:
                    if self.store.status(t.trial_id) in ("missing", "incomplete"):
                        again.append(t)  # its process died or was interrupted: run it here
                    else:
                        self.finished_elsewhere(t)
                if again:
                    return again
            else:
                time.sleep(poll_s)
        return []


def _run_serial(sweep: _Sweep, to_run: list[PlannedTrial], threads, poll_s: float) -> None:
    queue = list(to_run)
    while queue and not sweep.stop:
        t = queue.pop(0)
        sweep.reporter.trial_started(t)
        try:
            record = run_trial(
                t.spec,
                t.seed,
                sweep.store,
                threads=threads,
                on_epoch=sweep.reporter.epoch,
                replace_failed=sweep.replace_failed(t),
            )
        except (TrialBusyError, TrialFinishedError) as exc:
            sweep.error(t, exc)
        else:
            sweep.record(t, record)
        if not queue and not sweep.stop:
            queue = sweep.released(poll_s)


def _run_parallel(sweep: _Sweep, to_run: list[PlannedTrial], workers: int, threads: int, poll_s: float) -> None:
    if not to_run:
        return
    pool = WorkerPool(min(workers, len(to_run)), mp.get_context("spawn"), str(sweep.store.root), threads)
    waiting = list(to_run)
    interrupted = True
    try:
        while True:
            while waiting and pool.idle() and not sweep.stop:
                t = waiting.pop(0)
                sweep.reporter.trial_started(t)
                pool.submit(t, t.spec.to_dict(), t.seed, sweep.replace_failed(t))
            if not pool.busy():
                if sweep.stop or (not waiting and not sweep.deferred):
                    break
                if not waiting:
                    waiting = sweep.released(poll_s)
                continue
            for kind, t, payload in pool.events(timeout=0.2):
                if kind == "epoch":
                    sweep.reporter.epoch(payload)
                elif kind == "done":
                    sweep.record(t, payload)
                elif kind == "error":
                    sweep.error(t, payload)
                elif sweep.died(t, payload):
                    waiting.insert(0, t)
        interrupted = False
    finally:
        # Interrupted: stop the workers where they are. Their trials have no final record, so they are incomplete
        # and run again next time; the kernel releases their locks as they die.
        pool.close(terminate=interrupted)


def run_sweep(spec: Spec, seeds: Sequence[int], store: Store, **kwargs) -> SweepResult:
    """:func:`run_trials` over one spec and several seeds."""
    return run_trials([(spec, s) for s in seeds], store, **kwargs)
