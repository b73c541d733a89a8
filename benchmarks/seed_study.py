"""N seeds of the airbench recipe through ``scrutiny run``, as a user runs them; wall time per trial and in all.

Runs ``python -m scrutiny run specs/cifar10_airbench94.yaml --seeds 0-(N-1)`` in a fresh store with ``--workers``
worker processes (several trials share one GPU with ``--gpus-per-trial`` below 1), then reads every trial's record
and prints its wall time, its device time (training and evaluation epochs) and its test accuracy, and the sweep's
wall time in all, with the time per seed and what 100 seeds take at that rate. Target on one H100-class GPU: 100
seeds in at most 10 minutes, evaluation included.

Where ``--data-root`` is not given (the GPU machines here have no network, so no CIFAR-10), a CIFAR-10-format
folder of random images in torchvision's layout (50,000 + 10,000 by default) is written first and the output says
so: its accuracies are chance, only its times mean anything.

    python benchmarks/seed_study.py [--seeds 100] [--data-root /data/cifar10] [--workers 4 --gpus-per-trial 0.25]
        [--set train.device=cpu ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scrutiny.data.cifar_files import write_random_cifar10
from scrutiny.store import Store

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "cifar10_airbench94.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=100, help="number of seeds (0..N-1)")
    parser.add_argument("--data-root", default=None, help="a folder holding cifar-10-batches-py; default: random")
    parser.add_argument("--n-train", type=int, default=50000, help="random folder: training images")
    parser.add_argument("--n-test", type=int, default=10000, help="random folder: test images")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--gpus-per-trial", type=float, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="spec override, repeatable")
    parser.add_argument("--spec", type=Path, default=SPEC)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data_root
        if root is None:
            root = str(Path(tmp) / "cifar")
            write_random_cifar10(root, args.n_train, args.n_test)
            print(f"# data: RANDOM images in CIFAR-10's format ({args.n_train} + {args.n_test}); times only")
        else:
            print(f"# data: {root}")
        store = Path(tmp) / "store"
        command = [sys.executable, "-m", "scrutiny", "run", str(args.spec), "--seeds", f"0-{args.seeds - 1}"]
        command += ["--store", str(store), "--workers", str(args.workers), "--set", f"data.root={root}"]
        for override in args.overrides:
            command += ["--set", override]
        if args.gpus_per_trial is not None:
            command += ["--gpus-per-trial", str(args.gpus_per_trial)]
        print("# " + " ".join(command))
        t0 = time.perf_counter()
        done = subprocess.run(command, env={**os.environ, "NO_COLOR": "1"}, capture_output=True, text=True)
        total = time.perf_counter() - t0
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
            raise SystemExit("seed_study: scrutiny run failed:\n" + "\n".join(tail))
        trials = Store(store)
        records = [trials.result(t) for t in sorted(trials.trial_ids())]
    print(f"{'trial':22s} {'status':9s} {'wall s':>8s} {'device s':>9s} {'test acc':>9s}")
    for r in records:
        acc = r.get("final_test_acc")
        print(
            f"{r['trial_id']:22s} {r['status']:9s} {r['wall_time_s']:8.2f} {r.get('device_time_s') or 0:9.2f} "
            f"{'' if acc is None else f'{acc:.4f}':>9s}"
        )
    complete = [r for r in records if r["status"] == "complete"]
    print(f"{len(complete)} of {len(records)} trials complete")
    if complete:
        wall = statistics.median(r["wall_time_s"] for r in complete)
        device = statistics.median(r["device_time_s"] for r in complete)
        print(f"per trial: median wall {wall:.2f} s, median device {device:.2f} s")
    print(
        f"sweep: {len(records)} seeds in {total:.1f} s wall ({total / max(len(records), 1):.2f} s per seed); "
        f"100 seeds at this rate: {100 * total / max(len(records), 1) / 60:.1f} min (target <= 10 min on one "
        "H100-class GPU)"
    )


if __name__ == "__main__":
    main()
