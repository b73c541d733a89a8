"""Sweep speed: 2 local workers, and Ray on 2 CPUs, against a serial sweep; all measured in the same run.

Every mode runs the same spec and seeds at the same ``--threads`` into a fresh store, so all give the same final
metrics (checked: ``same numbers``). Two comparisons, each reported as time and ratio to serial:

end to end
    What a user waits for: ``scrutiny run SPEC --seeds 0-N --threads T`` in a fresh interpreter, serially, with
    ``--workers 2``, and with ``--executor ray --address`` on a Ray head started for the benchmark (``ray start
    --head --num-cpus 2``; its start-up is timed and reported apart, the target excludes it). Each command pays its
    own interpreter start and imports: the serial one in its own process, the parallel ones in their fork server,
    workers or Ray workers as well. ``--repeats`` runs of each mode, in turns; the median.
in this process, warm
    The executors themselves, with every import paid beforehand: each mode first runs a warm-up sweep (two one-epoch
    trials of the same spec into a scratch store), which leaves this process with what a trial imports (serial), the
    fork server running with its preload (workers; it also imports what the spec's data set and model import
    lazily, scikit-learn for digits), or the Ray job's workers with their imports (Ray); then the timed sweep. Its
    local workers are forked from the server afresh; Ray reuses its job's workers.

Beside each figure: the CPUs busy on average while it was measured (everyone's work, from /proc/stat: a serial run
should show about 1, a parallel one about 2; more means other work shared the machine) and the load average after
it (which lags, and includes this benchmark's own earlier runs; the one printed at the start tells other work). On a
2-core machine other work skews every figure, the parallel ones most: run it on a quiet machine, and again if not.
Before the end-to-end runs, one untimed ``scrutiny run`` reads the libraries from disk once, so that no mode pays
for a cold page cache. The last line estimates the best an end-to-end parallel run could do: serial's fixed cost
(end to end minus in process) paid once, and the trials split perfectly in two.

Targets (issue 16, on 2 cores, trials of a few seconds each): 2 workers >= 1.7x serial; Ray >= 1.5x serial
excluding the cluster's own start-up.

    python benchmarks/sweep_parallel.py [--spec specs/digits_cnn.yaml] [--seeds 6] [--epochs 8] [--threads 1]
                                        [--repeats 1] [--no-ray] [--no-end-to-end]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from scrutiny.execute import Executor, run_sweep
from scrutiny.spec import load_spec, trial_id
from scrutiny.store import Store

ROOT = Path(__file__).resolve().parents[1]
RAY = Path(sys.executable).with_name("ray")


def _load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def _cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat (Linux); ``None`` elsewhere."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _busy(before: tuple[int, int] | None) -> str:
    """How many CPUs were busy on average since ``before``, everyone's work counted."""
    after = _cpu_ticks()
    if before is None or after is None or after[1] == before[1]:
        return ""
    return f"busy CPUs {(after[0] - before[0]) / (after[1] - before[1]) * (os.cpu_count() or 1):.2f}, "


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SCRUTINY_STORE", None)
    # Ray >= 2.5x starts a head with token authentication; its clients must say so too.
    env.update(NO_COLOR="1", RAY_AUTH_MODE="token")
    return env


def _finals(store: Path, ids: list[str]) -> dict[str, float]:
    s = Store(store)
    records = {t: s.result(t) for t in ids}
    assert all(r["status"] == "complete" for r in records.values()), f"{store}: a trial did not complete"
    return {t: r["final_test_acc"] for t, r in records.items()}


def _reachable(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _ray_head(tmp: Path, cpus: int) -> Iterator[tuple[str, float]]:
    """A Ray head (``ray start --head --block``) on 127.0.0.1: ``(address, seconds until it took a client)``."""
    import ray

    port = _free_port()
    cmd = [str(RAY), "start", "--head", "--block", "--port", str(port), "--node-ip-address", "127.0.0.1"]
    cmd += ["--num-cpus", str(cpus), "--include-dashboard", "false", "--disable-usage-stats"]
    cmd += ["--temp-dir", str(tmp / "ray")]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=_env()
    )
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while not _reachable(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("ray start --head did not come up")
            time.sleep(0.1)
        ray.init(
            address=address, logging_level=logging.WARNING, log_to_driver=False
        )  # waits until the head takes clients
        ray.shutdown()
        started = time.perf_counter() - t0
        yield address, started
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _cli(args: argparse.Namespace, store: Path, extra: list[str], seeds: int = 0, epochs: int = 0) -> tuple[float, str]:
    """Wall time of ``scrutiny run`` over the benchmark's spec (``seeds`` and ``epochs``: other than the
    benchmark's), and the busy CPUs meanwhile."""
    cmd = [sys.executable, "-m", "scrutiny", "run", args.spec, "--seeds", f"0-{(seeds or args.seeds) - 1}"]
    cmd += ["--set", f"train.epochs={epochs or args.epochs}", "--threads", str(args.threads)]
    cmd += ["--store", str(store), "--json"]
    t0, ticks = time.perf_counter(), _cpu_ticks()
    done = subprocess.run(cmd + extra, capture_output=True, text=True, env=_env())
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd + extra)} failed:\n{done.stderr[-2000:]}")
    return seconds, _busy(ticks)


def _report(label: str, seconds: float, serial: float | None, target: float | None = None, busy: str = "") -> None:
    ratio = f"{serial / seconds:5.2f}x serial" if serial else ""
    goal = f" (target >= {target}x)" if target else ""
    print(f"  {label:44s} {seconds:7.2f} s  {ratio}{goal}   [{busy}{_load()} after]", flush=True)


