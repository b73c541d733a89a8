"""Export a claim to MLflow: a run for the claim, a child run per arm, and the arm's trials as the arm's children.

The claim is scored from the store alone (nothing runs). The claim run holds each hypothesis's verdict and estimate
(tags and metrics ``h<i>.*``), the scored result as ``results.json`` and, when given, the report folder's files;
each arm run holds the arm's resolved spec as params, the seed aggregates of every final field (mean, 95% interval,
IQM) and per-epoch mean curves with their interval. Claim and arm runs are found again by a key tag and replaced
when what they would hold changes; the parent links of unchanged children are updated in place (tags overwrite).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrutiny.export import records as rec
from scrutiny.export._tracker import ExportError, Tracker, default_tracking_uri, open_tracker
from scrutiny.export.aggregates import arm_metrics, curve_bands, verdict_entries
from scrutiny.export.mlflow import (
    DEFAULT_EXPERIMENT,
    PARENT_TAG,
    ExportSummary,
    artifact_location,
    export_trials,
    log_in_batches,
)
from scrutiny.spec import trial_id
from scrutiny.store import Store
from scrutiny.store._atomic import json_safe

if TYPE_CHECKING:
    from scrutiny.analysis.check import ClaimResult

CLAIM_TAG = "scrutiny.claim_key"
ARM_TAG = "scrutiny.arm_key"


def export_claim(
    claim_file: str | Path,
    store: Store,
    tracking_uri: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    *,
    scale: str | None = None,
    report_dir: str | Path | None = None,
    timeout_s: float = 5.0,
) -> ExportSummary:
    """Export a claim's verdicts, arm aggregates and trials (those with a final record) to MLflow.

    Args:
        claim_file: The claim YAML.
        store: The trial store, read only.
        tracking_uri: MLflow tracking URI (``None``: ``sqlite:///<store>/mlflow.db``).
        experiment: Experiment name, created when absent.
        scale: The claim's scale (``None``: its ``default_scale``).
        report_dir: A report folder (``scrutiny check --out``) whose files are logged with the claim run.
        timeout_s: How long to wait for an HTTP tracking server to answer at first.
    """
    from scrutiny.analysis.check import claim_setup, score_claim

    if report_dir is not None and not Path(report_dir).is_dir():
        raise ExportError(f"report_dir: {report_dir} is not a folder")
    plan = claim_setup(claim_file, scale)
    result = score_claim(plan, store)
    uri = tracking_uri or default_tracking_uri(store.root)
    key = f"{Path(claim_file).resolve()}:{plan.scale}"
    with open_tracker(uri, experiment, artifact_location(uri), timeout_s) as tracker:
        summary = ExportSummary(uri, experiment, tracker.experiment_id)
        claim_run, claim_new = _claim_run(tracker, key, result, store, report_dir)
        arms: dict[str, dict[str, Any]] = {}
        parents: dict[str, str] = {}
        for name, arm in result.arms.items():
            run_id, new = _arm_run(tracker, key, name, arm, result, store, claim_run)
            arms[name] = {"run_id": run_id, "written": new}
            for seed in plan.seeds:
                parents.setdefault(trial_id(result.specs[name], seed), run_id)  # a spec in two arms: the first
        export_trials(tracker, store, plan.trial_ids(), summary, parents)
        summary.claim = {"key": key, "run_id": claim_run, "written": claim_new, "arms": arms}
    return summary


def _find_or_replace(tracker: Tracker, tag: str, key: str, fp: str, parent: str | None) -> str | None:
    """The run id of an unchanged run with ``tag == key`` (its parent link updated); ``None`` after deleting a
    changed or unfinished one, or when there is none."""
    old = tracker.runs_by_tag(tag).get(key)
    if old is None:
        return None
    if old.data.tags.get(rec.FINGERPRINT_TAG) == fp and old.info.status == "FINISHED":
        if parent and old.data.tags.get(PARENT_TAG) != parent:
            tracker.client.set_tag(old.info.run_id, PARENT_TAG, parent)
        return old.info.run_id
    tracker.client.delete_run(old.info.run_id)
    return None


def _write_run(tracker, name, tags, params, metrics, files: dict[str, bytes], fp, parent) -> str:
    """Create a finished run holding ``tags``, ``params``, ``metrics`` and ``files`` (artifact path -> bytes)."""
    client = tracker.client
    tags = {**tags, rec.FINGERPRINT_TAG: fp, **({PARENT_TAG: parent} if parent else {})}
    first_tags = dict(list(tags.items())[:100])  # create_run takes some; the rest go in batches
    run_id = client.create_run(tracker.experiment_id, tags=first_tags, run_name=name).info.run_id
    log_in_batches(client, run_id, params, dict(list(tags.items())[100:]), metrics)
    if files:
        with tempfile.TemporaryDirectory() as tmp:
            for rel, data in files.items():
                (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
                (Path(tmp) / rel).write_bytes(data)
            client.log_artifacts(run_id, tmp)
    client.set_terminated(run_id, "FINISHED")
    return run_id


def _claim_run(
    tracker: Tracker, key: str, result: ClaimResult, store: Store, report_dir: str | Path | None
) -> tuple[str, bool]:
    claim = result.claim
    data = json_safe(result.to_dict())
    files = {"results.json": (json.dumps(data, indent=2) + "\n").encode()}
    if report_dir is not None:
        root = Path(report_dir)
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            files[f"report/{path.relative_to(root).as_posix()}"] = path.read_bytes()
    tags = {
        CLAIM_TAG: key,
        "scrutiny.kind": "claim",
        "scrutiny.claim_file": str(result.path),
        "scrutiny.title": claim.title,
        "scrutiny.scale": result.scale,
        "scrutiny.metric": claim.metric,
        "scrutiny.source": claim.source.paper,
        "scrutiny.source_where": claim.source.where,
        "scrutiny.source_url": claim.source.url,
        "mlflow.note.content": _note(data),
    }
    tags = {k: rec.as_text(v, rec.MAX_TAG_VALUE) for k, v in tags.items() if v is not None}
    metrics, ts = [], _latest_end(result, store)
    for i, verdict in enumerate(data["verdicts"], start=1):
        v_tags, v_points = verdict_entries(i, verdict, ts)
        tags.update(v_tags)
        metrics += v_points
    params = {"scale": result.scale, "seeds": rec.as_text(result.seeds, rec.MAX_PARAM_VALUE), "metric": claim.metric}
    fp = rec.fingerprint(tags, params, metrics, {k: hashlib.sha256(v).hexdigest() for k, v in files.items()})
    found = _find_or_replace(tracker, CLAIM_TAG, key, fp, None)
    if found:
        return found, False
    name = f"{claim.title} ({result.scale})"
    return _write_run(tracker, name, tags, params, metrics, files, fp, None), True


def _arm_run(tracker, key, name, arm, result, store: Store, parent: str) -> tuple[str, bool]:
    spec = result.specs[name]
    ts = _latest_end(result, store)
    rows = [store.metrics(trial_id(spec, seed)) for seed in arm.complete_seeds]
    metrics = arm_metrics(arm, ts) + curve_bands(rows, ts)
    data = json_safe(result.to_dict())
    tags = {
        ARM_TAG: f"{key}/{name}",
        "scrutiny.kind": "arm",
        "scrutiny.arm": name,
        "scrutiny.label": arm.label,
        "scrutiny.spec_hash": arm.spec_hash,
        "scrutiny.scale": result.scale,
        "scrutiny.status_counts": arm.status,
        "scrutiny.complete_seeds": arm.complete_seeds,
        "scrutiny.failures": [list(f) for f in arm.failures] or None,
    }
    tags = {k: rec.as_text(v, rec.MAX_TAG_VALUE) for k, v in tags.items() if v is not None}
    for i, verdict in enumerate(data["verdicts"], start=1):  # the verdicts that concern this arm
        if name in (verdict.get("a"), verdict.get("b")):
            v_tags, v_points = verdict_entries(i, verdict, ts)
            tags.update(v_tags)
            metrics += v_points
    params = {rec.clean_key(k): rec.as_text(v, rec.MAX_PARAM_VALUE) for k, v in rec.flatten(spec.to_dict()).items()}
    fp = rec.fingerprint(tags, params, metrics)
    found = _find_or_replace(tracker, ARM_TAG, f"{key}/{name}", fp, parent)
    if found:
        return found, False
    run_name = f"{name}: {arm.label}" if arm.label and arm.label != name else name
    return _write_run(tracker, run_name, tags, params, metrics, {}, fp, parent), True


def _latest_end(result: ClaimResult, store: Store) -> int:
    """The latest end time (ms) among the claim's complete trials, so that a re-export logs identical points."""
    ends = [
        rec.to_ms(store.result(trial_id(result.specs[name], seed)).get("ended_at"))
        for name, arm in result.arms.items()
        for seed in arm.complete_seeds
    ]
    return max((e for e in ends if e is not None), default=0)


def _note(data: dict[str, Any]) -> str:
    """The run's description in the MLflow UI: the claim's verdicts, one per line."""
    lines = [f"**{data['title']}** ({data['scale']})", ""]
    lines += [f"- {v.get('verdict')}: {v.get('hypothesis')}" for v in data["verdicts"]]
    return "\n".join(lines)
