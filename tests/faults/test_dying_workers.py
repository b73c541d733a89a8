"""Sweeps survive their workers: a worker killed by a signal or ended by its trial's code fails only that trial."""

from __future__ import annotations

import json
import signal

import pytest

from scrutiny.execute import run_trials
from scrutiny.execute._pool import death_cause
from scrutiny.spec import load_spec
from scrutiny.store import Store

from .conftest import synthetic_spec

# Model builders that end the worker process while the model is built, as the OOM killer or a stray exit would.
DEADLY = """
import os
import signal
import sys


def sigkill(width: int = 4, num_classes: int = 10, in_channels: int = 3):
    os.kill(os.getpid(), signal.SIGKILL)


def sys_exit(width: int = 4, num_classes: int = 10, in_channels: int = 3):
    sys.exit(3)


def ray_terminate(width: int = 4, num_classes: int = 10, in_channels: int = 3):
    exc = SystemExit(1)
    exc.ray_terminate_msg = "The process receives a SIGTERM."  # what Ray raises in a task it ends
    raise exc
"""


@pytest.fixture
def deadly(tmp_path, monkeypatch):
    (tmp_path / "deadly_models.py").write_text(DEADLY)
    monkeypatch.syspath_prepend(str(tmp_path))  # spawned workers inherit sys.path
    return lambda how: load_spec(synthetic_spec(tmp_path / f"{how}.yaml", model=f"deadly_models:{how}"))


def test_killed_workers_fail_only_their_trials_and_the_sweep_goes_on(deadly, synthetic_spec_file, tmp_path):
    good = load_spec(synthetic_spec_file)
    items = [(deadly("sigkill"), 0), (good, 0), (good, 1)]
    store = Store(tmp_path / "runs")
    result = run_trials(items, store, workers=2, threads=1, max_retries=1)
    assert not result.interrupted and len(result.ran) == 3
    name = {t: json.loads((store.trial_dir(t) / "spec.json").read_text())["spec"]["model"]["name"] for t in result.ran}
    statuses = {t: store.status(t) for t in result.ran}
    assert sorted(statuses.values()) == ["complete", "complete", "failed"]  # the other worker's trials finished
    (killed_id,) = [t for t, n in name.items() if n == "deadly_models:sigkill"]
    killed = store.result(killed_id)
    assert killed["status"] == "failed" and "SIGKILL" in killed["error"] and "likely out of memory" in killed["error"]
    assert killed["worker_deaths"] == 2 and "not retried again" in killed["error"]  # once, then one retry
    again = run_trials(items, store, workers=2, threads=1)  # failed trials are not retried without retry_failed
    assert not again.ran and len(again.skipped) == 3


def test_the_cause_of_a_death_is_named():
    assert death_cause(-signal.SIGKILL) == (
        "worker process killed by SIGKILL (signal 9); likely out of memory (the OOM killer sends SIGKILL)"
    )
    assert death_cause(-signal.SIGSEGV) == "worker process killed by SIGSEGV (signal 11)"
    assert death_cause(3).startswith("worker process exited with code 3")


def test_sys_exit_in_model_code_is_a_failed_trial_not_the_end_of_the_sweep(deadly, synthetic_spec_file, tmp_path):
    store = Store(tmp_path / "runs")
    result = run_trials([(deadly("sys_exit"), 0), (load_spec(synthetic_spec_file), 0)], store, threads=1)
    assert sorted(r["status"] for r in result.ran.values()) == ["complete", "failed"]
    (failed,) = [r for r in result.ran.values() if r["status"] == "failed"]
    assert failed["error"].startswith("SystemExit: 3")


def test_a_worker_that_ray_ends_leaves_its_trial_incomplete_for_the_next_run(deadly, tmp_path):
    from scrutiny.trials.loop import run_trial

    spec, store = deadly("ray_terminate"), Store(tmp_path / "runs")
    with pytest.raises(SystemExit):
        run_trial(spec, 0, store, threads=1)
    (tid,) = store.trial_ids()
    assert store.status(tid) == "incomplete" and not store.busy(tid)  # not "failed": the next run runs it
