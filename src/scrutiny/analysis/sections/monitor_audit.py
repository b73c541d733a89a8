"""``monitor_audit``: for every arm, the exact test accuracy next to what the PNN code's monitor would have printed.

Reads the result fields of the ``monitor`` probe (:mod:`scrutiny.probes.monitor`) of every complete trial: the
monitor's value (moving average of per-batch accuracies, never reset, partial batch skipped, best epoch on the test
set), the exact final accuracy, their difference (the inflation) and the part of it that each choice contributes
alone. Published rows (a source's reported and exact values for one run) come first, as given in the claim.
The figure draws, per arm, both values at every epoch of its first complete seed (from ``probes/<prefix>.json``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scrutiny.analysis.sections._base import Figure, ReportSection, Table, arm_names
from scrutiny.errors import ScrutinyError
from scrutiny.registry import SECTIONS
from scrutiny.spec import trial_id

PARTS = (
    ("smoothing_inflation", "smoothing alone"),
    ("best_epoch_inflation", "best epoch alone"),
    ("drop_partial_inflation", "partial batch skipped alone"),
    ("interaction", "together beyond the parts"),
)


def _mean_sd(values: np.ndarray) -> tuple[float | None, float | None]:
    if values.size == 0:
        return None, None
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else None


def _published_rows(published: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for i, p in enumerate(published):
        missing = [k for k in ("who", "reported", "exact") if k not in p]
        if missing:
            raise ScrutinyError(f"sections: monitor_audit: published.{i}: missing {', '.join(missing)}")
        reported, exact = float(p["reported"]), float(p["exact"])
        rows.append([f"published: {p['who']}", 1, exact, reported, reported - exact, None, *([None] * len(PARTS))])
    return rows


@SECTIONS.register("monitor_audit")
def monitor_audit(
    result: Any,
    store: Any,
    prefix: str = "monitor",
    arms: list[str] | None = None,
    published: list[dict[str, Any]] | None = None,
    title: str = "The monitor audit: exact accuracy vs what the original code's monitor would have reported",
    note: str | None = None,
) -> ReportSection:
    """Exact vs monitor-reported accuracy per arm (mean over seeds and per seed), with published rows first.

    Args:
        result: The claim's result.
        store: The trial store (per-epoch tables of the probe, for the figure).
        prefix: The monitor probe's field prefix in the arms' specs.
        arms: Arms to show (default: every arm).
        published: A source's single runs: ``[{who, reported, exact, note}]`` (fractions).
        title: The heading.
        note: A paragraph shown first.
    """
    names = arm_names(result, arms, "monitor_audit")
    reported_key, exact_key = f"{prefix}_reported_acc", f"{prefix}_exact_acc"
    paragraphs = [note] if note else []
    paragraphs.append(
        "Monitor = the original PNN code's test accuracy (reference notes A.5): a 0.7·running + 0.3·batch moving "
        "average of per-batch accuracies, never reset between epochs, batches smaller than the batch size skipped, "
        "and the best epoch on the test set. Exact = correct / evaluated test examples at the final epoch. "
        "Inflation = monitor − exact; each 'alone' column switches on one of the three choices by itself."
    )
    mean_rows = _published_rows(published or [])
    seed_rows: list[list[Any]] = []
    lacking, mismatched = [], []
    data: dict[str, Any] = {"published": published or [], "arms": {}}
    curves: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        arm = result.arms[name]
        if arm.n and reported_key not in arm.others:
            lacking.append(name)
            continue
        if not arm.n:
            mean_rows.append([name, 0, None, None, None, None, *([None] * len(PARTS))])
            continue
        exact, reported = arm.values(exact_key), arm.values(reported_key)
        final = arm.values(f"final_{result.specs[name].eval.split}_acc")
        if np.abs(exact - final).max() > 1e-9:
            mismatched.append(name)
        inflation = reported - exact
        parts = {key: arm.others.get(f"{prefix}_{key}", np.full(arm.n, np.nan)) for key, _ in PARTS}
        mean_infl, sd_infl = _mean_sd(inflation)
        mean_rows.append(
            [
                name,
                arm.n,
                float(exact.mean()),
                float(reported.mean()),
                mean_infl,
                sd_infl,
                *(float(np.mean(parts[key])) for key, _ in PARTS),
            ]
        )
        epochs = arm.others.get(f"{prefix}_reported_epoch", np.full(arm.n, np.nan))
        for i, seed in enumerate(arm.complete_seeds):
            seed_rows.append(
                [
                    name,
                    seed,
                    float(exact[i]),
                    float(reported[i]),
                    float(inflation[i]),
                    None if np.isnan(epochs[i]) else int(epochs[i]),
                    *(float(parts[key][i]) for key, _ in PARTS),
                ]
            )
        data["arms"][name] = {
            "seeds": list(arm.complete_seeds),
            "exact": exact.tolist(),
            "reported": reported.tolist(),
            "inflation": inflation.tolist(),
            **{key: parts[key].tolist() for key, _ in PARTS},
        }
        tid = trial_id(arm.spec_hash, arm.complete_seeds[0])
        try:
            curves[name] = store.probe(tid, prefix).get("epochs", [])
        except ScrutinyError:
            curves[name] = []
    if lacking:
        paragraphs.append(
            f"No '{prefix}' probe fields in the trials of {', '.join(lacking)} (the spec needs eval.save_batches: "
            f"true and probes: [{{name: monitor}}])."
        )
    if mismatched:
        paragraphs.append(f"Integrity: the probe's exact accuracy differs from final_*_acc in {', '.join(mismatched)}.")
    part_cols = [label for _, label in PARTS]
    tables = [
        Table(
            ["arm", "n", "exact", "monitor", "inflation", "sd of inflation", *part_cols],
            mean_rows,
            caption="Means over seeds (fractions); published rows are single runs",
        ),
        Table(
            ["arm", "seed", "exact", "monitor", "inflation", "monitor's epoch", *part_cols],
            seed_rows,
            caption="Per seed",
        ),
    ]
    figures = []
    if any(curves.values()):
        figures.append(
            Figure(
                "monitor_audit_curves",
                lambda: _draw(curves),
                caption="Exact test accuracy and the monitor's value at every epoch (first complete seed per arm)",
            )
        )
    return ReportSection(title=title, paragraphs=paragraphs, tables=tables, figures=figures, data=data)


def _draw(curves: dict[str, list[dict[str, Any]]]) -> Any:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    shown = {k: v for k, v in curves.items() if v}
    cols = min(4, len(shown))
    rows = -(-len(shown) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False, sharey=True)
    for ax, (name, table) in zip(axes.flat, shown.items(), strict=False):
        epochs = [r["epoch"] for r in table]
        ax.plot(epochs, [r["exact"] for r in table], marker="o", ms=3, label="exact")
        ax.plot(epochs, [r["monitor"] for r in table], marker="s", ms=3, label="monitor")
        best = int(np.argmax([r["monitor"] for r in table]))
        ax.scatter([epochs[best]], [table[best]["monitor"]], s=60, facecolors="none", edgecolors="k", zorder=3)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in list(axes.flat)[len(shown) :]:
        ax.set_visible(False)
    axes[0][0].set_ylabel("test accuracy")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig
