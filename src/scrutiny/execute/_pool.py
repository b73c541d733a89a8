"""Worker processes that outlive each other: one pipe per worker, and a dead worker fails only its own trial.

``concurrent.futures.ProcessPoolExecutor`` breaks as a whole when one worker dies (``BrokenProcessPool``): every
other worker's trial is killed and the dead trial is never recorded. Here each worker has its own pipe and the
parent watches each process's sentinel, so a worker killed by a signal (the OOM killer sends SIGKILL) or ended by
``sys.exit`` / ``os._exit`` in model code is reported with its cause and replaced; the others go on.

Workers are forked from a fork server (where the platform has one) that imported torch and the trial machinery once
(:mod:`scrutiny.execute._warm`), so a worker, and a dead worker's replacement, starts its first trial at once
instead of after seconds of imports. The server is started once per process, as early as a sweep knows it needs
workers, and serves every later sweep of that process. Where there is no fork server, workers are spawned.
"""

from __future__ import annotations

import ast
import inspect
import multiprocessing as mp
import os
import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrutiny.spec import Spec

# What the fork server imports before it forks anything: the main module (as spawned children would, so that no
# worker imports it again) and what every trial imports.
PRELOAD = ["__main__", "scrutiny.execute._warm"]
WARM_MODULES = "SCRUTINY_WARM_MODULES"  # the fork server's environment names more modules for _warm to import


def worker_context() -> Any:
    """The multiprocessing context local workers start from: the fork server where there is one, else spawn."""
    return mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")


def start_fork_server(specs: Iterable[Spec] = ()) -> None:
    """Start the fork server now, without waiting for it: it imports torch, the trial machinery and what ``specs``
    import lazily (:func:`lazy_imports`) while the caller goes on; the first worker's start waits for what is left.
    A server already running (this process started it before) is kept, with the imports it has."""
    ctx = worker_context()
    if ctx.get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    ctx.set_forkserver_preload(PRELOAD)
    before = os.environ.get(WARM_MODULES)
    os.environ[WARM_MODULES] = ",".join(lazy_imports(specs))  # the server starts with a copy of this environment
    try:
        with _sigint_ignored():  # its workers start with SIGINT ignored, as the server itself does
            forkserver.ensure_running()
    finally:
        if before is None:
            os.environ.pop(WARM_MODULES, None)
        else:
            os.environ[WARM_MODULES] = before


def lazy_imports(specs: Iterable[Spec]) -> list[str]:
    """The modules of the registered data sets and models of ``specs``, and every module those modules import,
    including inside their functions (scikit-learn, which the digits data set imports when it loads), read from
    their source. Imported ahead in the fork server, they cost a new worker nothing. A ``module:callable`` name is
    skipped: a user's module is imported in the worker, as it is now, never kept in the long-lived server.
    """
    from scrutiny.registry import DATASETS, MODELS

    modules: set[str] = set()
    for spec in specs:
        for registry, name in ((DATASETS, spec.data.name), (MODELS, spec.model.name)):
            if name not in registry:
                continue
            module = inspect.getmodule(registry.get(name))
            if module is None or module.__name__ in modules:
                continue
            modules.add(module.__name__)
            try:
                tree = ast.parse(inspect.getsource(module))
            except (OSError, TypeError, SyntaxError):
                continue  # no source at hand: the worker imports what it needs itself
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module)
    return sorted(modules)


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored for the block, in the main thread: a process started meanwhile inherits the ignored signal
    (it stays ignored across exec), so a Ctrl-C sent to the whole terminal process group while it is still
    starting prints no traceback from it. Ctrl-C is the parent's to handle: it terminates the workers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


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


def _worker_main(conn, store_root: str, threads: int, environ: dict[str, str]) -> None:
    """A worker's loop: receive ``(spec_data, seed, replace_failed)``, run the trial, send events and the outcome.

    ``environ`` is the parent's environment when it started this worker (with the worker's
    ``CUDA_VISIBLE_DEVICES``): a worker forked from the fork server would otherwise see the server's, frozen when
    it started. It is set before anything initialises CUDA (the fork server never does).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it terminates workers
    if os.environ != environ:
        os.environ.clear()
        os.environ.update(environ)
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
        ctx: A multiprocessing context (:func:`worker_context`: the fork server, or ``spawn``).
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
        # The worker sees this process's environment as it is now, and only its GPU, before anything imports
        # torch (spawn) or initialises CUDA (the fork server imported torch but never touched CUDA).
        environ, device = dict(os.environ), self._devices[slot]
        if device is not None:
            environ["CUDA_VISIBLE_DEVICES"] = device
        args = (child, self._store_root, self._threads, environ)
        process = self._ctx.Process(target=_worker_main, args=args, daemon=True)
        with _sigint_ignored():  # a spawned worker starts with SIGINT ignored until it ignores it itself
            process.start()
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
