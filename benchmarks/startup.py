"""Start-up times against ``python -c "import torch"``, all measured in the same run.

Targets (issue 16): ``import scrutiny`` and ``scrutiny --help`` under 0.5 s; a worker process reaches its first
training step within 1 s of being spawned plus torch's own import. Each command runs ``--repeats`` times in a fresh
interpreter, in turns, and the median wall time is reported. The worker line spawns a fresh process
(``multiprocessing`` spawn, as the local executor does where there is no fork server), which imports what a worker
imports and starts a one-epoch trial; the
time to its first training step is spawn-to-first-epoch-event minus that epoch's own time. torch's own cost of a
first step (the import, and the ``torch._dynamo`` import that constructing the first optimizer triggers) is
measured as a plain script and reported beside it. The last line is what the local executor does now: a worker
forked from its fork server, which imported torch and the trial machinery (and the spec's lazy imports) before it
forked anything; the server's own start-up is not in that figure, it is paid once per process, in the background.

    python benchmarks/startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = """
label: startup
model: {name: small_cnn, width: 4}
data: {name: synthetic, num_classes: 4, channels: 1, size: 8, n_train: 64, n_test: 32, batch_size: 64}
optim: {name: sgd, lr: 0.05}
train: {epochs: 1, device: cpu}
"""
# A hand-written script's way to its first training step: torch's own cost, including the torch._dynamo import
# that the first optimizer's construction triggers (seconds; paid by any torch training process).
TORCH_STEP = (
    "import torch\nm = torch.nn.Linear(4, 2)\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
    "m(torch.zeros(8, 4)).sum().backward()\nopt.step()"
)
COMMANDS = {
    'python -c "import torch"': [sys.executable, "-c", "import torch"],
    "torch: import + first SGD step": [sys.executable, "-c", TORCH_STEP],
    'python -c "import scrutiny"': [sys.executable, "-c", "import scrutiny"],
    'python -c "import scrutiny.errors"': [sys.executable, "-c", "import scrutiny.errors"],
    'python -c "import scrutiny.stats"': [sys.executable, "-c", "import scrutiny.stats"],
    "scrutiny --help": [sys.executable, "-m", "scrutiny", "--help"],
    "scrutiny run --help": [sys.executable, "-m", "scrutiny", "run", "--help"],
    'python -c "pass"': [sys.executable, "-c", "pass"],
}


def _wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _worker(spec_path: str, store_root: str, spawned_at: float, queue) -> None:
    """What a local worker does: import the trial machinery, run a trial; report when its first epoch ended."""
    from scrutiny.spec import load_spec
    from scrutiny.store import Store
    from scrutiny.trials.loop import run_trial

    events: list[tuple[float, float]] = []

    def on_epoch(event: dict) -> None:
        events.append((time.time(), float(event.get("epoch_time_s", 0.0))))

    run_trial(load_spec(spec_path), 0, Store(store_root), threads=1, on_epoch=on_epoch)
    ended, epoch_s = events[0]
    queue.put(ended - spawned_at - epoch_s)


def _worker_start(tmp: Path, i: int, ctx) -> float:
    queue = ctx.Queue()
    process = ctx.Process(target=_worker, args=(str(tmp / "spec.yaml"), str(tmp / f"runs{i}"), time.time(), queue))
    process.start()
    value = queue.get(timeout=600)
    process.join()
    return value


def _forked_workers(tmp: Path, repeats: int) -> list[float] | None:
    """What the local executor does: workers forked from its fork server, started (and ready) beforehand with the
    spec's preload; ``None`` where there is no fork server."""
    from scrutiny.execute._pool import start_fork_server, worker_context
    from scrutiny.spec import load_spec

    ctx = worker_context()
    if ctx.get_start_method() != "forkserver":
        return None
    start_fork_server([load_spec(tmp / "spec.yaml")])
    ready = ctx.Process(target=time.sleep, args=(0,))  # returns once the server has done its imports
    ready.start()
    ready.join()
    return [_worker_start(tmp, 100 + i, ctx) for i in range(repeats)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    worker: list[float] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "spec.yaml").write_text(SPEC)
        for i in range(args.repeats):
            for name, cmd in COMMANDS.items():
                times[name].append(_wall(cmd))
            worker.append(_worker_start(tmp, i, mp.get_context("spawn")))
        forked = _forked_workers(tmp, args.repeats)
    med = {name: statistics.median(v) for name, v in times.items()}
    torch_s = med['python -c "import torch"']
    print(f"median of {args.repeats} runs each (fresh interpreters), seconds; ratio = time / import torch")
    for name, value in med.items():
        print(f"  {name:36s} {value:6.3f} s   ratio {value / torch_s:5.2f}")
    w = statistics.median(worker)
    print(f"  {'worker: spawn to first training step':36s} {w:6.3f} s   ratio {w / torch_s:5.2f}")
    step_s = med["torch: import + first SGD step"]
    print(f"  worker overhead beyond import torch: {w - torch_s:6.3f} s")
    print(f"  worker overhead beyond torch's own first step: {w - step_s:6.3f} s (target < 1 s)")
    if forked is not None:
        f = statistics.median(forked)
        print(f"  {'worker forked from the fork server':36s} {f:6.3f} s   ratio {f / torch_s:5.2f}")
    for name in ('python -c "import scrutiny"', "scrutiny --help"):
        print(f"  {name}: {'meets' if med[name] < 0.5 else 'MISSES'} the 0.5 s target")


if __name__ == "__main__":
    main()
