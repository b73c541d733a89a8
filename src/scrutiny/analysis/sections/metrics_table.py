"""``metrics_table``: the mean, sd and per-seed values of chosen result fields, one row per arm and field."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrutiny.analysis.sections._base import ReportSection, Table, arm_names
from scrutiny.registry import SECTIONS

if TYPE_CHECKING:
    from scrutiny.analysis.check import ClaimResult
    from scrutiny.store import Store


@SECTIONS.register("metrics_table")
def metrics_table(
    result: ClaimResult,
    store: Store,
    metrics: list[str],
    arms: list[str] | None = None,
    title: str = "More metrics per arm",
    note: str | None = None,
) -> ReportSection:
    """A table of ``metrics`` (any numeric ``final_*``, ``best_*`` or probe field) for ``arms`` (default: all).

    Arms that lack a field show a dash; the table never drops a row silently.
    """
    names = arm_names(result, arms, "metrics_table")
    rows: list[list[Any]] = []
    data: dict[str, Any] = {}
    for name in names:
        arm = result.arms[name]
        for metric in metrics:
            values = arm.others.get(metric) if metric != arm.metric else arm.scores
            if values is None or values.size == 0:
                rows.append([name, metric, None, None, None, "—"])
                continue
            sd = float(values.std(ddof=1)) if values.size > 1 else None
            rows.append(
                [name, metric, int(values.size), float(values.mean()), sd, ", ".join(f"{v:.4g}" for v in values)]
            )
            data.setdefault(name, {})[metric] = values.tolist()
    return ReportSection(
        title=title,
        paragraphs=[note] if note else [],
        tables=[Table(["arm", "metric", "n", "mean", "sd", "per seed"], rows)],
        data=data,
    )
