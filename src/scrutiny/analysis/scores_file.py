"""Per-seed scores that a user brings (runs made elsewhere), as the same score tables the store gives.

CSV: a header row, then one row per trial: ``arm``, ``seed``, optionally ``status`` (``complete`` by default;
``failed`` or ``diverged`` count as the claim's ``failed_seeds`` says), then one column per metric. JSON: a list of
objects with the same keys. Every problem is one line naming the file, the row and the column.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from scrutiny.analysis.scores import ArmScores
from scrutiny.errors import ScrutinyError
from scrutiny.spec import trial_id

MAX_BYTES = 64 * 1024 * 1024
_STATUSES = ("complete", "failed", "diverged")


def read_score_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a CSV or JSON scores file, as dicts with ``_row`` (1-based data row) added."""
    path = Path(path)
    if not path.is_file():
        raise ScrutinyError(f"{path}: no such file (expected a CSV or JSON file of per-seed scores)")
    if path.stat().st_size > MAX_BYTES:
        raise ScrutinyError(f"{path}: larger than {MAX_BYTES // 2**20} MiB")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScrutinyError(f"{path}: not UTF-8 text") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScrutinyError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ScrutinyError(f"{path}: expected a list of objects with keys arm, seed and one per metric")
        rows = data
    else:
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames:
            raise ScrutinyError(f"{path}: empty file (expected a header row: arm,seed,<metric>,...)")
        rows = list(reader)
        if any(None in r for r in rows):
            bad = next(i for i, r in enumerate(rows, 1) if None in r)
            raise ScrutinyError(f"{path}: row {bad}: more cells than header columns")
    if not rows:
        raise ScrutinyError(f"{path}: no rows")
    return [{**r, "_row": i} for i, r in enumerate(rows, 1)]


def arms_from_rows(
    rows: list[dict[str, Any]],
    path: str | Path,
    arms: dict[str, str | None],
    metrics: set[str],
    claim_metric: str,
    reported: dict[str, dict[str, Any] | None] | None = None,
) -> dict[str, ArmScores]:
    """Score tables for the claim's ``arms`` (name -> label) from ``rows``; ``metrics`` are those the claim tests."""
    for i, r in enumerate(rows, 1):
        for key in ("arm", "seed"):
            if r.get(key) in (None, ""):
                raise ScrutinyError(f"{path}: row {i}: column '{key}' is missing or empty")
    columns = set().union(*(set(r) for r in rows)) - {"arm", "seed", "status", "_row"}
    unknown_arms = sorted({str(r["arm"]) for r in rows} - set(arms))
    if unknown_arms:
        raise ScrutinyError(
            f"{path}: column 'arm': unknown arm(s) {', '.join(unknown_arms)}; the claim's arms are {', '.join(arms)}"
        )
    missing_metrics = sorted(metrics - columns)
    if missing_metrics:
        raise ScrutinyError(
            f"{path}: no column for metric(s) {', '.join(missing_metrics)} (columns: {', '.join(sorted(columns))})"
        )
    table: dict[str, dict[int, tuple[str, dict[str, float]]]] = {name: {} for name in arms}
    for r in rows:
        i, arm = r["_row"], str(r["arm"])
        seed = _int(r["seed"], path, i, "seed")
        if seed in table[arm]:
            raise ScrutinyError(f"{path}: row {i}: arm '{arm}' seed {seed} appears twice")
        status = str(r.get("status") or "complete").strip()
        if status not in _STATUSES:
            raise ScrutinyError(
                f"{path}: row {i}: column 'status': expected one of {', '.join(_STATUSES)}, got {status[:20]!r}"
            )
        values = {}
        if status == "complete":
            for m in sorted(columns):
                cell = r.get(m)
                if cell in (None, "") and m not in metrics:
                    continue
                values[m] = _float(cell, path, i, m)
        table[arm][seed] = (status, values)
    empty = [name for name, seeds in table.items() if not seeds]
    if empty:
        raise ScrutinyError(f"{path}: no rows for arm(s) {', '.join(empty)}")
    out = {}
    for name, seeds in table.items():
        order = sorted(seeds)
        done = [s for s in order if seeds[s][0] == "complete"]
        fields = sorted(set.intersection(*(set(seeds[s][1]) for s in done))) if done else []
        others = {m: np.array([seeds[s][1][m] for s in done]) for m in fields}
        counts: dict[str, int] = {}
        for s in order:
            counts[seeds[s][0]] = counts.get(seeds[s][0], 0) + 1
        out[name] = ArmScores(
            name=name,
            label=arms[name] or name,
            spec_hash="scores-file",
            metric=claim_metric,
            seeds=order,
            scores=others.get(claim_metric, np.zeros(0)) if done else np.zeros(0),
            complete_seeds=done,
            status=counts,
            failures=[  # a trial id with the arm's name in place of a spec hash: the file has no specs
                (trial_id(name, s), seeds[s][0], "") for s in order if seeds[s][0] != "complete"
            ],
            reported=(reported or {}).get(name),
            others=others,
            seed_status={s: seeds[s][0] for s in order},
        )
    return out


def _int(value: Any, path: str | Path, row: int, column: str) -> int:
    try:
        number = float(value)
        if number.is_integer() and not isinstance(value, bool):
            return int(number)
    except (TypeError, ValueError):
        pass
    raise ScrutinyError(f"{path}: row {row}: column '{column}': expected an integer, got {str(value)[:20]!r}")


def _float(value: Any, path: str | Path, row: int, column: str) -> float:
    if isinstance(value, bool):
        raise ScrutinyError(f"{path}: row {row}: column '{column}': expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ScrutinyError(
            f"{path}: row {row}: column '{column}': expected a number, got {str(value)[:20]!r}"
        ) from None
    if not math.isfinite(number):
        raise ScrutinyError(f"{path}: row {row}: column '{column}': expected a finite number, got {value!r}")
    return number
