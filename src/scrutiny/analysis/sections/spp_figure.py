"""``spp_figure`` and ``spp_stage_table``: signal propagation plots of a claim's arms, read from their ``spp`` probes.

The figure is the paper's three panels (Brock, De, Smith, ICLR 2021, Fig. 1 and 2): average channel squared mean,
average channel variance and residual average channel variance against depth, one curve per arm, with the end of
each stage marked. The table condenses each stage to the numbers that the paper's analysis predicts.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from scrutiny.analysis.sections._base import Figure, ReportSection, Table, arm_names, probe_table
from scrutiny.errors import ScrutinyError
from scrutiny.registry import SECTIONS
from scrutiny.spec import trial_id


def _tables(result: Any, store: Any, name: str, prefix: str, seed: int | None) -> dict[int, dict[str, Any]]:
    """``{seed: probe table}`` of one arm: every complete seed, or only ``seed``."""
    arm = result.arms[name]
    seeds = arm.complete_seeds if seed is None else [s for s in arm.complete_seeds if s == seed]
    out = {}
    for s in seeds:
        table = probe_table(store, trial_id(arm.spec_hash, s), prefix, "rows", "spp (add the spp probe to the arm)")
        out[s] = table
    return out


@SECTIONS.register("spp_figure")
def spp_figure(
    result: Any,
    store: Any,
    arms: list[str] | None = None,
    prefix: str = "spp",
    seed: int | None = None,
    yscale: Literal["linear", "log"] = "log",
    figure: str = "spp",
    title: str = "Signal propagation plots",
    layout: Literal["row", "column"] = "row",
    note: str | None = None,
) -> ReportSection:
    """The three SPP panels of ``arms`` (default: all), one seed each.

    Args:
        result: The claim's result.
        store: The trial store.
        arms: Arms to overlay, in legend order.
        prefix: The probe's prefix in the arms' specs.
        seed: The seed to plot (default: each arm's first complete seed).
        yscale: ``"log"`` (default; curves that differ by orders of magnitude stay readable) or ``"linear"``.
        figure: The figure's file name (without ``.png``); distinct per section when a claim lists several.
        title: The section heading.
        layout: ``"row"`` (three panels side by side) or ``"column"``.
        note: A paragraph shown before the figure.
    """
    from scrutiny.diagnostics.plots import plot_spp
    from scrutiny.probes.spp import table_result

    names = arm_names(result, arms, "spp_figure")
    spps, used, missing = {}, {}, []
    for name in names:
        tables = _tables(result, store, name, prefix, seed)
        if not tables:
            missing.append(name)
            continue
        used[name] = min(tables)
        spps[name] = table_result(tables[used[name]])
    labels = [result.arms[n].label for n in spps]
    if len(set(labels)) != len(labels):
        raise ScrutinyError(f"sections: spp_figure: arms {list(spps)} share labels {labels}; give each its own label")
    curves = {result.arms[n].label: r for n, r in spps.items()}
    paragraphs = [note] if note else []
    paragraphs.append(
        "Depth counts residual blocks from 1; black dots mark the last block of each stage and dotted lines the "
        "stage boundaries. Seed plotted per arm: " + ", ".join(f"{n} {s}" for n, s in used.items()) + "."
    )
    if missing:
        paragraphs.append("No complete trial with this seed for: " + ", ".join(missing) + ".")
    overflow = {n: int(np.sum(~np.isfinite(r.avg_var))) for n, r in spps.items()}
    overflow = {n: k for n, k in overflow.items() if k}
    if overflow:
        paragraphs.append(
            "Statistics that overflowed float32 are left out of the curves (blocks per arm: "
            + ", ".join(f"{n} {k}" for n, k in overflow.items())
            + ")."
        )
    data = {name: {"seed": used[name], "blocks": len(spps[name]), "nonfinite": overflow.get(name, 0)} for name in used}
    figures = []
    if curves:

        def draw():
            axes = plot_spp(curves, yscale=yscale, title=title)
            return axes[0].figure

        caption = f"SPPs at initialisation ({yscale} y axis): squared mean, variance and residual variance per block."
        figures.append(Figure(figure, draw, caption))
    return ReportSection(title=title, paragraphs=paragraphs, figures=figures, data=data)


def _stage_rows(table: dict[str, Any]) -> list[dict[str, float]]:
    from scrutiny.probes.spp import table_result

    r = table_result(table)
    rows = []
    for s in list(dict.fromkeys(r.stages.tolist())):
        idx = np.flatnonzero(r.stages == s)
        res = r.res_avg_var[idx]
        rows.append(
            {
                "blocks": float(idx.size),
                "var_first": float(r.avg_var[idx[0]]),
                "var_end": float(r.avg_var[idx[-1]]),
                "sq_mean_end": float(r.avg_sq_mean[idx[-1]]),
                "res_var_mean": float(np.mean(res[np.isfinite(res)])) if np.isfinite(res).any() else float("nan"),
            }
        )
    return rows


@SECTIONS.register("spp_stage_table")
def spp_stage_table(
    result: Any,
    store: Any,
    arms: list[str] | None = None,
    prefix: str = "spp",
    title: str = "SPP per stage",
    note: str | None = None,
) -> ReportSection:
    """Per arm and stage, means over the complete seeds: the block-output variance after the transition block and
    at the end of the stage, the squared mean at the end of the stage, and the mean residual variance.

    Non-finite values (overflow) are shown as missing.
    """
    names = arm_names(result, arms, "spp_stage_table")
    columns = ["arm", "stage", "blocks", "var after transition", "var at end", "sq. mean at end", "mean res. var", "n"]
    rows: list[list[Any]] = []
    data: dict[str, Any] = {}
    for name in names:
        per_seed = [_stage_rows(t) for t in _tables(result, store, name, prefix, None).values()]
        if not per_seed:
            rows.append([name, None, None, None, None, None, None, 0])
            continue
        for s in range(len(per_seed[0])):
            cells = {}
            for key in ("blocks", "var_first", "var_end", "sq_mean_end", "res_var_mean"):
                vals = np.array([p[s][key] for p in per_seed if len(p) > s], dtype=float)
                cells[key] = float(vals.mean()) if np.isfinite(vals).all() else None
            rows.append(
                [
                    name,
                    s + 1,
                    int(cells["blocks"] or 0),
                    cells["var_first"],
                    cells["var_end"],
                    cells["sq_mean_end"],
                    cells["res_var_mean"],
                    len(per_seed),
                ]
            )
            data.setdefault(name, []).append(cells)
    return ReportSection(
        title=title,
        paragraphs=[note] if note else [],
        tables=[Table(columns, rows, caption="Means over seeds; stages count from 1.")],
        data=data,
    )
