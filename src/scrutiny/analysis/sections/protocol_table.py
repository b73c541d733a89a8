"""``protocol_table``: per arm, top-1/top-5 error under each test-time protocol of the ``crops`` probe, with intervals
and the published numbers next to ours.

Intervals: with two or more seeds, the Student-t interval of the mean over seeds (the seed is the unit of
replication); with one seed (fixed published weights, evaluated deterministically), the normal-approximation
binomial interval over the ``n`` evaluated images, ``p ± 1.96·sqrt(p(1-p)/n)``. The comparison with a published
number is shown only at the ``paper`` scale; at the other scales the published column is context.

One decision rule per number: at the ``paper`` scale the "matches" column is the verdict engine's on
``arm[<prefix>_<protocol>_top1_err] ≈ published ± tol`` (:mod:`scrutiny.analysis.verdicts`). Where the claim has
that hypothesis, its verdict is shown (decided in the claim's family); otherwise the section decides it with the
same engine on its own (marked "exploratory"). Arms whose trials are the same (equal spec hash) are evaluated once:
the later ones get one row saying "same trials as …".
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from scrutiny.analysis.sections._base import Figure, ReportSection, Table
from scrutiny.analysis.verdicts import REPRODUCED, Rules, evaluate_family
from scrutiny.registry import SECTIONS
from scrutiny.spec.claim import Hypothesis
from scrutiny.stats.aggregate import mean_ci

if TYPE_CHECKING:
    from scrutiny.analysis.check import ClaimResult
    from scrutiny.store import Store

PROTOCOLS = ("single", "ten", "multi")
LABELS = {"single": "1-crop", "ten": "10-crop", "multi": "multi-scale"}


def _interval(values: np.ndarray, n_images: float | None) -> tuple[float, float, str] | None:
    if values.size >= 2:
        ci = mean_ci(values)
        return ci.low, ci.high, "t over seeds"
    if values.size == 1 and n_images:
        p = float(values[0])
        half = 1.96 * math.sqrt(max(p * (1 - p), 0.0) / n_images)
        return p - half, p + half, "binomial over images"
    return None


def _pct(x: float | None) -> float | None:
    return None if x is None else round(100 * x, 2)


@SECTIONS.register("protocol_table")
def protocol_table(
    result: ClaimResult,
    store: Store,
    published: dict[str, dict[str, list[float]]] | None = None,
    protocols: list[str] | None = None,
    prefix: str = "crops",
    tol: float | None = None,
    title: str = "Top-1 / top-5 error per test-time protocol",
) -> ReportSection:
    """One row per arm and protocol: our mean error (%) with its interval, the published error, and (paper) the gap.

    Args:
        result: The claim result.
        store: The trial store (unused; sections share the signature).
        published: Arm -> protocol key -> ``[top-1, top-5]`` error in percent, as the sources print them.
        protocols: Protocol keys of the probe (default ``single``, ``ten``, ``multi``).
        prefix: The probe's field prefix.
        tol: At the ``paper`` scale, the tolerance in points of ``≈ published ± tol`` for rows that no hypothesis of
            the claim covers (those rows are decided by the engine on their own); ``None``: such rows get no verdict.
        title: Section heading.
    """
    del store
    keys = protocols or list(PROTOCOLS)
    published = published or {}
    paper = result.scale == "paper"
    rows: list[list[Any]] = []
    data: dict[str, Any] = {}
    decided: list[str] = []
    seen: dict[str, str] = {}
    for name, arm in result.arms.items():
        if arm.spec_hash and arm.spec_hash in seen:
            rows.append([name, f"same trials as {seen[arm.spec_hash]}"] + [None] * 8)
            data[name] = {"same_trials_as": seen[arm.spec_hash]}
            continue
        if arm.spec_hash:
            seen[arm.spec_hash] = name
        n_images = arm.others.get(f"{prefix}_n")
        n_img = float(n_images[0]) if n_images is not None and n_images.size else None
        for key in keys:
            field = f"{prefix}_{key}_top1_err"
            top1 = arm.others.get(field)
            if top1 is None or top1.size == 0:
                continue
            top5 = arm.others.get(f"{prefix}_{key}_top5_err")
            interval = _interval(top1, n_img)
            pub = published.get(name, {}).get(key)
            ours = float(top1.mean())
            gap = None if pub is None or not paper else 100 * ours - pub[0]
            match = _match(result, name, field, pub[0] / 100, tol) if paper and pub is not None else None
            if match is not None:
                decided.append(match)
            rows.append(
                [
                    name,
                    LABELS.get(key, key),
                    int(top1.size),
                    _pct(ours),
                    None if interval is None else f"{100 * interval[0]:.2f} … {100 * interval[1]:.2f}",
                    None if top5 is None or top5.size == 0 else _pct(float(top5.mean())),
                    None if pub is None else pub[0],
                    None if pub is None or len(pub) < 2 else pub[1],
                    None if gap is None else round(gap, 2),
                    match or "—",
                ]
            )
            data.setdefault(name, {})[key] = {
                "top1_err": top1.tolist(),
                "top5_err": None if top5 is None else top5.tolist(),
                "interval": None if interval is None else list(interval),
                "published": pub,
                "verdict": match,
            }
    paragraphs = [
        "Errors in percent on the evaluated split, same weights under each protocol. Interval: "
        + (
            "Student-t over seeds."
            if any(isinstance(r[2], int) and r[2] >= 2 for r in rows)
            else "binomial over images (one seed)."
        )
    ]
    if not paper:
        paragraphs.append(
            f"Scale '{result.scale}': the published columns are ImageNet numbers, shown for context; they are not "
            "expected here, and no row is compared with them."
        )
    else:
        paragraphs.append(
            "'verdict': the verdict engine on 'top-1 error ≈ published ± tol' (the claim's hypothesis and its "
            "verdict where it has one; otherwise decided on its own, marked exploratory). No point rule."
        )
    verdict = None
    if decided:
        n_ok = sum(d.startswith(REPRODUCED) for d in decided)
        verdict = "ALL MATCH" if n_ok == len(decided) else f"{n_ok}/{len(decided)} MATCH"
    figures = []
    plotted = {k: v for k, v in data.items() if "same_trials_as" not in v}
    if plotted:
        figures.append(
            Figure(
                "protocol_table",
                lambda: _draw(plotted, keys, show_published=paper),
                caption="Top-1 error per protocol and arm (mean and 95% interval)"
                + ("; crosses: published numbers" if paper else ""),
            )
        )
    columns = ["arm", "protocol", "n", "top-1 err %", "95% interval", "top-5 err %", "published top-1"]
    columns += ["published top-5", "ours − published", "verdict (≈ published)"]
    return ReportSection(
        title=title, paragraphs=paragraphs, tables=[Table(columns, rows)], figures=figures, data=data, verdict=verdict
    )


def _match(result: ClaimResult, arm: str, field: str, value: float, tol: float | None) -> str | None:
    """The engine's verdict on ``arm[field] ≈ value``: the claim's own where it has one, else decided apart."""
    for v in result.verdicts:
        if (
            v.kind == "matches_reported"
            and v.a == arm
            and v.metric == field
            and math.isclose(v.bound[0] + v.bound[1], 2 * value)
        ):
            return v.verdict
    if tol is None:
        return None
    h = Hypothesis(kind="matches_reported", a=arm, metric=field, value=value, tol=tol / 100, exploratory=True)
    rules = Rules.of_claim(result.claim) if getattr(result, "claim", None) is not None else Rules()
    return f"{evaluate_family([h], result.arms, rules)[0].verdict} (exploratory)"


def _draw(data: dict[str, Any], keys: list[str], show_published: bool) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(data), 3.2))
    width = 0.8 / max(len(keys), 1)
    for j, key in enumerate(keys):
        xs, ys, lo, hi, pubs = [], [], [], [], []
        for i, arm in enumerate(data):
            entry = data[arm].get(key)
            if entry is None:
                continue
            x = i + (j - (len(keys) - 1) / 2) * width
            y = 100 * float(np.mean(entry["top1_err"]))
            iv = entry["interval"]
            xs.append(x)
            ys.append(y)
            lo.append(y - 100 * iv[0] if iv else 0.0)
            hi.append(100 * iv[1] - y if iv else 0.0)
            if show_published and entry["published"]:
                pubs.append((x, entry["published"][0]))
        ax.bar(xs, ys, width=width * 0.9, yerr=[lo, hi], capsize=2, label=LABELS.get(key, key))
        if pubs:
            ax.scatter(*zip(*pubs, strict=True), marker="x", color="black", zorder=3)
    ax.set_xticks(range(len(data)), list(data), rotation=20, fontsize=8)
    ax.set_ylabel("top-1 error (%)")
    ax.set_ylim(0, min(100, ax.get_ylim()[1]))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return ax
