"""Run trials as tasks on a Ray cluster (the optional extra ``scrutiny[ray]``).

Each trial is one Ray task with declared resources (``num_cpus``, ``num_gpus``, fractions allowed) that calls the
same one-trial function as the local executor and writes the same store, which must be a path every node sees.
Only the driver plans and records; a trial folder's atomic final record stays the only mark of completion, and the
trial's lock keeps two processes from running it at once. Ray's own task retries are off: a task whose worker or
node dies is recorded as ``failed`` with Ray's error and run again by the driver up to ``max_retries`` times, as in
the local executor. Ctrl-C cancels the running tasks (their trials stay incomplete and run again next time); a
killed driver takes its tasks with it (Ray ends a job's workers when its driver goes).
"""

from __future__ import annotations

import math
import os
import socket
import uuid
from pathlib import Path
from typing import Any

from scrutiny.execute._remote import TOKEN_DIR, prepare_store, run_remote_trial, store_visible
from scrutiny.execute._sweep import PlannedTrial, Sweep
from scrutiny.execute.options import Executor, ExecutorError

INSTALL = "pip install 'scrutiny[ray]'"


def import_ray() -> Any:
    """The ``ray`` module, or a one-line error that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ExecutorError(f"executor: 'ray' needs Ray, which is not installed: {INSTALL}") from None
    return ray


def _check_address(address: str) -> None:
    """A quick TCP check of ``HOST:PORT`` / ``ray://HOST:PORT``, so an unreachable cluster fails in seconds."""
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise ExecutorError(f"address: expected 'auto', HOST:PORT or ray://HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=5).close()
    except OSError as exc:
        raise ExecutorError(f"address: cannot reach a Ray cluster at {address} ({exc.strerror or exc})") from None


class RaySweep:
    """A connection to a Ray cluster, checked before any trial runs, and the loop that runs a sweep's trials on it.

    Args:
        executor: ``kind='ray'``, with ``address``, ``cpus_per_trial`` and ``gpus_per_trial``.
        sweep: The sweep's bookkeeping.
        threads: torch CPU threads per trial (default: ``cpus_per_trial`` rounded down, at least 1).

    Raises:
        ExecutorError: Ray missing, the cluster unreachable, resources it lacks, or a store a node cannot see.
    """

    def __init__(self, executor: Executor, sweep: Sweep, threads: int | None, to_run: list[PlannedTrial]) -> None:
        self.ray = import_ray()
        self.sweep, self.to_run = sweep, to_run
        self.cpus = executor.cpus_per_trial or float(threads or 1)
        self.threads = threads or max(1, int(self.cpus))
        self.slots = 1
        self.started_here = not self.ray.is_initialized()
        if self.started_here:
            self._connect(executor.address)
        try:
            self.gpus = self._check_resources(executor.gpus_per_trial)
            self.root = str(sweep.store.root.resolve())
            self._probe_store(to_run[0])
        except BaseException:
            self.close()
            raise

    def _connect(self, address: str | None) -> None:
        if address not in (None, "auto"):
            _check_address(address)
        try:
            self.ray.init(address=address, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
        except Exception as exc:  # ConnectionError, TimeoutError, RuntimeError: Ray's words, on one line
            where = f"at {address}" if address else "on this machine"
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            hint = ""
            if address and "RAY_AUTH_MODE" not in os.environ:
                hint = " (a cluster started with token authentication, Ray's default, needs RAY_AUTH_MODE=token here)"
            raise ExecutorError(f"address: cannot start or join a Ray cluster {where}: {message}{hint}") from None

    def _check_resources(self, gpus_per_trial: float | None) -> float:
        nodes = [n["Resources"] for n in self.ray.nodes() if n.get("Alive")]
        most_cpus = max((r.get("CPU", 0.0) for r in nodes), default=0.0)
        most_gpus = max((r.get("GPU", 0.0) for r in nodes), default=0.0)
        if self.cpus > most_cpus:
            raise ExecutorError(f"cpus_per_trial: {self.cpus:g} asked for; the largest node has {most_cpus:g} CPUs")
        gpus = gpus_per_trial if gpus_per_trial is not None else 0.0
        if gpus_per_trial is None and any(t.spec.train.device.startswith(("cuda", "auto")) for t in self.to_run):
            gpus = 1.0 if most_gpus >= 1 else 0.0  # a GPU trial gets a whole GPU unless told to share
        if gpus > 0 and most_gpus == 0:
            raise ExecutorError(f"gpus_per_trial: {gpus:g} GPU(s) per trial asked for; the Ray cluster has no GPU")
        if gpus > most_gpus:
            raise ExecutorError(f"gpus_per_trial: {gpus:g} asked for; the largest node has {most_gpus:g} GPUs")
        total = self.ray.cluster_resources()
        slots = math.floor(total.get("CPU", 0.0) / self.cpus + 1e-9)
        if gpus > 0:
            slots = min(slots, math.floor(total.get("GPU", 0.0) / gpus + 1e-9))
        self.slots = max(1, slots)
        return gpus

    def _probe_store(self, first: PlannedTrial) -> None:
        """Run one task on every alive node that checks it sees the store (a token the driver wrote)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        prepare_store(self.sweep.store, first.trial_id)
        token = f"probe-{uuid.uuid4().hex}"
        path = self._write_token(token)
        try:
            probe = self.ray.remote(num_cpus=0, max_retries=0)(store_visible)
            refs = [
                probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(
                    self.root, token
                )
                for n in self.ray.nodes()
                if n.get("Alive")
            ]
            blind = sorted({host for host, ok in self.ray.get(refs, timeout=120) if not ok})
        finally:
            path.unlink(missing_ok=True)
        if blind:
            raise ExecutorError(
                f"store: {self.root} is not visible and writable on node(s) {', '.join(blind)}; "
                "the store must be a path that every node of the cluster sees (a shared filesystem)"
            )

    def _write_token(self, token: str) -> Path:
        path = Path(self.root) / TOKEN_DIR / token
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("scrutiny: a node that reads this sees the store\n")
        return path

    def run(self, poll_s: float) -> None:
        """Run the trials on the cluster; on return or Ctrl-C, cancel what runs and leave a cluster started here."""
        from ray.util.queue import Queue

        pending: dict[Any, PlannedTrial] = {}
        self.events = Queue(actor_options={"num_cpus": 0})  # the trials' epochs, for the progress display
        try:
            self._loop(list(self.to_run), pending, poll_s)
        finally:
            self.events.shutdown()
            for ref in pending:
                self.ray.cancel(ref, force=True)  # their trials have no final record: incomplete, run next time
            self.close()

    def _loop(self, waiting: list[PlannedTrial], pending: dict[Any, PlannedTrial], poll_s: float) -> None:
        ray, sweep = self.ray, self.sweep
        task = ray.remote(max_retries=0)(run_remote_trial).options(num_cpus=self.cpus, num_gpus=self.gpus)
        while True:
            while waiting and len(pending) < self.slots and not sweep.stop:
                t = waiting.pop(0)
                sweep.reporter.trial_started(t)
                args = (self.root, t.spec.to_dict(), t.seed, sweep.replace_failed(t), self.threads, self.events)
                ref = task.remote(*args)
                pending[ref] = t
            if not pending:
                if sweep.stop or (not waiting and not sweep.deferred):
                    return
                if not waiting:
                    waiting = sweep.released(poll_s)
                continue
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            self._epochs()
            for ref in ready:
                t = pending.pop(ref)
                try:
                    kind, payload = ray.get(ref)
                except ray.exceptions.RayError as exc:  # the worker or its node died, or Ray failed the task
                    if sweep.died(t, _death_cause(exc)):
                        waiting.insert(0, t)
                    continue
                if kind == "done":
                    sweep.record(t, payload)
                elif kind == "error":
                    sweep.error(t, payload)
                else:
                    raise ExecutorError(
                        f"store: {self.root} is not visible on node {payload}; the store must be a path that every "
                        "node of the cluster sees (a shared filesystem)"
                    )

    def _epochs(self) -> None:
        n = self.events.qsize()
        for event in self.events.get_nowait_batch(n) if n else []:
            self.sweep.reporter.epoch(event)

    def close(self) -> None:
        """Shut down the Ray connection (and the local cluster) if this sweep made it."""
        if self.started_here and self.ray.is_initialized():
            self.ray.shutdown()


def _death_cause(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return f"Ray: {type(exc).__name__}: {lines[0] if lines else 'no message'}"[:500]
