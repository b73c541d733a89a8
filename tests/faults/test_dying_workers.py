"""Sweeps survive their workers: a worker killed by a signal or ended by its trial's code fails only that trial."""

from __future__ import annotations

import json

import pytest

from scrutiny.execute import run_trials
from scrutiny.spec import load_spec
from scrutiny.store import Store

from .conftest import synthetic_spec

# Model builders that end the worker process while the model is built, as the OOM killer or a stray exit would.
DEADLY = """
import os
import signal
import sys

from scrutiny.models.small_cnn import small_cnn


def sigkill(width: int = 4, num_classes: int = 10, in_channels: int = 3):
    os.kill(os.getpid(), signal.SIGKILL)


def os_exit(width: int = 4, num_classes: int = 10, in_channels: int = 3):
    os._exit(3)


def sys_exit(width: int = 4, num_classes: int = 10, in_channels: int = 3):
    sys.exit(3)
"""


@pytest.fixture
def deadly(tmp_path, monkeypatch):
    (tmp_path / "deadly_models.py").write_text(DEADLY)
    monkeypatch.syspath_prepend(str(tmp_path))  # spawned workers inherit sys.path
    return lambda how: load_spec(synthetic_spec(tmp_path / f"{how}.yaml", model=f"deadly_models:{how}"))


def test_killed_workers_fail_only_their_trials_and_the_sweep_goes_on(deadly, synthetic_spec_file, tmp_path):
    good = load_spec(synthetic_spec_file)
    items = [(deadly("sigkill"), 0), (deadly("os_exit"), 0), (good, 0)]
    store = Store(tmp_path / "runs")
    result = run_trials(items, store, workers=2, threads=1, max_retries=1)
    assert not result.interrupted and len(result.ran) == 3
    name = {t: json.loads((store.trial_dir(t) / "spec.json").read_text())["spec"]["model"]["name"] for t in result.ran}
    by_model = {v: k for k, v in name.items()}
    assert store.status(by_model["small_cnn"]) == "complete"
    killed = store.result(by_model["deadly_models:sigkill"])
    assert killed["status"] == "failed" and "SIGKILL" in killed["error"] and "likely out of memory" in killed["error"]
    assert killed["worker_deaths"] == 2 and "not retried again" in killed["error"]  # once, then one retry
    exited = store.result(by_model["deadly_models:os_exit"])
    assert exited["status"] == "failed" and "exited with code 3" in exited["error"] and exited["worker_deaths"] == 2
    again = run_trials(items, store, workers=2, threads=1)  # failed trials are not retried without retry_failed
    assert not again.ran and len(again.skipped) == 3


def test_sys_exit_in_model_code_is_a_failed_trial_not_the_end_of_the_sweep(deadly, synthetic_spec_file, tmp_path):
    store = Store(tmp_path / "runs")
    result = run_trials([(deadly("sys_exit"), 0), (load_spec(synthetic_spec_file), 0)], store, threads=1)
    assert sorted(r["status"] for r in result.ran.values()) == ["complete", "failed"]
    (failed,) = [r for r in result.ran.values() if r["status"] == "failed"]
    assert failed["error"].startswith("SystemExit: 3")
