"""A lock hammer: many processes take one trial's lock over and over; no round may ever see two holders."""

from __future__ import annotations

import multiprocessing as mp
import os
import time

from scrutiny.store import Store, TrialBusyError

PROCESSES, ROUNDS = 8, 150  # 1,200 rounds in all


def _hammer(root: str, rounds: int, out) -> None:
    store, marker = Store(root), os.path.join(root, "holder")
    doubles = errors = 0
    for _ in range(rounds):
        while True:
            try:
                lock = store.lock("abc123-s0")
                break
            except TrialBusyError:
                time.sleep(0.0002)
            except Exception:  # noqa: BLE001 - any other error is counted, not hidden
                errors += 1
                time.sleep(0.0002)
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # fails if another holder is inside
            os.close(fd)
            time.sleep(0)  # let the others try while we hold it
            os.unlink(marker)
        except FileExistsError:
            doubles += 1
        finally:
            lock.release()
    out.put((doubles, errors))


def test_no_two_holders_in_a_thousand_rounds(tmp_path):
    ctx = mp.get_context("fork")  # the store is imported already; forking keeps the hammer to seconds
    out = ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(str(tmp_path), ROUNDS, out)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert sum(r[0] for r in results) == 0, f"double holders: {results}"
    assert sum(r[1] for r in results) == 0, f"errors while locking: {results}"
    assert PROCESSES * ROUNDS >= 1000
