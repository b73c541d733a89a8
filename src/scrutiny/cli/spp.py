"""``scrutiny spp MODEL``: signal propagation plots of models at initialisation, overlaid (Brock et al. 2021)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from scrutiny.cli import app
from scrutiny.cli._common import JsonOpt, flag_errors
from scrutiny.cli._output import Output

FULL_TABLE_MAX = 16


# library parameter -> the flag (or argument) that sets it
FLAGS = {
    "model": "MODEL",
    "overrides": "--set",
    "compare": "--compare",
    "compare_overrides": "--compare-set",
    "labels": "--label",
    "inputs": "--inputs",
    "mode": "--mode",
    "blocks": "--blocks",
    "residuals": "--residuals",
    "yscale": "--yscale",
    "device": "--device",
}


def summary_rows(result: Any, full_max: int = FULL_TABLE_MAX) -> tuple[list[int], str | None]:
    """Indices of the rows to print and a note about the ones left out.

    Up to ``full_max`` blocks: every block. Deeper: the first two and the last block of each stage.
    """
    n = len(result)
    if n <= full_max:
        return list(range(n)), None
    stages = result.stages
    keep: set[int] = set()
    for s in dict.fromkeys(stages.tolist()):
        idx = [i for i in range(n) if stages[i] == s]
        keep.update(idx[:2] + idx[-1:])
    rows = sorted(keep)
    return rows, f"{len(rows)} of {n} blocks shown (the first two and the last of each stage); --json gives all"


@app.command("spp")
def spp_command(
    model: str = typer.Argument(..., help="Registry name: preact_resnet, nf_resnet, torchvision:resnet50, ..."),
    overrides: list[str] = typer.Option(
        None, "--set", help="MODEL argument: --set depth=600 or --set model.depth=600 (repeatable)."
    ),
    compare: list[str] = typer.Option(
        None,
        "--compare",
        help="Another model to overlay, with inline arguments: --compare 'nf_resnet depth=600 skip_gain=1' "
        "(repeatable).",
    ),
    compare_set: list[str] = typer.Option(
        None, "--compare-set", help="Argument for every --compare model (its inline arguments win; repeatable)."
    ),
    labels: list[str] = typer.Option(
        None, "--label", help="Legend label, in order: MODEL, then each --compare (repeatable)."
    ),
    out_path: Path = typer.Option(None, "--out", help="Write the three-panel figure here (PNG, PDF or SVG)."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Batch size of the input."),
    resolution: int = typer.Option(224, "--resolution", min=1, help="Side of the square input, in pixels."),
    seed: int = typer.Option(0, "--seed", help="Seed of the initialisation and of the input."),
    inputs: str = typer.Option("gaussian", "--inputs", help="Input: 'gaussian' (unit Gaussian noise)."),
    num_batches: int = typer.Option(1, "--num-batches", min=1, help="Batches pooled into the statistics."),
    mode: str = typer.Option("batch_stats", "--mode", help="batch_stats (BatchNorm on batch statistics), eval, train."),
    blocks: str = typer.Option(None, "--blocks", help="Block pattern over module names, e.g. 'layer*.*'."),
    residuals: str = typer.Option(None, "--residuals", help="Residual-branch pattern inside each block, e.g. 'bn3'."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or auto."),
    yscale: str = typer.Option("linear", "--yscale", help="Y scale of the panels: linear or log."),
    title: str = typer.Option(None, "--title", help="Figure title (default: the input and mode)."),
    as_json: bool = JsonOpt,
) -> None:
    """Measure the SPP of MODEL at initialisation (and of each --compare model) and plot them together."""
    from scrutiny.workflows.spp import compare_spp

    out = Output(as_json)
    with flag_errors(FLAGS):
        spp = compare_spp(
            model,
            overrides or [],
            compare=compare or [],
            compare_overrides=compare_set or [],
            labels=labels or [],
            batch_size=batch_size,
            resolution=resolution,
            seed=seed,
            inputs=inputs,
            num_batches=num_batches,
            mode=mode,
            blocks=blocks,
            residuals=residuals,
            device=device,
            out=out_path,
            yscale=yscale,
            title=title,
        )
    results, figure = spp.results, spp.figure
    if as_json:
        out.json(spp.to_dict())
        return
    for label, result in results.items():
        keep, note = summary_rows(result)
        rows = [[i + 1, result.rows[i].name, result.rows[i].stage, *_stats(result.rows[i])] for i in keep]
        shape = "×".join(str(d) for d in result.meta.get("batch_shape", []))
        out.table(
            f"{label}: {len(result)} blocks, {inputs} input {shape}",
            ["#", "block", "stage", "sq mean", "var", "res var"],
            rows,
        )
        if note:
            out.print(f"  {note}")
    out.print(f"figure: {figure}" if figure else "no figure written (pass --out spp.png)")


def _stats(row: Any) -> list[float | None]:
    res = row.res_avg_var
    return [row.avg_sq_mean, row.avg_var, None if res != res else res]
