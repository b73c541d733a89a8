"""``scrutiny eval``: a model with local weights, on a class-folder dataset, under 1-crop, 10-crop and multi-scale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from scrutiny.cli import app
from scrutiny.cli._common import JsonOpt, StoreOpt, TrustOpt, flag_errors
from scrutiny.cli._output import Output
from scrutiny.protocols._image import IMAGENET_MEAN, IMAGENET_STD

# library parameter -> the flag that sets it
FLAGS = {
    "weights": "--weights",
    "data": "--data",
    "model": "--model",
    "protocols": "--protocols",
    "overrides": "--set",
    "device": "--device",
}


def _short_params(params: dict[str, Any]) -> str:
    shown = {
        k: v
        for k, v in params.items()
        if not (k == "mean" and tuple(v) == IMAGENET_MEAN) and not (k == "std" and tuple(v) == IMAGENET_STD)
    }
    return " ".join(f"{k}={v}" for k, v in shown.items() if v is not None)


@app.command("eval")
def eval_command(
    weights: str = typer.Option(..., "--weights", help="state_dict / checkpoint file, trial folder, or trial id."),
    data: str = typer.Option(..., "--data", help="imagefolder:ROOT (ROOT/val, or ROOT itself, holds class folders)."),
    model: str = typer.Option(
        None,
        "--model",
        help="Model name, e.g. torchvision:resnet50 or resnet (default: the trial's model when --weights is a trial).",
    ),
    protocols: str = typer.Option("single,ten,multi", "--protocols", help="Comma-separated: single, ten, multi."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Images per step."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    overrides: list[str] = typer.Option(None, "--set", help="model.KEY=VALUE or ten.resize=288 (repeatable)."),
    save_predictions: Path = typer.Option(None, "--save-predictions", help="Folder for <protocol>.npz/.json."),
    workers: int = typer.Option(0, "--workers", min=0, help="DataLoader worker processes."),
    store: Path = StoreOpt,
    trust_code: bool = TrustOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Top-1 / top-5 error and images/s of a model with local weights under each protocol (nothing downloaded)."""
    from scrutiny.workflows.evaluate import evaluate_weights

    out = Output(as_json)
    with flag_errors(FLAGS):
        ev = evaluate_weights(
            weights,
            data,
            model=model,
            protocols=protocols,
            overrides=overrides or [],
            batch_size=batch_size,
            device=device,
            save_predictions=save_predictions,
            num_workers=workers,
            store=store,
            trust_code=trust_code,
            progress=not as_json,
            notify=out.note,
        )
    if as_json:
        out.json(ev.to_dict())
        return
    section, source, dev, runs = ev.model, ev.data, ev.device, ev.runs
    out.table(
        f"{section['name']} on {source.folder} ({dev}; n = examples, errors in %)",
        ["protocol", "params", "n", "top-1 err", "top-5 err", "views/img", "images/s"],
        [
            [
                r.result.protocol,
                _short_params(r.result.params),
                r.result.n,
                f"{100 * r.result.top1_error:.2f}",
                f"{100 * r.result.top5_error:.2f}" + ("" if r.result.k == 5 else f" (top-{r.result.k})"),
                r.views_per_image,
                f"{r.images_per_s:.1f}",
            ]
            for r in runs
        ],
    )
    if save_predictions is not None:
        out.note(f"predictions: {', '.join(str(r.predictions) for r in runs)}")
