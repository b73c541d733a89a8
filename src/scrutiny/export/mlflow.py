"""Export a trial store to MLflow: one run per finished trial, written after the fact by one process.

A run is found again by its trial-id tag (``scrutiny.trial_id``) and carries a fingerprint of everything logged,
so exporting again writes nothing for an unchanged trial, adds the trials finished since, and replaces (deletes,
then logs anew) the run of a trial whose records changed, such as a failed trial that was run again. Params are
immutable in MLflow; replacing the run, not re-logging into it, is what keeps a re-export from failing on them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrutiny.export import records as rec
from scrutiny.export._tracker import Tracker, default_tracking_uri, open_tracker
from scrutiny.store import Store

MAX_METRICS, MAX_PARAMS_TAGS, MAX_ENTITIES = 1000, 100, 1000  # one MLflow log_batch call at most
DEFAULT_EXPERIMENT = "scrutiny"
ARTIFACTS = ("spec.json", "trial.json", "result.json")
PARENT_TAG = "mlflow.parentRunId"


@dataclass
class ExportSummary:
    """What an export did.

    Attributes:
        tracking_uri: Where it wrote.
        experiment: The experiment's name; ``experiment_id`` its id.
        created: Trial ids whose run was created now.
        replaced: Trial ids whose run was replaced because the trial's records changed.
        unchanged: Trial ids already exported as they are.
        skipped: Trial ids not exported, by reason: ``incomplete`` (no final record), ``running`` (incomplete and
            locked by a live process now), ``missing`` (a claim's trial that is not in the store).
        statuses: Exported trials (created, replaced or unchanged) by final status.
        runs: MLflow run id of every exported trial.
        claim: For a claim export: the claim's and each arm's run id and whether it was written now.
    """

    tracking_uri: str
    experiment: str
    experiment_id: str
    created: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)
    claim: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "tracking_uri": self.tracking_uri,
            "experiment": self.experiment,
            "experiment_id": self.experiment_id,
            "trials": {
                "created": len(self.created),
                "replaced": len(self.replaced),
                "unchanged": len(self.unchanged),
                **{k: len(v) for k, v in self.skipped.items()},
            },
            "statuses": self.statuses,
            "skipped": self.skipped,
            "runs": self.runs,
        }
        if self.claim is not None:
            out["claim"] = self.claim
        return out


def artifact_location(uri: str) -> str | None:
    """For a SQLite store: ``<folder of the database>/mlartifacts`` (MLflow would use ``./mlruns`` of the current
    folder); ``None`` (the server's default) otherwise."""
    from scrutiny.export._tracker import sqlite_path

    db = sqlite_path(uri)
    return (db.resolve().parent / "mlartifacts").as_uri() if db is not None else None


def export_store(
    store: Store,
    tracking_uri: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    *,
    trial_ids: Iterable[str] | None = None,
    timeout_s: float = 5.0,
) -> ExportSummary:
    """Export every finished trial of ``store`` (or of ``trial_ids``) to MLflow; skip and count the others.

    Args:
        store: The trial store, read only.
        tracking_uri: MLflow tracking URI (``None``: ``sqlite:///<store>/mlflow.db``).
        experiment: Experiment name, created when absent.
        trial_ids: The trials to export (default: all of the store).
        timeout_s: How long to wait for an HTTP tracking server to answer at first.
    """
    uri = tracking_uri or default_tracking_uri(store.root)
    ids = list(trial_ids) if trial_ids is not None else store.trial_ids()
    with open_tracker(uri, experiment, artifact_location(uri), timeout_s) as tracker:
        summary = ExportSummary(uri, experiment, tracker.experiment_id)
        export_trials(tracker, store, ids, summary)
    return summary


def export_trials(
    tracker: Tracker, store: Store, trial_ids: list[str], summary: ExportSummary, parents: dict[str, str] | None = None
) -> None:
    """Export ``trial_ids`` into ``tracker``'s experiment, recording what happened in ``summary``.

    Args:
        parents: Trial id -> run id of the parent run (a claim's arm); the link is a tag, updated in place.
    """
    parents = parents or {}
    existing = tracker.runs_by_tag(rec.TRIAL_TAG)
    for tid in trial_ids:
        status = store.status(tid)
        if status not in rec.RUN_STATUS:
            reason = "missing" if status == "missing" else "running" if store.busy(tid) else "incomplete"
            summary.skipped.setdefault(reason, []).append(tid)
            continue
        summary.statuses[status] = summary.statuses.get(status, 0) + 1
        old = existing.get(tid)
        run_id = _export_trial(tracker, store, tid, status, old, parents.get(tid), summary)
        summary.runs[tid] = run_id


def _export_trial(tracker, store, tid, status, old, parent, summary) -> str:
    client = tracker.client
    spec_record, result = store.spec(tid), store.result(tid)
    start = store.trial(tid) if (store.trial_dir(tid) / "trial.json").exists() else {}
    rows = store.metrics(tid)
    params = rec.trial_params(spec_record)
    tags = rec.trial_tags(spec_record, start, result)
    metrics = rec.trial_metrics(rows, start, result)
    started = rec.to_ms(start.get("started_at") or result.get("started_at"))
    ended = rec.end_ms(started, result)
    # what the run would hold (so a new version that logs differently replaces it) and the artifacts' records
    fp = rec.fingerprint(params, tags, metrics, started, ended, status, spec_record, start, result)
    if old is not None and old.data.tags.get(rec.FINGERPRINT_TAG) == fp and old.info.status != "RUNNING":
        summary.unchanged.append(tid)
        if parent and old.data.tags.get(PARENT_TAG) != parent:
            client.set_tag(old.info.run_id, PARENT_TAG, parent)
        return old.info.run_id
    if old is not None:  # changed records, or an export interrupted before the run was terminated
        client.delete_run(old.info.run_id)
    tags[rec.FINGERPRINT_TAG] = fp
    if parent:
        tags[PARENT_TAG] = parent
    run = client.create_run(tracker.experiment_id, start_time=started, tags=tags, run_name=rec.run_name(spec_record))
    run_id = run.info.run_id
    log_in_batches(client, run_id, params, {}, metrics)
    folder = store.trial_dir(tid)
    for name in ARTIFACTS:
        if (folder / name).exists():
            client.log_artifact(run_id, str(folder / name))
    client.set_terminated(run_id, rec.RUN_STATUS[status], end_time=ended)
    (summary.replaced if old is not None else summary.created).append(tid)
    return run_id


def log_in_batches(client: Any, run_id: str, params: dict[str, str], tags: dict[str, str], metrics: list[tuple]) -> int:
    """Log everything with as few ``log_batch`` calls as MLflow's limits allow; return the number of calls.

    Args:
        metrics: ``(key, value, timestamp_ms, step)`` points.
    """
    from mlflow.entities import Metric, Param, RunTag

    p_items, t_items, m_items = list(params.items()), list(tags.items()), list(metrics)
    calls = 0
    while p_items or t_items or m_items:
        p, p_items = p_items[:MAX_PARAMS_TAGS], p_items[MAX_PARAMS_TAGS:]
        t, t_items = t_items[:MAX_PARAMS_TAGS], t_items[MAX_PARAMS_TAGS:]
        room = min(MAX_METRICS, MAX_ENTITIES - len(p) - len(t))
        m, m_items = m_items[:room], m_items[room:]
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, ts, step) for k, v, ts, step in m],
            params=[Param(k, v) for k, v in p],
            tags=[RunTag(k, v) for k, v in t],
            synchronous=True,
        )
        calls += 1
    return calls


def ui_command(uri: str) -> str:
    """The command that shows ``uri`` in the MLflow UI on a loopback port."""
    return f"mlflow ui --backend-store-uri {uri} --host 127.0.0.1 --port 5000"


def read_report_files(report_dir: Path) -> list[Path]:
    """The files of a report folder, recursively, in name order."""
    return sorted(p for p in Path(report_dir).rglob("*") if p.is_file())
