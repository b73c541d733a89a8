"""Seed aggregates of an arm and the verdicts of a claim as tracker metrics and tags (what MLflow lacks).

Pure functions over an :class:`~scrutiny.analysis.scores.ArmScores`, the arm's per-epoch rows and the verdicts'
plain dicts; nothing here imports MLflow. Metric points are ``(key, value, timestamp_ms, step)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from scrutiny.export.records import MAX_TAG_VALUE, as_text, clean_key, flatten, is_number
from scrutiny.stats import iqm, mean_ci

if TYPE_CHECKING:
    from scrutiny.analysis.scores import ArmScores

CONFIDENCE = 0.95


def seed_stats(values: np.ndarray) -> dict[str, float]:
    """``mean``, ``iqm``, ``n``; with two values or more also ``sd``, ``ci_low`` and ``ci_high`` (95% Student-t).

    Args:
        values: One value per seed, shape ``(n_seeds,)``; non-finite values are left out (and not counted).
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {"n": 0.0}
    out = {"n": float(x.size), "mean": float(x.mean()), "iqm": iqm(x)}
    if x.size >= 2:
        ci = mean_ci(x, CONFIDENCE)
        out.update(sd=float(x.std(ddof=1)), ci_low=ci.low, ci_high=ci.high)
    return out


def arm_metrics(arm: ArmScores, ts: int, step: int = 0) -> list[tuple]:
    """Seed aggregates of the arm's metric and of every other numeric final field: ``<field>.mean``, ``.iqm``,
    ``.ci_low``, ``.ci_high``, ``.sd``, ``.n``; plus ``n_complete`` and the arm's reported value where it has one.

    Args:
        arm: The arm's :class:`~scrutiny.analysis.scores.ArmScores`.
        ts: Timestamp (ms) given to every point.
        step: Step given to every point.
    """
    points = [("n_complete", float(arm.n), ts, step)]
    for name in [arm.metric, *sorted(k for k in arm.others if k != arm.metric)]:
        values = arm.values(name) if arm.n else np.zeros(0)
        points += [(clean_key(f"{name}.{k}"), v, ts, step) for k, v in seed_stats(values).items()]
    reported = (arm.reported or {}).get("value")
    if is_number(reported):
        points.append(("reported", float(reported), ts, step))
    return points


def curve_bands(rows_per_seed: list[list[dict[str, Any]]], ts: int) -> list[tuple]:
    """Per-epoch mean and 95% interval over seeds of every per-epoch metric: ``curve/<key>/mean``, ``/ci_low``,
    ``/ci_high`` at ``step=epoch`` (three lines in one MLflow chart make the error band).

    Args:
        rows_per_seed: For each complete seed, its ``metrics.jsonl`` rows.
        ts: Timestamp (ms) given to every point.
    """
    by_key: dict[tuple[str, int], list[float]] = {}
    for rows in rows_per_seed:
        for row in rows:
            epoch = row.get("epoch")
            if not isinstance(epoch, int):
                continue
            for key, value in row.items():
                if key != "epoch" and is_number(value):
                    by_key.setdefault((key, epoch), []).append(float(value))
    points = []
    for (key, epoch), values in sorted(by_key.items()):
        stats = seed_stats(np.array(values))
        for k in ("mean", "ci_low", "ci_high"):
            if k in stats:
                points.append((clean_key(f"curve/{key}/{k}"), stats[k], ts, epoch))
    return points


def verdict_entries(index: int, verdict: dict[str, Any], ts: int) -> tuple[dict[str, str], list[tuple]]:
    """One hypothesis's verdict as tags and metrics, keyed ``h<index>.<field>``.

    Every field of ``verdict`` (a ``Verdict.to_dict()``, extra fields welcome) becomes a metric when it is a finite
    number and a tag otherwise; ``scrutiny.h<index>`` reads ``<VERDICT>: <hypothesis>``.

    Returns:
        ``(tags, metric points)``.
    """
    tags = {f"scrutiny.h{index}": as_text(f"{verdict.get('verdict')}: {verdict.get('hypothesis')}", MAX_TAG_VALUE)}
    points = []
    for key, value in flatten(verdict).items():
        name = clean_key(f"h{index}.{key}")
        if is_number(value):
            points.append((name, float(value), ts, 0))
        elif value is not None:
            tags[f"scrutiny.{name}"] = as_text(value, MAX_TAG_VALUE)
    return tags, points
