"""``threshold_counts``: per arm, how many seeds reached a threshold (e.g. 100% test accuracy), with their ids."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from scrutiny.analysis.sections._base import Cell, ReportSection, Table, arm_names
from scrutiny.registry import SECTIONS

if TYPE_CHECKING:
    from scrutiny.analysis.check import ClaimResult
    from scrutiny.store import Store


@SECTIONS.register("threshold_counts")
def threshold_counts(
    result: ClaimResult,
    store: Store,
    threshold: float,
    metric: str | None = None,
    arms: list[str] | None = None,
    op: Literal[">=", "<="] = ">=",
    title: str | None = None,
    note: str | None = None,
) -> ReportSection:
    """Count the seeds of each arm whose ``metric`` is ``op threshold``; list the seeds that did not make it.

    A mean hides a bimodal outcome (most seeds perfect, one collapsed); the counts show it. An arm whose trials are
    another listed arm's (the same spec) says "same trials as …" instead of counting them again.
    """
    metric = metric or result.claim.metric
    names = arm_names(result, arms, "threshold_counts")
    rows: list[list[Cell]] = []
    data: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for name in names:
        arm = result.arms[name]
        if arm.spec_hash and arm.spec_hash in seen:
            rows.append([name, None, None, None, f"same trials as {seen[arm.spec_hash]}"])
            data[name] = {"same_trials_as": seen[arm.spec_hash]}
            continue
        if arm.spec_hash:
            seen[arm.spec_hash] = name
        if metric != arm.metric and metric not in arm.others:
            rows.append([name, 0, arm.n, "—", "—"])
            continue
        values = arm.values(metric)
        hit = values >= threshold if op == ">=" else values <= threshold
        missed = [f"seed {s}: {v:.4g}" for s, v, ok in zip(arm.complete_seeds, values, hit, strict=True) if not ok]
        rows.append([name, int(hit.sum()), arm.n, f"{hit.mean():.0%}" if arm.n else "—", "; ".join(missed) or "none"])
        data[name] = {"reached": int(hit.sum()), "n": arm.n, "missed": missed}
    return ReportSection(
        title=title or f"Seeds with {metric} {op} {threshold:g}",
        paragraphs=[note] if note else [],
        tables=[Table(["arm", "seeds reaching it", "complete seeds", "share", "the others"], rows)],
        data=data,
    )
