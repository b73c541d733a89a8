"""``budget``: the compute or search effort behind each side of a claim: the published one and ours."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrutiny.analysis.sections._base import ReportSection, Table
from scrutiny.registry import SECTIONS

if TYPE_CHECKING:
    from scrutiny.analysis.check import ClaimResult
    from scrutiny.store import Store


@SECTIONS.register("budget")
def budget(
    result: ClaimResult,
    store: Store,
    published: list[dict[str, Any]] | None = None,
    title: str = "Budgets: the published search effort and ours",
    note: str | None = None,
) -> ReportSection:
    """Published budgets as given (``[{who, runs, note}]``), then ours per arm from the store.

    Ours counts, per arm, the configurations the claim declares it tried (``tuning.configurations``; "not
    declared" where it says nothing) and the complete trials, with their training steps and device seconds, as the
    trial records hold them. The caption states the declaration, never an assumed one. Arms that share their
    trials (the same spec, as at a smoke scale that sets every instance arm alike) are counted once: the later
    ones say "same trials as …" instead of repeating the steps and seconds.
    """
    rows_pub = [[p.get("who", ""), p.get("runs"), p.get("note", "")] for p in (published or [])]
    tuning = result.claim.tuning
    declared = tuning.configurations if tuning is not None else {}
    rows_ours: list[list[Any]] = []
    seen: dict[str, str] = {}
    for name, arm in result.arms.items():
        if arm.spec_hash and arm.spec_hash in seen:
            rows_ours.append(
                [name, declared.get(name, "not declared"), f"same trials as {seen[arm.spec_hash]}", None, None]
            )
            continue
        if arm.spec_hash:
            seen[arm.spec_hash] = name
        device_total = float(arm.device_time_s.sum()) if arm.n else None
        steps = arm.train_steps * arm.n if arm.train_steps is not None else None
        rows_ours.append([name, declared.get(name, "not declared"), arm.n, steps, device_total])
    if tuning is None:
        caption = f"This report ({result.scale} scale): the claim does not declare how its settings were chosen"
    else:
        where = f"on seeds {tuning.seeds}" if tuning.seeds else "on seeds not given"
        caption = f"This report ({result.scale} scale): settings chosen {where}, split {tuning.split or 'not given'}"
    tables = []
    if rows_pub:
        tables.append(Table(["who", "runs", "note"], rows_pub, caption="Published"))
    tables.append(
        Table(
            ["arm", "configurations", "complete trials", "training steps (all seeds)", "device s (all seeds)"],
            rows_ours,
            caption=caption,
        )
    )
    return ReportSection(
        title=title,
        paragraphs=[note] if note else [],
        tables=tables,
        data={"published": published or [], "ours": rows_ours},
    )
