"""``scrutiny invariance MODEL_OR_TRIAL``: per-class eKLD against training class size (Zhou et al., ICLR 2022).

MODEL_OR_TRIAL is a trial id (or a unique prefix) in the store, whose spec rebuilds the model and the data and whose
checkpoint is loaded; or a model name (``small_cnn``, ``preact_resnet``, ...) with ``--weights`` and ``--data``.
The work is :func:`scrutiny.workflows.invariance.measure_invariance`; this module maps flags and renders.
"""

from __future__ import annotations

from pathlib import Path

import typer

from scrutiny.cli import app
from scrutiny.cli._common import JsonOpt, StoreOpt, TrustOpt, flag_errors
from scrutiny.cli._output import Output

# library parameter -> the flag that sets it
FLAGS = {
    "weights": "--weights",
    "data": "--data",
    "overrides": "--set",
    "fraction": "--fraction",
    "device": "--device",
    "transform": "--transform",
    "split": "--split",
}


@app.command("invariance")
def invariance_command(
    ref: str = typer.Argument(..., metavar="MODEL_OR_TRIAL", help="A trial id (prefix) in --store, or a model name."),
    weights: str = typer.Option(None, "--weights", help="state_dict / checkpoint file (with a model name)."),
    data: str = typer.Option(
        None,
        "--data",
        help="Dataset and arguments: 'digits_lt instance=1 transform=rotation'; for a trial, 'instance=2' changes "
        "its own data (default: the trial's data).",
    ),
    transform: str = typer.Option(
        None, "--transform", help="rotation, background or dilate_erode (default: the data's own transform)."
    ),
    n_transforms: int = typer.Option(20, "--n-transforms", min=1, help="Transforms per image (reference: 100)."),
    split: str = typer.Option(None, "--split", help="Images measured (default: test_clean if present, else test)."),
    max_per_class: int = typer.Option(None, "--max-per-class", min=1, help="Images per class (reference: 40)."),
    seed: int = typer.Option(None, "--seed", help="Seed of draws and bootstraps (default: a trial's eval seed, 0)."),
    reps: int = typer.Option(1000, "--reps", min=1, help="Bootstrap replicates of the intervals."),
    fraction: float = typer.Option(1 / 3, "--fraction", help="Share of classes in the head and in the tail."),
    batch_size: int = typer.Option(1024, "--batch-size", min=1, help="Model inputs per forward pass."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or auto."),
    overrides: list[str] = typer.Option(None, "--set", help="model.KEY=VALUE for a model name (repeatable)."),
    out_path: Path = typer.Option(None, "--out", help="Write the eKLD-vs-class-size plot here (PNG, PDF or SVG)."),
    store: Path = StoreOpt,
    trust_code: bool = TrustOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Per-class eKLD of a trained model under a transform family, against its training class sizes (log axes)."""
    from scrutiny.workflows.invariance import measure_invariance

    out = Output(as_json)
    with flag_errors(FLAGS):
        result = measure_invariance(
            ref,
            store=store,
            weights=weights,
            data=data,
            overrides=overrides or [],
            transform=transform,
            n_transforms=n_transforms,
            split=split,
            max_per_class=max_per_class,
            seed=seed,
            reps=reps,
            fraction=fraction,
            batch_size=batch_size,
            device=device,
            out=out_path,
            trust_code=trust_code,
        )
    payload = result.to_dict()
    source, name, where, rows, figure = result.source, result.transform, result.split, result.classes, result.figure
    corr, metrics = result.correlation, result.metrics
    if as_json:
        out.json(payload)
        return
    who = f"trial {source['trial']}" if source["trial"] else f"{source['model']} ({source['weights']})"
    out.table(
        f"{who}: eKLD under {name} on {where}, {n_transforms} transforms per image (largest class first)",
        ["rank", "class", "train size", "group", "images", "eKLD", "95% CI", "accuracy"],
        [
            [
                r["rank"],
                r["class"],
                r["train_size"],
                r["group"],
                r["n_images"],
                r["ekld"],
                None if r["low"] is None else f"[{r['low']:.3g}, {r['high']:.3g}]",
                r.get("acc"),
            ]
            for r in rows
        ],
    )
    m = metrics
    out.print(
        f"Spearman ρ(class size, eKLD) = {m['spearman']:.3f} [{m['spearman_low']:.3f}, {m['spearman_high']:.3f}] "
        f"(bootstrap over {corr['n']} classes)"
    )
    head = "—" if m["head"] is None else f"{m['head']:.4g}"
    tail = "—" if m["tail"] is None else f"{m['tail']:.4g}"
    out.print(
        f"head eKLD {head} ({m['n_head']} classes), tail eKLD {tail} ({m['n_tail']} classes), "
        f"mean {m['mean']:.4g} over {m['n_images']} images"
    )
    if m.get("acc_balanced") is not None:
        split_name = next((r["acc_split"] for r in rows if "acc_split" in r), "?")
        parts = [f"{g} {m[f'acc_{g}']:.3g}" for g in ("head", "tail") if m.get(f"acc_{g}") is not None]
        out.print(f"accuracy on {split_name}: {', '.join(parts)}, balanced {m['acc_balanced']:.3g}")
    out.print(f"figure: {figure}" if figure else "no figure written (pass --out ekld.png)")
