"""Count how hostile input fares: inputs tried, held (loaded, or refused in one line naming the file), failed.

Runs the checks of ``tests/spec/test_fuzz.py`` over more generated inputs than the suite does (derandomized, no
shrinking) and prints one row per kind with a few failing inputs. Not a test; run it by hand::

    .venv/bin/python tests/faults/measure_hostile_input.py [--scale 1.0]
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml
from hypothesis import Phase, given, settings

HERE = Path(__file__).resolve().parent


def _fuzz_module():
    spec = importlib.util.spec_from_file_location("fuzz_checks", HERE.parent / "spec" / "test_fuzz.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _count(name: str, strategy, check, n: int) -> tuple[str, Counter, list[str]]:
    outcomes: Counter = Counter()
    failures: list[str] = []

    @settings(max_examples=n, derandomize=True, deadline=None, database=None, phases=[Phase.generate])
    @given(strategy)
    def run(case):
        try:
            outcomes[check(case)] += 1
        except Exception as exc:  # noqa: BLE001 - every broken rule is counted and shown
            outcomes["failed"] += 1
            if len(failures) < 3:
                failures.append(f"{str(case)[:100]} -> {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")

    run()
    return name, outcomes, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the number of inputs of each kind")
    args = parser.parse_args()
    fz = _fuzz_module()
    st = fz.st
    folder = Path(tempfile.mkdtemp(prefix="hostile-"))
    base = folder / "base.yaml"
    base.write_text(yaml.safe_dump(fz.BASE))

    def n(k: int) -> int:
        return max(1, int(k * args.scale))

    overrides = st.tuples(fz.override_keys, fz.override_values)
    kinds = [
        ("specs", st.tuples(fz.mutations, fz.corruptions), lambda c: fz.check_spec(c[0], c[1], folder), n(600)),
        (
            "--set overrides",
            overrides,
            lambda c: fz.check_override(*c, base),
            n(300),
        ),
        ("claims", fz.claim_mutations, lambda c: fz.check_claim(c, folder, with_arms=False), n(205)),
        ("claims with arm specs", fz.claim_mutations, lambda c: fz.check_claim(c, folder, with_arms=True), n(205)),
        ("score files (JSON)", fz.json_scores, lambda c: fz.check_scores(c, folder), n(100)),
        ("score files (CSV)", fz.csv_scores, lambda c: fz.check_scores(c, folder), n(100)),
        ("score files naming the file", fz.score_files, lambda c: fz.check_scores(c, folder, True), n(100)),
    ]
    print(f"{'kind':30} {'tried':>6} {'loaded':>7} {'refused':>8} {'failed':>7} {'seconds':>8}")
    for name, strategy, check, count in kinds:
        t0 = time.perf_counter()
        _, outcomes, failures = _count(name, strategy, check, count)
        tried = sum(outcomes.values())
        print(
            f"{name:30} {tried:6d} {outcomes['loaded']:7d} {outcomes['refused']:8d} {outcomes['failed']:7d} "
            f"{time.perf_counter() - t0:8.1f}"
        )
        for line in failures:
            print(f"    e.g. {line}")


if __name__ == "__main__":
    main()
