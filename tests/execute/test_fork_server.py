"""Local workers come from a fork server that imported torch and the trial machinery once: each worker starts its
first trial without those imports, sees the parent's environment as it is when the worker starts (not as it was when
the server started), and the server never initialises CUDA, so a worker's CUDA_VISIBLE_DEVICES still counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from scrutiny.execute import run_trials
from scrutiny.execute._pool import worker_context
from scrutiny.spec import load_spec
from scrutiny.store import Store

SPEC = """
label: fork-server
model: {{name: "probe_models:{how}", width: 4}}
data: {{name: synthetic, num_classes: 4, channels: 1, size: 8, n_train: 32, n_test: 16, batch_size: 32}}
optim: {{name: sgd, lr: 0.05}}
train: {{epochs: 1, device: cpu}}
"""

# Model builders that check, while the model is built, what the worker process looks like, and end it with a
# telling exit code when it is not what the executor promises.
PROBES = """
import os
import sys

import torch


def _model(num_classes):
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(num_classes))


def preloaded(width=4, num_classes=10, in_channels=3):
    if "scrutiny.execute._warm" not in sys.modules or "torch._dynamo" not in sys.modules:
        sys.exit(7)  # the worker had to import the trial machinery itself
    return _model(num_classes)


def sees_env(width=4, num_classes=10, in_channels=3):
    if os.environ.get("SCRUTINY_TEST_SET_AFTER_THE_SERVER") != "yes":
        sys.exit(8)  # the worker saw the fork server's environment, not its parent's
    return _model(num_classes)
"""

pytestmark = pytest.mark.skipif(
    worker_context().get_start_method() != "forkserver", reason="this platform has no fork server; workers spawn"
)


@pytest.fixture
def probe(tmp_path, monkeypatch):
    (tmp_path / "probe_models.py").write_text(PROBES)
    monkeypatch.syspath_prepend(str(tmp_path))

    def spec(how: str):
        path = tmp_path / f"{how}.yaml"
        path.write_text(SPEC.format(how=how))
        return load_spec(path)

    return spec


def test_workers_start_with_the_trial_machinery_imported_and_the_parents_current_environment(
    probe, tmp_path, monkeypatch
):
    store = Store(tmp_path / "runs")
    first = run_trials([(probe("preloaded"), 0), (probe("preloaded"), 1)], store, workers=2, threads=1)
    assert [r["status"] for r in first.ran.values()] == ["complete", "complete"], first.ran
    # The fork server is running now, with the environment it started with; a variable set afterwards must reach
    # the next sweep's workers all the same.
    monkeypatch.setenv("SCRUTINY_TEST_SET_AFTER_THE_SERVER", "yes")
    second = run_trials([(probe("sees_env"), 0), (probe("sees_env"), 1)], store, workers=2, threads=1)
    assert [r["status"] for r in second.ran.values()] == ["complete", "complete"], second.ran


# Importing what the fork server imports (for a digits sweep) must not touch CUDA: on a machine with GPUs, CUDA
# would read CUDA_VISIBLE_DEVICES once, in the server, and every worker would see every GPU. Nor may it start a
# thread, which a fork would not copy.
NO_CUDA = """
import json
import threading

import torch

calls = []


def spy(owner, name):
    real = getattr(owner, name)

    def wrapper(*args, **kwargs):
        calls.append(name)
        return real(*args, **kwargs)

    setattr(owner, name, wrapper)


for name in ("is_available", "device_count", "init", "_lazy_init", "current_device", "get_device_properties"):
    spy(torch.cuda, name)
spy(torch._C, "_cuda_getDeviceCount")
import scrutiny.execute._warm as warm

out = {"calls": calls, "failed": warm.FAILED, "initialized": torch.cuda.is_initialized()}
print(json.dumps({**out, "threads": threading.active_count(), "extra": list(warm.EXTRA)}))
"""


def test_what_the_fork_server_imports_never_touches_cuda_nor_starts_a_thread(tiny_spec_file):
    from scrutiny.execute._pool import WARM_MODULES, lazy_imports

    env = {**os.environ, WARM_MODULES: ",".join(lazy_imports([load_spec(tiny_spec_file)]))}
    done = subprocess.run([sys.executable, "-c", NO_CUDA], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert "sklearn.model_selection" in out.pop("extra")
    assert out == {"calls": [], "failed": {}, "initialized": False, "threads": 1}


def test_the_server_also_imports_what_the_sweeps_data_sets_import_lazily_but_no_users_module(probe, tiny_spec_file):
    from scrutiny.execute._pool import lazy_imports

    digits = lazy_imports([load_spec(tiny_spec_file)])
    assert {"scrutiny.data.digits", "sklearn.model_selection"} <= set(digits)  # imported inside a function
    user = lazy_imports([probe("preloaded")])
    assert not [m for m in user if m.startswith("probe_models")]  # a user's module is never kept in the server


def test_a_spec_folder_added_after_the_server_started_reaches_the_workers(probe, tmp_path):
    # multiprocessing hands each process it starts through the fork server the parent's sys.path of the moment
    # (its preparation data), unlike the environment; this keeps it so for module:callable names beside a spec
    store = Store(tmp_path / "runs")
    run_trials([(probe("preloaded"), 0), (probe("preloaded"), 1)], store, workers=2, threads=1)  # server running
    later = tmp_path / "later"
    later.mkdir()
    (later / "later_models.py").write_text(PROBES)
    (later / "net.yaml").write_text(SPEC.format(how="preloaded").replace("probe_models:", "later_models:"))
    spec = load_spec(later / "net.yaml")  # appends its folder to this process's sys.path, as the CLI does
    try:
        done = run_trials([(spec, 0), (spec, 1)], store, workers=2, threads=1)
    finally:
        sys.path.remove(str(later.resolve()))
    assert [r["status"] for r in done.ran.values()] == ["complete", "complete"], done.ran
