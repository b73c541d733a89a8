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

import os
from collections.abc import Sequence

from scrutiny.execute._pool import WorkerPool, start_fork_server, worker_context
from scrutiny.execute._sweep import PlannedTrial, Reporter, Sweep, SweepResult, plan
from scrutiny.execute.options import Executor
from scrutiny.spec import Spec
from scrutiny.store import Store, TrialBusyError, TrialFinishedError


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
    executor: Executor | None = None,
) -> SweepResult:
    """Run every (spec, seed) of ``items`` that ``store`` lacks.

    Args:
        items: (resolved spec, seed) pairs.
        store: The trial store.
        workers: Worker processes; 1 runs in this process. Where there are GPUs, the workers are placed on them
            round-robin, each seeing one device (:func:`scrutiny.execute.gpus.worker_devices`).
        threads: torch CPU threads per trial. Default: torch's own setting when serial, ``cpu_count // workers``
            with workers. On the CPU, numbers depend on the thread count (the order of reductions changes), so a
            parallel sweep matches a serial one bit for bit when both use the same ``threads``; the count used
            is stored in each trial's ``backend_flags``.
        fail_fast: Stop scheduling trials after the first failure.
        retry_failed: Run failed trials again.
        reporter: Receives progress events.
        max_retries: How many times a trial whose worker process (or Ray worker or node) died is run again within
            the sweep.
        poll_s: How often trials locked by another process are checked while waiting for them.
        executor: Where the trials run (default: this machine). With ``ray`` or ``slurm``, ``workers`` is unused:
            the cluster's resources decide how many trials run at once.

    Returns:
        What ran. On Ctrl-C the sweep stops, ``interrupted`` is set, finished trials are kept in the store and
        unfinished ones stay incomplete (they run again next time).
    """
    from scrutiny.device import resolve_device

    if max_retries < 0:
        raise ValueError(f"max_retries: expected a non-negative integer, got {max_retries}")
    executor = executor or Executor()
    reporter = reporter or Reporter()
    planned = plan(items, store)
    to_run = [t for t in planned if t.needs_run(retry_failed)]
    if executor.kind == "local" and workers > 1 and to_run:
        # Its imports overlap what this process does until the first worker starts.
        start_fork_server([t.spec for t in to_run])
    if executor.kind == "local":
        for t in to_run:  # a missing GPU is a user error before anything starts
            if t.spec.train.device != "cpu":  # the CPU is always there: no need to import torch here
                resolve_device(t.spec.train.device, parameter="train.device")
    result = SweepResult(skipped=[t.trial_id for t in planned if not t.needs_run(retry_failed)])
    sweep = Sweep(store, reporter, result, fail_fast, retry_failed, max_retries)
    run = _runner(executor, to_run, workers, threads, sweep)  # checks what it can before anything runs
    reporter.start(planned, to_run)
    try:
        run(poll_s)
    except KeyboardInterrupt:
        result.interrupted = True  # finished trials are in the store; the others stay incomplete
        result.busy = [t.trial_id for t in sweep.deferred]
    return result


def _runner(executor: Executor, to_run: list[PlannedTrial], workers: int, threads: int | None, sweep: Sweep):
    """A function of ``poll_s`` that runs ``to_run``; its set-up errors are raised here, before any trial runs."""
    if executor.kind == "ray":
        from scrutiny.execute.ray import RaySweep

        ray_sweep = RaySweep(executor, sweep, threads, to_run) if to_run else None
        return lambda poll_s: ray_sweep.run(poll_s) if ray_sweep else None
    if executor.kind == "slurm":
        from scrutiny.execute.slurm import run_slurm

        return lambda poll_s: run_slurm(executor.slurm, sweep, to_run, threads, poll_s)
    devices = _placement(executor, to_run, workers)
    if workers <= 1:
        return lambda poll_s: _run_serial(sweep, to_run, threads, poll_s)
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    return lambda poll_s: _run_parallel(sweep, to_run, workers, threads, poll_s, devices)


def _placement(executor: Executor, to_run: list[PlannedTrial], workers: int) -> list[str | None]:
    """Each worker's ``CUDA_VISIBLE_DEVICES`` (``None``: as this process) for a sweep on this machine."""
    from scrutiny.execute.gpus import visible_device_ids, worker_devices

    wants_gpu = any(t.spec.train.device.startswith(("cuda", "auto")) for t in to_run)
    ids = visible_device_ids() if wants_gpu else []
    slots = worker_devices(len(ids), workers, executor.gpus_per_trial)  # raises before anything runs
    if workers <= 1 or any(t.spec.train.device.startswith("cuda:") for t in to_run):
        return [None] * workers  # one worker, or a spec that pins its own device index: nothing to place
    return [None if i is None else ids[i] for i in slots]


def _run_serial(sweep: Sweep, to_run: list[PlannedTrial], threads, poll_s: float) -> None:
    from scrutiny.trials.loop import run_trial

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


def _run_parallel(sweep: Sweep, to_run, workers: int, threads: int, poll_s: float, devices: list[str | None]) -> None:
    if not to_run:
        return
    size = min(workers, len(to_run))
    pool = WorkerPool(size, worker_context(), str(sweep.store.root), threads, devices[:size])
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
