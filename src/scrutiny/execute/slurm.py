"""Run a sweep as one SLURM job array through submitit (the optional extra ``scrutiny[slurm]``).

Each array task runs one trial with the same one-trial function as the local executor and writes the same store,
which must be on the filesystem that the compute nodes share; submitit's job files go beside it
(``<store>/.slurm`` unless told otherwise). The driver only submits and waits: if it exits, the array goes on, and
a later ``scrutiny run`` of the same sweep skips what finished, waits for trials still locked by a running task,
and submits the rest. A task that dies (time limit, node failure, preemption, a signal) is recorded as ``failed``
with submitit's error and submitted again up to ``max_retries`` times.

Tested here with submitit's local executor (``cluster='local'``: the same code, as subprocesses of this machine);
the SLURM path itself is untested on a real scheduler.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from scrutiny.execute._remote import prepare_store, run_remote_trial
from scrutiny.execute._sweep import PlannedTrial, Sweep
from scrutiny.execute.options import ExecutorError, SlurmOptions

INSTALL = "pip install 'scrutiny[slurm]'"


def _import_submitit() -> Any:
    try:
        import submitit
    except ImportError:
        raise ExecutorError(f"executor: 'slurm' needs submitit, which is not installed: {INSTALL}") from None
    return submitit


def make_executor(options: SlurmOptions, store_root: Path) -> Any:
    """A submitit executor for ``options`` whose job folder is beside the store."""
    submitit = _import_submitit()
    folder = Path(options.folder) if options.folder else store_root / ".slurm"
    executor = submitit.AutoExecutor(folder=folder / "%j", cluster=options.cluster)
    params: dict[str, Any] = {
        "timeout_min": options.time_min,
        "cpus_per_task": options.cpus_per_task,
        "gpus_per_node": options.gpus_per_task,
        "name": "scrutiny",
    }
    if executor.cluster == "slurm":
        params["slurm_array_parallelism"] = options.array_parallelism
        params["slurm_gpus_per_task"] = options.gpus_per_task
        params.pop("gpus_per_node")
        if options.partition:
            params["slurm_partition"] = options.partition
    executor.update_parameters(**params)
    return executor


def run_slurm(
    options: SlurmOptions | None, sweep: Sweep, to_run: list[PlannedTrial], threads: int | None, poll_s: float
) -> None:
    """Submit ``to_run`` as one job array, wait for its tasks and record them; resubmit dead tasks' trials."""
    if not to_run:
        return
    options = options or SlurmOptions()
    root = prepare_store(sweep.store, to_run[0].trial_id)
    executor = make_executor(options, root)
    threads = threads or options.cpus_per_task
    waiting = list(to_run)
    jobs: dict[Any, PlannedTrial] = {}
    while True:
        if waiting and not sweep.stop:
            for t in waiting:
                sweep.reporter.trial_started(t)
            submitted = executor.map_array(
                run_remote_trial,
                [str(root)] * len(waiting),
                [t.spec.to_dict() for t in waiting],
                [t.seed for t in waiting],
                [sweep.replace_failed(t) for t in waiting],
                [threads] * len(waiting),
            )
            jobs.update(zip(submitted, waiting, strict=True))
            waiting = []
        if not jobs:
            if sweep.stop or not sweep.deferred:
                return
            waiting = sweep.released(poll_s)
            continue
        done = [job for job in jobs if job.done()]
        if not done:
            time.sleep(poll_s)
            continue
        for job in done:
            t = jobs.pop(job)
            try:
                kind, payload = job.result()
            except Exception as exc:  # the task died: time limit, node failure, preemption, a signal
                if sweep.died(t, _death_cause(job, exc)):
                    waiting.append(t)
                continue
            if kind == "done":
                sweep.record(t, payload)
            elif kind == "error":
                sweep.error(t, payload)
            else:
                raise ExecutorError(
                    f"store: {root} is not visible on node {payload}; the store must be on the filesystem that the "
                    "compute nodes share"
                )


def _death_cause(job: Any, exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return f"SLURM job {job.job_id}: {type(exc).__name__}: {lines[0] if lines else 'no message'}"[:500]
