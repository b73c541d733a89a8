"""Worker processes that outlive each other: one pipe per worker, and a dead worker fails only its own trial.

``concurrent.futures.ProcessPoolExecutor`` breaks as a whole when one worker dies (``BrokenProcessPool``): every
other worker's trial is killed and the dead trial is never recorded. Here each worker has its own pipe and the
parent watches each process's sentinel, so a worker killed by a signal (the OOM killer sends SIGKILL) or ended by
``sys.exit`` / ``os._exit`` in model code is reported with its cause and replaced; the others go on.
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any


def death_cause(exitcode: int | None) -> str:
    """Words for a worker's exit code: the signal (with "likely out of memory" for SIGKILL) or the exit status."""
    if exitcode is None:
        return "worker process vanished"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        oom = "; likely out of memory (the OOM killer sends SIGKILL)" if -exitcode == signal.SIGKILL else ""
        return f"worker process killed by {name} (signal {-exitcode}){oom}"
    return f"worker process exited with code {exitcode} (sys.exit or os._exit in the trial's code?)"


def _worker_main(conn, store_root: str, threads: int) -> None:
    """A worker's loop: receive ``(spec_data, seed, replace_failed)``, run the trial, send events and the outcome."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it terminates workers
    from scrutiny.spec import Spec
    from scrutiny.store import Store
    from scrutiny.trials.loop import run_trial

    def on_epoch(event: dict[str, Any]) -> None:
        try:
            conn.send(("epoch", event))
        except (OSError, ValueError):
            pass  # progress is best effort; it never fails a trial

    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        spec_data, seed, replace_failed = task
        try:
            record = run_trial(
                Spec.model_validate(spec_data),
                seed,
                Store(store_root),
                threads=threads,
                on_epoch=on_epoch,
                replace_failed=replace_failed,
            )
            conn.send(("done", record))
        except Exception as exc:  # busy, finished elsewhere, or the store itself failed: the parent decides
            try:
                conn.send(("error", exc))
            except Exception:  # an exception that does not pickle
                conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


@dataclass
class _Worker:
    process: Any
    conn: Any
    task: Any = None


class WorkerPool:
    """``size`` worker processes started with ``ctx``; :meth:`events` reports what each one did.

    Args:
        size: Number of workers.
        ctx: A multiprocessing context (``spawn``).
        store_root: The store the workers write.
        threads: torch CPU threads per trial.
        devices: Per worker, the ``CUDA_VISIBLE_DEVICES`` it starts with (one GPU each), or ``None`` to inherit this
            process's. A replaced worker gets its predecessor's device.
    """

    def __init__(self, size: int, ctx, store_root: str, threads: int, devices: list[str | None] | None = None) -> None:
        self._ctx, self._store_root, self._threads = ctx, store_root, threads
        self._devices = devices or [None] * size
        self._workers: list[_Worker | None] = [self._start(i) for i in range(size)]  # None: died, not yet replaced

    def _start(self, slot: int) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=_worker_main, args=(child, self._store_root, self._threads), daemon=True)
        # A worker starts with SIGINT ignored (an ignored signal stays ignored across exec), so a Ctrl-C sent to the
        # whole terminal process group while it is still importing prints no traceback from it.
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
        # A spawned child copies the environment at start: it sees only its GPU before anything imports torch.
        device, env_before = self._devices[slot], os.environ.get("CUDA_VISIBLE_DEVICES")
        if device is not None:
            os.environ["CUDA_VISIBLE_DEVICES"] = device
        try:
            process.start()
        finally:
            if main_thread:
                signal.signal(signal.SIGINT, previous)
            if device is not None:
                if env_before is None:
                    os.environ.pop("CUDA_VISIBLE_DEVICES", None)
                else:
                    os.environ["CUDA_VISIBLE_DEVICES"] = env_before
        child.close()
        return _Worker(process, parent)

    def idle(self) -> int:
        return sum(w is None or w.task is None for w in self._workers)

    def busy(self) -> int:
        return sum(w is not None and w.task is not None for w in self._workers)

    def submit(self, task: Any, spec_data: dict, seed: int, replace_failed: bool) -> None:
        """Give ``task`` (any object, returned with its events) to an idle worker (replacing a dead one if needed)."""
        i = next(i for i, w in enumerate(self._workers) if w is None or w.task is None)
        worker = self._workers[i]
        if worker is None:
            worker = self._workers[i] = self._start(i)
        worker.task = task
        worker.conn.send((spec_data, seed, replace_failed))

    def events(self, timeout: float) -> list[tuple[str, Any, Any]]:
        """Wait up to ``timeout`` s; return ``(kind, task, payload)`` with kind ``epoch``, ``done``, ``error`` or
        ``died`` (payload: the cause in words). A dead worker is replaced when it is next needed."""
        busy = [w for w in self._workers if w is not None and w.task is not None]
        ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=timeout)
        out: list[tuple[str, Any, Any]] = []
        for i, worker in enumerate(list(self._workers)):
            if worker is None or worker.task is None:
                continue
            if worker.conn not in ready and worker.process.sentinel not in ready:
                continue
            finished = False
            try:
                while worker.conn.poll():
                    kind, payload = worker.conn.recv()
                    out.append((kind, worker.task, payload))
                    if kind in ("done", "error"):
                        finished = True
                        break
            except (EOFError, OSError):
                pass
            if finished:
                worker.task = None
            elif not worker.process.is_alive():
                worker.process.join()
                out.append(("died", worker.task, death_cause(worker.process.exitcode)))
                worker.conn.close()
                self._workers[i] = None
        return out

    def close(self, terminate: bool = False) -> None:
        """Stop every worker: politely when idle, with SIGTERM when ``terminate`` (an interrupted sweep)."""
        workers = [w for w in self._workers if w is not None]
        for worker in workers:
            try:
                if terminate and worker.process.is_alive():
                    worker.process.terminate()
                else:
                    worker.conn.send(None)
            except (OSError, ValueError):
                pass
        for worker in workers:
            worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
