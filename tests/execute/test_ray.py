"""The Ray executor on a real local cluster (2 CPUs, started once for this module): same numbers as the local
executor, a killed Ray worker's trial retried with nothing duplicated, checks that fail before any trial runs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from scrutiny.execute import Executor, ExecutorError, Reporter, run_sweep, run_trials  # noqa: E402
from scrutiny.execute.ray import RaySweep  # noqa: E402
from scrutiny.spec import load_spec  # noqa: E402
from scrutiny.store import Store  # noqa: E402

SPEC = """
label: tiny-synthetic
model: {{name: {model}, width: 4}}
data: {{name: synthetic, num_classes: 4, channels: 1, size: 8, n_train: 64, n_test: 32, batch_size: 32}}
optim: {{name: sgd, lr: 0.05}}
train: {{epochs: 2, device: cpu}}
"""

# A model builder that kills its own process (SIGKILL, as the OOM killer would) the first time it runs, after the
# trial has begun in the store; the second time it builds the model. The marker file says which time it is.
ONCE = """
import os
import sys
import signal
from pathlib import Path

from scrutiny.models.small_cnn import small_cnn

MARKER = Path({marker!r})


def sigkill_once(**kwargs):
    if not MARKER.exists():
        MARKER.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return small_cnn(**kwargs)


def sigkill_always(**kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One real local Ray cluster for the module; its workers can import the test's model module."""
    code = tmp_path_factory.mktemp("code")
    (code / "deadly_once.py").write_text(ONCE.format(marker=str(code / "killed-once")))
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(code), before) if p)  # workers inherit it
    sys.path.insert(0, str(code))  # and this driver, which resolves the spec
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    try:
        yield code
    finally:
        ray.shutdown()
        sys.path.remove(str(code))
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


def _spec(tmp_path: Path, model: str = "small_cnn"):
    path = tmp_path / f"{model.replace(':', '_')}.yaml"
    path.write_text(SPEC.format(model=model))
    return load_spec(path)


class Epochs(Reporter):
    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def epoch(self, event) -> None:
        self.seen.append((event["trial"], event["epoch"]))


KEYS = ("final_test_acc", "final_test_loss", "final_train_loss_epoch_avg")


def test_ray_gives_bit_identical_metrics_to_the_local_executor(cluster, tmp_path):
    spec = _spec(tmp_path)
    local = run_sweep(spec, [0, 1], Store(tmp_path / "local"), workers=2, threads=1)
    store = Store(tmp_path / "ray")
    epochs = Epochs()
    on_ray = run_sweep(spec, [0, 1], store, threads=1, executor=Executor("ray"), reporter=epochs)
    assert sorted(epochs.seen) == sorted((tid, e) for tid in local.ran for e in (1, 2))  # the progress display's feed
    assert sorted(on_ray.ran) == sorted(local.ran) and len(on_ray.ran) == 2
    for tid, record in local.ran.items():
        assert record["status"] == on_ray.ran[tid]["status"] == "complete"
        assert [record[k] for k in KEYS] == [on_ray.ran[tid][k] for k in KEYS]  # bit for bit
        assert _same_numbers(store.metrics(tid), Store(tmp_path / "local").metrics(tid))
    assert ray.is_initialized()  # a cluster the caller started is left running
    again = run_sweep(spec, [0, 1, 2], store, threads=1, executor=Executor("ray"))
    assert sorted(again.skipped) == sorted(local.ran) and len(again.ran) == 1  # the store decides what runs


def _same_numbers(a: list[dict], b: list[dict]) -> bool:
    """Per-epoch rows equal in every number (wall times differ between runs)."""
    drop = ("time", "seconds", "wall", "throughput")
    strip = [{k: v for k, v in row.items() if not any(d in k for d in drop)} for row in a]
    return strip == [{k: v for k, v in row.items() if not any(d in k for d in drop)} for row in b]


def test_a_killed_ray_worker_is_retried_and_nothing_is_duplicated(cluster, tmp_path):
    deadly = _spec(tmp_path, "deadly_once:sigkill_once")
    good = _spec(tmp_path)
    store = Store(tmp_path / "runs")
    items = [(deadly, 0), (good, 0)]
    result = run_trials(items, store, threads=1, max_retries=1, executor=Executor("ray"))
    killed_pid = int((cluster / "killed-once").read_text())
    assert killed_pid != os.getpid()  # it was a Ray worker that died, not this driver
    assert not result.interrupted and len(result.ran) == 2
    assert all(r["status"] == "complete" for r in result.ran.values())  # retried after the death, then complete
    assert sorted(store.trial_ids()) == sorted(result.ran)  # one folder per trial
    for tid in result.ran:
        assert [row["epoch"] for row in store.metrics(tid)] == [1, 2]  # one attempt's rows, none left over


def test_a_trial_whose_ray_worker_keeps_dying_is_failed_with_rays_error(cluster, tmp_path):
    store = Store(tmp_path / "runs")
    result = run_trials(
        [(_spec(tmp_path, "deadly_once:sigkill_always"), 0)], store, threads=1, max_retries=0, executor=Executor("ray")
    )
    (record,) = result.ran.values()
    assert record["status"] == "failed" and record["worker_deaths"] == 1
    assert record["error"].startswith("Ray: ") and "not retried again" in record["error"]
    assert store.status(record["trial_id"]) == "failed"


def test_a_store_that_a_node_cannot_see_fails_before_any_trial_runs(cluster, tmp_path, monkeypatch):
    # The driver's token is what a node must see; not writing it is a node that mounts something else there.
    monkeypatch.setattr(RaySweep, "_write_token", lambda self, token: Path(self.root) / "absent" / token)
    store = Store(tmp_path / "runs")
    with pytest.raises(ExecutorError, match=r"^store: .*not visible.*every node"):
        run_sweep(_spec(tmp_path), [0, 1], store, threads=1, executor=Executor("ray"))
    assert store.trial_ids() == []


@pytest.mark.parametrize(
    ("executor", "message"),
    [
        (Executor("ray", gpus_per_trial=0.25), r"^gpus_per_trial: 0.25 GPU\(s\) per trial asked for; .* no GPU"),
        (Executor("ray", cpus_per_trial=3), r"^cpus_per_trial: 3 asked for; the largest node has 2 CPUs"),
    ],
)
def test_resources_the_cluster_lacks_fail_before_any_trial_runs(cluster, tmp_path, executor, message):
    store = Store(tmp_path / "runs")
    with pytest.raises(ExecutorError, match=message):
        run_sweep(_spec(tmp_path), [0], store, threads=1, executor=executor)
    assert store.trial_ids() == []
