"""Export a real small store into a real SQLite MLflow store, read it back with MlflowClient, export again."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("mlflow", reason="the MLflow export needs the mlflow extra: pip install 'scrutiny[mlflow]'")

from mlflow import MlflowClient
from mlflow.entities import ViewType

from scrutiny.export import ExportError, export_store
from scrutiny.export.mlflow import log_in_batches
from scrutiny.spec import spec_hash
from scrutiny.store import Store


def _all_runs(uri: str, experiment_id: str):
    return MlflowClient(uri).search_runs([experiment_id], run_view_type=ViewType.ALL, max_results=1000)


def test_store_export_round_trip_and_reexport_writes_nothing(built, db_uri):
    store = Store(built.store_dir)
    summary = export_store(store, db_uri, "round-trip")
    exported = built.ids["wide"] + built.ids["narrow"] + built.ids["diverged"] + built.ids["failed"]
    assert sorted(summary.created) == sorted(exported)
    assert summary.skipped == {"incomplete": built.ids["incomplete"]}
    assert summary.statuses == {"complete": 4, "diverged": 1, "failed": 1}

    client = MlflowClient(db_uri)
    runs = {r.data.tags["scrutiny.trial_id"]: r for r in _all_runs(db_uri, summary.experiment_id)}
    assert sorted(runs) == sorted(exported)

    tid = built.ids["wide"][1]
    run = runs[tid]
    spec_record, result = store.spec(tid), store.result(tid)
    assert run.info.run_name == "tiny-digits s1"
    assert run.info.status == "FINISHED"
    assert run.data.params["optim.lr"] == "0.1" and run.data.params["model.width"] == "8"
    assert run.data.params["optim.betas"] == "[0.9, 0.999]" and run.data.params["seed"] == "1"
    assert run.data.params["data.root"] == "null"
    tags = run.data.tags
    assert tags["scrutiny.spec_hash"] == spec_record["spec_hash"] and tags["scrutiny.seed"] == "1"
    assert tags["scrutiny.status"] == "complete" and tags["scrutiny.device"] == "cpu"
    assert tags["scrutiny.version"] == result["scrutiny_version"]
    assert tags["scrutiny.torch_version"] == store.trial(tid)["environment"]["torch"]
    assert run.data.metrics["final_test_acc"] == pytest.approx(result["final_test_acc"])
    assert run.data.metrics["best_test_acc"] == pytest.approx(result["best_test_acc"])

    history = client.get_metric_history(run.info.run_id, "test_acc")
    rows = store.metrics(tid)
    assert [m.step for m in history] == [1, 2]
    assert [m.value for m in history] == pytest.approx([r["test_acc"] for r in rows])
    times = [m.timestamp for m in history]
    assert times[0] < times[1] and times[0] >= run.info.start_time  # the trial's own start plus epoch times
    artifacts = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert artifacts == {"spec.json", "trial.json", "result.json"}
    local = client.download_artifacts(run.info.run_id, "spec.json")
    assert json.loads(open(local).read())["trial_id"] == tid

    diverged, failed = runs[built.ids["diverged"][0]], runs[built.ids["failed"][0]]
    assert diverged.info.status == "FAILED" and diverged.data.tags["scrutiny.status"] == "diverged"
    assert failed.info.status == "FAILED" and failed.data.tags["scrutiny.status"] == "failed"
    assert "does not exist" in failed.data.tags["scrutiny.error"]

    again = export_store(store, db_uri, "round-trip")
    assert again.created == [] and again.replaced == [] and sorted(again.unchanged) == sorted(exported)
    after = _all_runs(db_uri, summary.experiment_id)
    assert len(after) == len(exported)  # nothing created, nothing deleted
    assert len(client.get_metric_history(run.info.run_id, "test_acc")) == 2


def test_reexport_adds_new_trials_and_replaces_a_rerun_failure(built, store_copy, db_uri):
    from scrutiny.spec import load_spec, trial_id

    store = Store(store_copy)
    first = export_store(store, db_uri, "grow", trial_ids=built.ids["wide"][:1])
    assert first.created == built.ids["wide"][:1]

    # a failed trial that is run again (a record written through the store's writers, then replaced)
    spec = load_spec(built.spec_file, ["model.width=5"])
    tid = trial_id(spec, 0)
    record = {"trial_id": tid, "spec_hash": spec_hash(spec), "seed": 0, "spec": spec.to_dict()}
    store.begin(tid, record).finish({"trial_id": tid, "seed": 0, "status": "failed", "error": "RuntimeError: x"})
    second = export_store(store, db_uri, "grow")
    assert tid in second.created and second.unchanged == built.ids["wide"][:1]
    old_run = second.runs[tid]

    writer = store.begin(tid, record, replace_failed=True)
    writer.append_metrics({"epoch": 1, "test_acc": 0.5, "epoch_time_s": 0.1})
    writer.finish({"trial_id": tid, "seed": 0, "status": "complete", "final_test_acc": 0.5})
    third = export_store(store, db_uri, "grow")
    assert third.replaced == [tid] and third.created == []
    client = MlflowClient(db_uri)
    assert client.get_run(old_run).info.lifecycle_stage == "deleted"
    new = client.get_run(third.runs[tid])
    assert new.info.status == "FINISHED" and new.data.metrics["final_test_acc"] == 0.5
    active = client.search_runs([third.experiment_id], filter_string=f"tags.`scrutiny.trial_id` = '{tid}'")
    assert [r.info.run_id for r in active] == [new.info.run_id]


def test_batches_respect_mlflow_limits(db_uri):
    client = MlflowClient(db_uri)
    run_id = client.create_run(client.create_experiment("limits")).info.run_id
    params = {f"p{i}": str(i) for i in range(250)}
    tags = {f"t{i}": str(i) for i in range(120)}
    metrics = [("m", float(i), 1000 + i, i) for i in range(2500)]
    calls = log_in_batches(client, run_id, params, tags, metrics)
    # 2,870 entities, at most 1,000 a call: 100 p + 100 t + 800 m, 100 p + 20 t + 880 m, 50 p + 820 m
    assert calls == 3
    run = client.get_run(run_id)
    assert len(run.data.params) == 250 and sum(k.startswith("t") for k in run.data.tags) == 120
    assert len(client.get_metric_history(run_id, "m")) == 2500


def test_bad_tracking_uris_fail_in_one_line(built, tmp_path):
    store = Store(built.store_dir)
    with pytest.raises(ExportError, match=r"tracking_uri file:.*refuses the file store.*sqlite:///"):
        export_store(store, f"file://{tmp_path / 'mlruns'}")
    with pytest.raises(ExportError, match=r"tracking_uri sqlite:///.*does not exist"):
        export_store(store, f"sqlite:///{tmp_path / 'no' / 'mlflow.db'}")
    assert not (tmp_path / "mlruns").exists()


def test_a_deleted_experiment_is_named_with_how_to_restore_it(built, db_uri):
    client = MlflowClient(db_uri)
    client.delete_experiment(client.create_experiment("gone"))
    with pytest.raises(ExportError, match=r"experiment 'gone' is deleted .*mlflow experiments restore"):
        export_store(Store(built.store_dir), db_uri, "gone")
