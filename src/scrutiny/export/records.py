"""What one trial becomes in a tracker: params, tags and metric points, built from its store records alone.

Pure functions over the plain records of a trial folder (``spec.json``, ``trial.json``, ``metrics.jsonl``,
``result.json``); nothing here imports MLflow, so the mapping is testable and reusable for other trackers.

Keys keep MLflow's character set (alphanumerics, ``_ - . / : `` and spaces); other characters become ``_``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import datetime
from typing import Any, TypeGuard

MAX_KEY = 250  # MLflow's longest param, tag or metric key
MAX_PARAM_VALUE = 6000  # MLflow's longest param value
MAX_TAG_VALUE = 8000  # MLflow's longest tag value
TAG_PREFIX = "scrutiny."
TRIAL_TAG = "scrutiny.trial_id"  # how an exported trial's run is found again
FINGERPRINT_TAG = "scrutiny.fingerprint"  # hash of what was logged; a change means the run is replaced

_BAD_KEY_CHARS = re.compile(r"[^\w\-. /:]")

# MLflow run statuses for scrutiny's final statuses (a diverged trial ended without a usable model).
RUN_STATUS = {"complete": "FINISHED", "failed": "FAILED", "diverged": "FAILED"}


def clean_key(key: str) -> str:
    """``key`` with characters MLflow refuses replaced by ``_``, cut to its longest key."""
    return _BAD_KEY_CHARS.sub("_", key)[:MAX_KEY]


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted leaves of nested dicts: ``{"optim": {"lr": 0.1}} -> {"optim.lr": 0.1}``; lists stay leaves."""
    if not isinstance(tree, dict):
        return {prefix: tree} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out


def as_text(value: Any, limit: int) -> str:
    """A param or tag value: strings as they are, anything else as JSON, cut to ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_number(value: object) -> TypeGuard[int | float]:
    """A finite int or float (a bool is not a number here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def to_ms(iso: str | None) -> int | None:
    """Milliseconds since the epoch of an ISO-8601 time (``None`` when absent or unreadable)."""
    if not iso:
        return None
    try:
        return int(datetime.fromisoformat(iso).timestamp() * 1000)
    except ValueError:
        return None


def end_ms(started_ms: int | None, result: dict[str, Any]) -> int | None:
    """A trial's end (ms): its start plus its wall time (the ISO times keep whole seconds only), else ``ended_at``."""
    wall = result.get("wall_time_s")
    if started_ms is not None and is_number(wall):
        return started_ms + int(round(wall * 1000))
    return to_ms(result.get("ended_at"))


def run_name(spec_record: dict[str, Any]) -> str:
    """``<label> s<seed>``; a spec without a label is named by its model and dataset."""
    spec = spec_record.get("spec", {})
    label = spec.get("label") or f"{spec.get('model', {}).get('name')} on {spec.get('data', {}).get('name')}"
    return f"{label} s{spec_record.get('seed')}"


def trial_params(spec_record: dict[str, Any]) -> dict[str, str]:
    """The resolved spec's leaves under dotted keys (``optim.lr``), plus ``seed``."""
    params = {clean_key(k): as_text(v, MAX_PARAM_VALUE) for k, v in flatten(spec_record.get("spec", {})).items()}
    params["seed"] = as_text(spec_record.get("seed"), MAX_PARAM_VALUE)
    return params


def trial_tags(spec_record: dict[str, Any], start: dict[str, Any], result: dict[str, Any]) -> dict[str, str]:
    """Identity, status and provenance: trial id, spec hash, seed, status, git commit, versions, device."""
    env = start.get("environment", {})
    git = env.get("git", {})
    packages = env.get("packages", {})
    tags = {
        TRIAL_TAG: spec_record.get("trial_id"),
        "scrutiny.kind": "trial",
        "scrutiny.spec_hash": spec_record.get("spec_hash"),
        "scrutiny.seed": spec_record.get("seed"),
        "scrutiny.label": spec_record.get("spec", {}).get("label"),
        "scrutiny.status": result.get("status"),
        "scrutiny.version": result.get("scrutiny_version") or spec_record.get("scrutiny_version"),
        "scrutiny.torch_version": env.get("torch") or packages.get("torch"),
        "scrutiny.device": result.get("device") or env.get("device"),
        "scrutiny.device_name": env.get("device_name"),
        "scrutiny.host": env.get("host"),
        "scrutiny.precision": start.get("precision"),
        "scrutiny.selected_on_test": result.get("selected_on_test"),
        "scrutiny.error": result.get("error"),
    }
    if git.get("repo"):
        tags["scrutiny.git_commit"] = git.get("commit")
        tags["scrutiny.git_dirty"] = git.get("dirty")
        tags["mlflow.source.git.commit"] = git.get("commit")  # shown by the MLflow UI as the run's source version
    if env.get("command"):
        tags["mlflow.source.name"] = " ".join(env["command"])
    return {k: as_text(v, MAX_TAG_VALUE) for k, v in tags.items() if v is not None}


def epoch_times(rows: list[dict[str, Any]], started_ms: int | None) -> list[int]:
    """A time (ms) for each metric row: the trial's start plus the summed ``epoch_time_s`` up to that row.

    The store keeps no wall clock per epoch, so this is derived from the trial's own records (and is the same on
    every export). ``rows`` are the trial's ``metrics.jsonl`` rows; returns one int per row.
    """
    base, elapsed, out = started_ms or 0, 0.0, []
    for row in rows:
        seconds = row.get("epoch_time_s")
        elapsed += seconds if is_number(seconds) else 0.0
        out.append(base + int(round(elapsed * 1000)))
    return out


def trial_metrics(rows: list[dict[str, Any]], start: dict[str, Any], result: dict[str, Any]) -> list[tuple]:
    """Metric points ``(key, value, timestamp_ms, step)``: each numeric field of each epoch row at ``step=epoch``,
    then the result's numeric ``final_*``, ``best_*``, probe and cost fields at the last epoch's step."""
    started = to_ms(start.get("started_at") or result.get("started_at"))
    points: list[tuple] = []
    last_step = 0
    for index, (row, ts) in enumerate(zip(rows, epoch_times(rows, started), strict=True)):
        step = int(row.get("epoch", index + 1))
        last_step = max(last_step, step)
        points += [(clean_key(k), float(v), ts, step) for k, v in row.items() if k != "epoch" and is_number(v)]
    ended = end_ms(started, result) or (points[-1][2] if points else started or 0)
    summary = set(result.get("probe_fields", ())) | {
        "wall_time_s",
        "device_time_s",
        "compile_time_s",
        "cpu_time_s",
        "n_params",
        "train_steps",
        "flops_per_train_step",
        "best_epoch",
    }
    for key, value in result.items():
        if (key.startswith(("final_", "best_")) or key in summary) and is_number(value):
            points.append((clean_key(key), float(value), ended, last_step))
    return points


def fingerprint(*parts: Any) -> str:
    """A short hash of JSON-serialisable ``parts``: equal iff what is logged is equal."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
