"""Export a claim: claim run, arm runs (seed aggregates, verdicts) and the trials as the arms' children."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mlflow", reason="the MLflow export needs the mlflow extra: pip install 'scrutiny[mlflow]'")

from mlflow import MlflowClient
from mlflow.entities import ViewType

from scrutiny.analysis.check import claim_setup, score_claim
from scrutiny.export import export_claim, export_store
from scrutiny.stats import iqm, mean_ci
from scrutiny.store import Store


def test_claim_export_links_aggregates_and_verdicts_and_is_idempotent(built, db_uri, tmp_path):
    from scrutiny.report.render import write_report

    store = Store(built.store_dir)
    result = score_claim(claim_setup(built.claim_file), store)
    report = write_report(result, tmp_path / "report")
    export_store(store, db_uri, "claim")  # the trials first, without parents: the claim export links them

    summary = export_claim(built.claim_file, store, db_uri, "claim", report_dir=tmp_path / "report")
    assert summary.claim["written"] and all(a["written"] for a in summary.claim["arms"].values())
    assert sorted(summary.unchanged) == sorted(built.ids["wide"] + built.ids["narrow"]) and not summary.created

    client = MlflowClient(db_uri)
    claim_run = client.get_run(summary.claim["run_id"])
    tags = claim_run.data.tags
    assert tags["scrutiny.kind"] == "claim" and tags["scrutiny.scale"] == "smoke"
    assert claim_run.info.run_name == "Width matters a little (smoke)"
    for i, verdict in enumerate(result.verdicts, start=1):
        assert tags[f"scrutiny.h{i}"] == f"{verdict.verdict}: {verdict.hypothesis}"
        assert tags[f"scrutiny.h{i}.verdict"] == verdict.verdict
        assert claim_run.data.metrics[f"h{i}.estimate"] == pytest.approx(verdict.estimate)
        assert claim_run.data.metrics[f"h{i}.n_a"] == verdict.n_a
    artifacts = {f.path for f in client.list_artifacts(claim_run.info.run_id)}
    assert "results.json" in artifacts and "report" in artifacts
    logged = {f.path for f in client.list_artifacts(claim_run.info.run_id, "report")}
    assert {f"report/{p.name}" for p in report.values()} <= logged

    for name, info in summary.claim["arms"].items():
        arm_run = client.get_run(info["run_id"])
        assert arm_run.data.tags["mlflow.parentRunId"] == claim_run.info.run_id
        assert arm_run.data.tags["scrutiny.arm"] == name
        scores = result.arms[name].scores
        ci = mean_ci(scores)
        m = arm_run.data.metrics
        assert m["final_test_acc.mean"] == pytest.approx(np.mean(scores))
        assert (m["final_test_acc.ci_low"], m["final_test_acc.ci_high"]) == pytest.approx((ci.low, ci.high))
        assert m["final_test_acc.iqm"] == pytest.approx(iqm(scores)) and m["n_complete"] == 2
        assert arm_run.data.params["model.width"] == ("8" if name == "wide" else "2")
        band = client.get_metric_history(arm_run.info.run_id, "curve/test_acc/mean")
        per_seed = [[r["test_acc"] for r in store.metrics(t)] for t in built.ids[name]]
        assert [p.step for p in band] == [1, 2]
        assert [p.value for p in band] == pytest.approx(np.mean(per_seed, axis=0))
        for tid in built.ids[name]:
            child = client.get_run(summary.runs[tid])
            assert child.data.tags["mlflow.parentRunId"] == arm_run.info.run_id
    narrow = client.get_run(summary.claim["arms"]["narrow"]["run_id"])
    assert narrow.data.metrics["reported"] == 0.5 and "scrutiny.h2.verdict" in narrow.data.tags

    before = len(client.search_runs([summary.experiment_id], run_view_type=ViewType.ALL))
    again = export_claim(built.claim_file, store, db_uri, "claim", report_dir=tmp_path / "report")
    assert not again.claim["written"] and not any(a["written"] for a in again.claim["arms"].values())
    assert again.claim["run_id"] == summary.claim["run_id"] and not again.created and not again.replaced
    assert len(client.search_runs([summary.experiment_id], run_view_type=ViewType.ALL)) == before
    history = client.get_metric_history(summary.claim["arms"]["wide"]["run_id"], "final_test_acc.mean")
    assert len(history) == 1


def test_claim_and_arm_runs_are_replaced_when_what_they_hold_changes(built, db_uri, tmp_path):
    store = Store(built.store_dir)
    claim = tmp_path / "claim.yaml"
    (tmp_path / "tiny.yaml").write_text(built.spec_file.read_text())
    # without multiplicity adjustment, one hypothesis's change leaves the others' verdicts as they were (under Holm
    # a changed hypothesis can move every adjusted p of the family, and then every arm run changes)
    text = built.claim_file.read_text() + "multiplicity: none\n"
    claim.write_text(text)
    first = export_claim(claim, store, db_uri, "changes")
    assert sorted(first.created) == sorted(built.ids["wide"] + built.ids["narrow"])

    claim.write_text(text.replace("± 0.3", "± 0.01"))  # h2 (narrow's) changes
    second = export_claim(claim, store, db_uri, "changes")
    assert second.claim["key"] == first.claim["key"] and second.claim["written"]
    assert second.claim["arms"]["narrow"]["written"] and not second.claim["arms"]["wide"]["written"]
    assert not second.created and not second.replaced  # the trials are the same: only their links move

    client = MlflowClient(db_uri)
    assert client.get_run(first.claim["run_id"]).info.lifecycle_stage == "deleted"
    assert client.get_run(first.claim["arms"]["narrow"]["run_id"]).info.lifecycle_stage == "deleted"
    wide = client.get_run(second.claim["arms"]["wide"]["run_id"])
    assert wide.data.tags["mlflow.parentRunId"] == second.claim["run_id"]  # unchanged arm, parent link updated
    for tid in built.ids["narrow"]:
        child = client.get_run(second.runs[tid])
        assert child.data.tags["mlflow.parentRunId"] == second.claim["arms"]["narrow"]["run_id"]
    active = client.search_runs([second.experiment_id], filter_string="tags.`scrutiny.kind` = 'claim'")
    assert [r.info.run_id for r in active] == [second.claim["run_id"]]
