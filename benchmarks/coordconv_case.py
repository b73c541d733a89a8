"""The packaged CoordConv case at one scale: wall time of the whole scale, and time to 100 % test per arm.

Runs ``plan_claim`` / ``check_claim`` on ``scrutiny.cases.case_claim("coordconv")`` at the ``cpu`` scale (by
default) into a fresh temporary store, with ``workers=2``, and prints the wall time of the whole scale. Then, from
the stored per-epoch metrics of each trial (``epoch``, ``epoch_time_s``, ``test_acc``), it prints:

- for each classification arm named ``coordconv*``: the time to 100 % test, the sum of ``epoch_time_s``
  up to and including the first epoch with ``test_acc == 1.0`` ("never" if no epoch reaches it);
- for its baseline (the same name with ``coordconv`` replaced by ``conv``): the time to best, the sum of
  ``epoch_time_s`` up to its first epoch with the highest ``test_acc``;

and, per pair, the ratio baseline time-to-best / CoordConv time-to-100 % (means over seeds; "n/a" when a CoordConv
seed never reaches 100 %). Both sides are measured in the same run, on the same machine, with the same workers.
``epoch_time_s`` covers a training epoch and its test evaluation (the trainer's per-epoch device time); the
paper's "150× faster" compares about an hour of deconv training with about 25 s of CoordConv (reference section 2.4).

Run: ``python benchmarks/coordconv_case.py [--scale cpu] [--workers 2] [--threads 1] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

from scrutiny.cases import case_claim
from scrutiny.spec import spec_hash
from scrutiny.store import Store
from scrutiny.workflows.check import check_claim, plan_claim


def time_to(rows: list[dict], which: str) -> tuple[float | None, int | None, float | None]:
    """``(seconds, epoch, test_acc there)``: to the first epoch at 100 % (``which="full"``) or at the best test_acc."""
    evaluated = [r for r in rows if r.get("test_acc") is not None]
    if not evaluated:
        return None, None, None
    if which == "full":
        target = next((r for r in evaluated if r["test_acc"] == 1.0), None)
    else:
        top = max(r["test_acc"] for r in evaluated)
        target = next(r for r in evaluated if r["test_acc"] == top)
    if target is None:
        return None, None, None
    seconds = sum(r.get("epoch_time_s") or 0.0 for r in rows if r["epoch"] <= target["epoch"])
    return seconds, target["epoch"], target["test_acc"]


def fmt(x: float | None, spec: str = ".1f", none: str = "never") -> str:
    return none if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="cpu")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per trial")
    parser.add_argument("--keep", type=Path, default=None, help="store folder to use and keep (default: a temp dir)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="coordconv-case-") as tmp:
        store = Store(args.keep or Path(tmp) / "store")
        plan = plan_claim(case_claim("coordconv"), args.scale, store)
        todo = len(plan.to_run())
        print(
            f"case coordconv, scale {plan.scale}: {len(plan.specs)} arms × seeds {plan.seeds} = "
            f"{len(plan.trials)} trials ({todo} to run), workers {args.workers}, threads {args.threads}"
        )
        start = time.perf_counter()
        result = check_claim(plan, store, workers=args.workers, threads=args.threads)
        wall = time.perf_counter() - start
        print(f"wall time of the whole scale: {wall:.1f} s ({result.sweep.get('counts')})")
        for v in result.verdicts:
            print(f"  {v.verdict:<12} {v.hypothesis}  (estimate {fmt(v.estimate, '.3f', 'n/a')})")

        arm_of = {spec_hash(spec): name for name, spec in plan.specs.items()}
        per_arm: dict[str, list[tuple[int, float | None, int | None, float | None, float]]] = {}
        for t in plan.trials:
            name = arm_of[spec_hash(t.spec)]
            if t.spec.data.model_dump().get("task", "classification") != "classification":
                continue  # time to 100% test accuracy is a classification measure
            rows = store.metrics(t.trial_id)
            which = "full" if name.startswith("coordconv") else "best"
            seconds, epoch, acc = time_to(rows, which)
            total = sum(r.get("epoch_time_s") or 0.0 for r in rows)
            per_arm.setdefault(name, []).append((t.seed, seconds, epoch, acc, total))

        print()
        print(
            f"{'arm':<22} {'seed':>4} {'measure':<14} {'seconds':>9} {'epoch':>6} {'test_acc':>9} {'all epochs s':>13}"
        )
        for name, items in per_arm.items():
            measure = "to 100% test" if name.startswith("coordconv") else "to best test"
            for seed, seconds, epoch, acc, total in sorted(items):
                print(
                    f"{name:<22} {seed:>4} {measure:<14} {fmt(seconds):>9} {fmt(epoch, 'd', '-'):>6} "
                    f"{fmt(acc, '.4f', '-'):>9} {total:>13.1f}"
                )

        print()
        for name, items in per_arm.items():
            if not name.startswith("coordconv"):
                continue
            base = name.replace("coordconv", "conv", 1)
            if base not in per_arm:
                continue
            cc = [s for _, s, *_ in items]
            bl = [s for _, s, *_ in per_arm[base] if s is not None]
            bl_mean = sum(bl) / len(bl) if bl else None
            reached = [s for s in cc if s is not None]
            if reached and len(reached) == len(cc) and bl_mean is not None:
                cc_mean = sum(reached) / len(reached)
                ratio = f"{bl_mean / cc_mean:.1f}×" if cc_mean > 0 else "inf"
            else:
                cc_mean = sum(reached) / len(reached) if reached else None
                ratio = "n/a"
            print(
                f"{base} time-to-best {fmt(bl_mean)} s / {name} time-to-100% {fmt(cc_mean)} s "
                f"({len(reached)}/{len(cc)} seeds reach 100%): ratio {ratio}"
            )


if __name__ == "__main__":
    main()
