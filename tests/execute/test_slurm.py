"""The SLURM executor through submitit's local executor (the same code as on a cluster, as subprocesses): a job
array per sweep with the same numbers as the local executor, a dead array task retried, and a driver that exits
while its array runs, picked up by a later sweep with every trial exactly once."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("submitit")

from scrutiny.execute import Executor, ExecutorError, SlurmOptions, run_sweep, run_trials  # noqa: E402
from scrutiny.execute._remote import prepare_store, run_remote_trial  # noqa: E402
from scrutiny.execute.slurm import make_executor  # noqa: E402
from scrutiny.spec import load_spec, trial_id  # noqa: E402
from scrutiny.store import Store  # noqa: E402

SPEC = """
label: tiny-synthetic
model: {{name: {model}, width: 4}}
data: {{name: synthetic, num_classes: 4, channels: 1, size: 8, n_train: 64, n_test: 32, batch_size: 32}}
optim: {{name: sgd, lr: 0.05}}
train: {{epochs: 2, device: cpu}}
"""
ONCE = """
import os
import signal
from pathlib import Path

from scrutiny.models.small_cnn import small_cnn


def sigkill_once(**kwargs):
    marker = Path(__file__).with_name("killed-once")
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return small_cnn(**kwargs)
"""
LOCAL = Executor("slurm", slurm=SlurmOptions(cluster="local", time_min=10))
KEYS = ("final_test_acc", "final_test_loss", "final_train_loss_epoch_avg")


def _spec(tmp_path: Path, model: str = "small_cnn"):
    path = tmp_path / f"{model.replace(':', '_')}.yaml"
    path.write_text(SPEC.format(model=model))
    return load_spec(path)


@pytest.fixture
def deadly(tmp_path, monkeypatch):
    """A model module that the array tasks (subprocesses) and this driver both import."""
    (tmp_path / "slurm_deadly.py").write_text(ONCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH")) if p))
    return tmp_path


def test_a_job_array_gives_the_local_executors_numbers_and_keeps_its_files_beside_the_store(tmp_path):
    spec = _spec(tmp_path)
    local = run_sweep(spec, [0, 1], Store(tmp_path / "local"), threads=1)
    store = Store(tmp_path / "runs")
    result = run_sweep(spec, [0, 1], store, threads=1, executor=LOCAL)
    assert sorted(result.ran) == sorted(local.ran)
    for tid, record in local.ran.items():
        assert [record[k] for k in KEYS] == [result.ran[tid][k] for k in KEYS]
    assert (tmp_path / "runs" / ".slurm").is_dir() and sorted(store.trial_ids()) == sorted(local.ran)


def test_a_dead_array_task_is_retried_and_nothing_is_duplicated(tmp_path, deadly):
    store = Store(tmp_path / "runs")
    items = [(_spec(tmp_path, "slurm_deadly:sigkill_once"), 0), (_spec(tmp_path), 0)]
    result = run_trials(items, store, threads=1, max_retries=1, executor=LOCAL)
    assert int((deadly / "killed-once").read_text()) != os.getpid()  # an array task died, not this driver
    assert all(r["status"] == "complete" for r in result.ran.values()) and len(result.ran) == 2
    assert sorted(store.trial_ids()) == sorted(result.ran)
    assert all([row["epoch"] for row in store.metrics(t)] == [1, 2] for t in result.ran)


def test_a_later_sweep_picks_up_an_array_whose_driver_exited(tmp_path):
    spec, store = _spec(tmp_path), Store(tmp_path / "runs")
    seeds = [0, 1]
    # A driver that submitted the array and went away: the tasks run on without it.
    root = prepare_store(store, trial_id(spec, 0))
    executor = make_executor(SlurmOptions(cluster="local"), root)
    jobs = executor.map_array(
        run_remote_trial, [str(root)] * 2, [spec.to_dict()] * 2, seeds, [False] * 2, [1] * 2
    )  # fmt: skip
    later = run_sweep(spec, seeds, store, threads=1, executor=LOCAL)
    outcomes = [job.result() for job in jobs]  # the first array's tasks end: run, or found the trial taken
    ran_first = {payload["trial_id"] for kind, payload in outcomes if kind == "done"}
    assert all(kind in ("done", "error") for kind, _ in outcomes)
    assert not ran_first & set(later.ran)  # no trial ran in both
    assert ran_first | set(later.ran) | set(later.elsewhere) | set(later.skipped) == set(store.trial_ids())
    assert len(store.trial_ids()) == 2 and all(store.status(t) == "complete" for t in store.trial_ids())
    assert all([row["epoch"] for row in store.metrics(t)] == [1, 2] for t in store.trial_ids())


def test_submitit_missing_is_one_line_saying_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "submitit", None)
    with pytest.raises(ExecutorError, match=r"^executor: 'slurm' needs submitit, .*pip install 'scrutiny\[slurm\]'$"):
        run_sweep(_spec(tmp_path), [0], Store(tmp_path / "runs"), threads=1, executor=LOCAL)
