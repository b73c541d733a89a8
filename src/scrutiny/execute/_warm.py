"""What every trial imports, imported once in the fork server that local workers are forked from (a fork server
preloads modules by name, so importing this module is the work).

A trial's first step otherwise waits for seconds of imports: torch, then ``torch._dynamo``, which torch imports when
the first optimizer is constructed, then what the data set imports when it loads (scikit-learn for digits). Nothing
imported here may initialise CUDA, run a tensor operation or start a thread (tests/execute/test_fork_server.py checks
it for a digits sweep): a forked worker sets ``CUDA_VISIBLE_DEVICES`` after the fork, which counts only while CUDA is
uninitialised, and a fork copies only the thread that forks.
"""

from __future__ import annotations

import importlib
import os

MODULES = ("torch", "torch._dynamo", "scrutiny.spec", "scrutiny.store", "scrutiny.trials.loop")
# More modules, named by whoever started the fork server: what the sweep's data sets and models import lazily
# (scrutiny.execute._pool.lazy_imports).
EXTRA = tuple(name for name in os.environ.get("SCRUTINY_WARM_MODULES", "").split(",") if name)


def warm(modules: tuple[str, ...] = MODULES) -> dict[str, str]:
    """Import ``modules``; return those that failed, with the error in words (a failure here costs only time: the
    trial imports the module again and reports its own error)."""
    failed = {}
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # never break the fork server: it would take every worker with it
            failed[name] = f"{type(exc).__name__}: {exc}"
    return failed


FAILED = warm(MODULES + EXTRA)