def end_to_end(args: argparse.Namespace, tmp: Path, ids: list[str], modes: dict[str, list[str]]) -> dict:
    """Each mode ``--repeats`` times, in turns: ``{mode: (median seconds, final metrics)}``."""
    times: dict[str, list[float]] = {m: [] for m in modes}
    finals = {}
    for r in range(args.repeats):
        for mode, extra in modes.items():
            store = tmp / f"e2e-{len(times)}-{mode.split()[0].strip('-')}-{r}"
            seconds, busy = _cli(args, store, extra)
            times[mode].append(seconds)
            finals[mode] = _finals(store, ids)
            print(f"    {mode:42s} {seconds:7.2f} s   [{busy}{_load()} after]", flush=True)
    return {m: (statistics.median(v), finals[m]) for m, v in times.items()}


def _timed(label: str, fn: Callable[[], object], serial: float | None = None, target: float | None = None) -> float:
    t0, ticks = time.perf_counter(), _cpu_ticks()
    fn()
    seconds = time.perf_counter() - t0
    _report(label, seconds, serial, target, _busy(ticks))
    return seconds


class InProcess:
    """The in-process comparison: each mode runs its warm-up sweep, then the timed one."""

    def __init__(self, args: argparse.Namespace, tmp: Path, ids: list[str]) -> None:
        self.tmp, self.ids, self.threads = tmp, ids, args.threads
        self.spec = load_spec(args.spec, [f"train.epochs={args.epochs}"])
        self.warm_spec = load_spec(args.spec, ["train.epochs=1"])
        self.seeds, self.warm_seeds = list(range(args.seeds)), [10_000, 10_001]  # warm-up seeds: not timed ones
        self.finals: dict[str, dict[str, float]] = {}
        self.serial = 0.0

    def run(self, name: str, target: float | None = None, **kwargs) -> None:
        """The warm-up sweep, then the timed one; ``kwargs`` go to ``run_sweep`` (none: serial)."""

        def sweep(spec, seeds: list[int], store: Store) -> None:
            run_sweep(spec, seeds, store, threads=self.threads, **kwargs)

        warm_store, store = Store(self.tmp / f"warm-{name}"), Store(self.tmp / f"in-{name}")
        _timed(f"{name}: warm-up sweep (in no ratio)", lambda: sweep(self.warm_spec, self.warm_seeds, warm_store))
        seconds = _timed(name, lambda: sweep(self.spec, self.seeds, store), self.serial or None, target)
        self.serial = self.serial or seconds
        self.finals[name] = _finals(store.root, self.ids)

    def same(self) -> bool:
        return all(f == self.finals["serial"] for f in self.finals.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(ROOT / "specs" / "digits_cnn.yaml"))
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1, help="End-to-end runs of each mode (the median is shown).")
    parser.add_argument("--no-ray", action="store_true", help="Skip the Ray sweeps.")
    parser.add_argument("--no-end-to-end", action="store_true", help="Only the in-process comparison.")
    args = parser.parse_args()
    os.environ["RAY_AUTH_MODE"] = "token"  # before Ray is imported: it reads the mode once
    spec = load_spec(args.spec, [f"train.epochs={args.epochs}"])
    ids = [trial_id(spec, s) for s in range(args.seeds)]
    print(f"{args.spec}: {args.seeds} seeds x {args.epochs} epochs, --threads {args.threads}; {os.cpu_count()} CPUs")
    print(f"[{_load()} at the start]")
    e2e: dict = {}
    ray_modes = {"--executor ray --address": ["--executor", "ray", "--address"]}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        # The local modes first, with no Ray cluster on the machine to compete with them.
        if not args.no_end_to_end:
            # One untimed run first, so that no mode pays for reading the libraries from disk the first time.
            _cli(args, tmp / "page-cache", [], seeds=1, epochs=1)
            print("end to end, local (each run as it ends):")
            e2e = end_to_end(args, tmp, ids, {"serial": [], "--workers 2": ["--workers", "2"]})
        print("in this process, local: each mode after its own warm-up sweep (2 one-epoch trials)")
        local = InProcess(args, tmp, ids)
        local.run("serial")
        local.run("2 local workers", 1.7, workers=2)
        if not args.no_ray:
            with _ray_head(tmp, 2) as (address, started):
                print(f"  {'Ray head start-up (ray start --head), 2 CPUs':44s} {started:7.2f} s  (in no ratio)")
                if not args.no_end_to_end:
                    print("end to end, Ray:")
                    mode = next(iter(ray_modes))
                    e2e.update(end_to_end(args, tmp, ids, {mode: ray_modes[mode] + [address]}))
                import ray

                print("in this process, Ray: after its warm-up sweep")
                _timed(
                    "Ray: connect to the head (not in the ratio)",
                    lambda: ray.init(address=address, log_to_driver=False),
                )
                try:
                    local.run("Ray, 2 CPUs", 1.5, executor=Executor("ray"))
                finally:
                    ray.shutdown()
        print(f"  in-process same numbers: {local.same()}")
        if e2e:
            serial = e2e["serial"][0]
            fixed = serial - local.serial  # interpreter, imports and first-trial costs, paid once by any mode
            best = serial / (fixed + local.serial / 2)
            print("end to end (median):")
            targets = {"--workers 2": 1.7, "--executor ray --address": 1.5}
            for mode, (seconds, _) in e2e.items():
                _report(mode, seconds, serial if mode != "serial" else None, targets.get(mode))
            print(f"  end-to-end same numbers: {all(f == e2e['serial'][1] for _, f in e2e.values())}")
            print(
                f"  serial's fixed cost (end to end minus in process): {fixed:.2f} s; were it paid once and the "
                f"trials split perfectly in two, end to end would reach {best:.2f}x"
            )


if __name__ == "__main__":
    main()
