"""``seeds_needed_table``: how many runs a difference needs, for a range of run-to-run standard deviations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrutiny.analysis.sections._base import Figure, ReportSection, Table
from scrutiny.registry import SECTIONS
from scrutiny.stats import seeds_needed, seeds_needed_t, t_test_power

if TYPE_CHECKING:
    from scrutiny.analysis.check import ClaimResult
    from scrutiny.store import Store


@SECTIONS.register("seeds_needed_table")
def seeds_needed_table(
    result: ClaimResult,
    store: Store,
    difference: float,
    sds: list[float],
    runs: int | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    title: str = "How many runs does this difference need?",
    note: str | None = None,
    units: str = "",
) -> ReportSection:
    """For each run-to-run sd: runs per arm to detect ``difference`` (two-sided, ``alpha``, ``power``).

    Both the normal approximation (:func:`scrutiny.stats.seeds_needed`) and the exact noncentral-t count
    (:func:`scrutiny.stats.seeds_needed_t`) are listed; with ``runs``, also the power that ``runs`` per arm had.
    Every input is an argument of the section in the claim file, so a reader can change it and rerun.
    """
    columns = ["run-to-run sd", "runs per arm (normal approx.)", "runs per arm (t-test)"]
    if runs:
        columns.append(f"power with {runs} runs per arm")
    rows = []
    for sd in sds:
        row: list[Any] = [sd, seeds_needed(difference, sd, alpha, power), seeds_needed_t(difference, sd, alpha, power)]
        if runs:
            row.append(t_test_power(runs, difference, sd, alpha))
        rows.append(row)
    paragraphs = [
        f"The difference to detect is {difference:g}{units}, with a two-sided test at α = {alpha:g} and power "
        f"{power:g}. Change `difference`, `sds`, `runs`, `alpha` or `power` in the claim's `sections` to recompute."
    ]
    if note:
        paragraphs.insert(0, note)

    def draw():
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5.0, 3.2))
        ax.plot(sds, [r[2] for r in rows], marker="o", label="t-test")
        ax.plot(sds, [r[1] for r in rows], marker="s", linestyle="--", label="normal approx.")
        if runs:
            ax.axhline(runs, color="grey", linewidth=1, linestyle=":", label=f"{runs} runs (published)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"run-to-run standard deviation{units and f' ({units.strip()})'}")
        ax.set_ylabel("runs per arm")
        ax.set_title(f"runs needed to detect {difference:g}{units}", fontsize=10)
        ax.legend(frameon=False, fontsize=8)
        return ax

    return ReportSection(
        title=title,
        paragraphs=paragraphs,
        tables=[Table(columns, rows)],
        figures=[Figure("seeds_needed", draw, "Runs per arm against the run-to-run standard deviation.")],
        data={"difference": difference, "alpha": alpha, "power": power, "runs": runs, "rows": rows},
    )
