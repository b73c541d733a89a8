"""``scrutiny eval``: a model with local weights, on a class-folder dataset, under 1-crop, 10-crop and multi-scale."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from scrutiny.cli import app
from scrutiny.cli._common import JsonOpt, StoreOpt, TrustOpt
from scrutiny.cli._output import Output
from scrutiny.errors import ScrutinyError
from scrutiny.protocols._image import IMAGENET_MEAN, IMAGENET_STD
from scrutiny.protocols.run_eval import (
    ALIASES,
    build_protocols,
    evaluate_protocols,
    load_weights,
    resolve_data,
    resolve_device,
    resolve_weights,
)

_SECTIONS = {"model", *ALIASES, *ALIASES.values()}


def _split_sets(items: list[str]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``model.depth=50`` / ``ten.resize=128`` -> model kwargs and per-protocol kwargs."""
    from scrutiny.spec.load import parse_override

    model: dict[str, Any] = {}
    protocols: dict[str, dict[str, Any]] = {}
    for text in items:
        parts, value = parse_override(text)
        if len(parts) != 2 or parts[0] not in _SECTIONS:
            raise ScrutinyError(
                f"--set: expected model.KEY=VALUE or <protocol>.KEY=VALUE with protocol one of "
                f"{sorted(_SECTIONS - {'model'})}, got {text!r}"
            )
        target = model if parts[0] == "model" else protocols.setdefault(parts[0], {})
        target[parts[1]] = value
    return model, protocols


def _trial_model(checkpoint: Path) -> dict[str, Any] | None:
    """The ``model`` section of the trial that wrote ``checkpoint`` (from its ``spec.json``), if any."""
    spec_file = checkpoint.parent / "spec.json"
    if not spec_file.is_file():  # a FIFO or device planted there is never opened
        return None
    try:
        return json.loads(spec_file.read_text())["spec"]["model"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


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
    from scrutiny.models import build_model

    out = Output(as_json)
    model_args, protocol_args = _split_sets(overrides or [])
    source = resolve_data(data)
    protocol_objs = build_protocols(protocols, protocol_args)
    ckpt, weights_source = resolve_weights(weights, store)
    context: dict[str, Any] = {}
    section: dict[str, Any] | None = {"name": model} if model else None
    stored = section is None  # the model named by a trial's spec.json: data, not code, unless trusted
    if section is None:
        section = _trial_model(ckpt) if weights_source.startswith("trial") else None
        if section is None:
            raise ScrutinyError("--model: required (only a trial's checkpoint names its own model)")
        # a trial's model took num_classes from its dataset; the evaluated folder has the same classes
        context["num_classes"] = sum(1 for p in source.folder.iterdir() if p.is_dir())
    section = {**section, **model_args}
    try:
        net = build_model(section, context, trust_code=trust_code or not stored)
    except (TypeError, ValueError) as exc:
        raise ScrutinyError(f"--model {section['name']}: {str(exc).splitlines()[0]}") from None
    fmt = load_weights(net, ckpt)
    dev = resolve_device(device)
    out.note(f"data: {source.describe()}")
    out.note(f"weights: {ckpt} ({weights_source}, {fmt}); model {section['name']} on {dev}")
    runs = evaluate_protocols(
        net,
        source,
        protocol_objs,
        batch_size=batch_size,
        device=dev,
        save_predictions=save_predictions,
        progress=not as_json,
        num_workers=workers,
    )
    if as_json:
        out.json(
            {
                "model": {**section, "n_params": sum(p.numel() for p in net.parameters())},
                "weights": {"path": str(ckpt), "source": weights_source, "format": fmt},
                "data": {
                    "root": str(source.root),
                    "folder": str(source.folder),
                    "which": source.which,
                    "classes": runs[0].result.classes if runs else [],
                },
                "device": str(dev),
                "rows": [r.to_dict() for r in runs],
            }
        )
        return
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
