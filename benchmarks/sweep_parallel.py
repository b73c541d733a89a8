"""Sweep speed: 2 local workers and a local Ray cluster of 2 CPUs against a serial sweep, all in the same run.

The same spec and seeds run three times into fresh stores at the same ``--threads`` (so all three give the same
numbers): serially in this process, with ``--workers 2``, and as Ray tasks. The Ray cluster's start-up
(``ray.init``) is timed and reported apart from the sweep. Targets (issue 16, on 2 cores): 2 workers >= 1.7x
serial, Ray >= 1.5x serial excluding the cluster's start-up.

    python benchmarks/sweep_parallel.py [--spec specs/digits_cnn.yaml] [--seeds 6] [--epochs 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from scrutiny.execute import Executor, run_sweep
from scrutiny.spec import load_spec
from scrutiny.store import Store

ROOT = Path(__file__).resolve().parents[1]


def _timed(label: str, fn) -> tuple[float, dict]:
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    finals = {tid: r["final_test_acc"] for tid, r in sorted(result.ran.items())}
    assert all(r["status"] == "complete" for r in result.ran.values()), f"{label}: a trial did not complete"
    print(f"  {label:34s} {seconds:7.2f} s")
    return seconds, finals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(ROOT / "specs" / "digits_cnn.yaml"))
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-ray", action="store_true", help="Skip the Ray sweep.")
    args = parser.parse_args()
    spec = load_spec(args.spec, [f"train.epochs={args.epochs}"])
    seeds = list(range(args.seeds))
    print(f"{args.spec}: {args.seeds} seeds x {args.epochs} epochs, --threads {args.threads}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        serial, finals = _timed("serial", lambda: run_sweep(spec, seeds, Store(tmp / "serial"), threads=args.threads))
        two, finals2 = _timed(
            "2 local workers", lambda: run_sweep(spec, seeds, Store(tmp / "w2"), workers=2, threads=args.threads)
        )
        print(f"  2 workers vs serial: {serial / two:.2f}x (target >= 1.7x); same numbers: {finals == finals2}")
        if args.no_ray:
            return
        import ray

        t0 = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
        started = time.perf_counter() - t0
        print(f"  {'Ray cluster start-up (ray.init)':34s} {started:7.2f} s (not in the ratio)")
        try:
            on_ray, finals3 = _timed(
                "Ray, 2 CPUs",
                lambda: run_sweep(spec, seeds, Store(tmp / "ray"), threads=args.threads, executor=Executor("ray")),
            )
        finally:
            ray.shutdown()
        print(f"  Ray vs serial: {serial / on_ray:.2f}x (target >= 1.5x); same numbers: {finals == finals3}")
        print(f"  Ray vs serial including start-up: {serial / (on_ray + started):.2f}x")


if __name__ == "__main__":
    main()
