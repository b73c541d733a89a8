"""``scrutiny invariance MODEL_OR_TRIAL``: per-class eKLD against training class size (Zhou et al., ICLR 2022).

MODEL_OR_TRIAL is a trial id (or a unique prefix) in the store, whose spec rebuilds the model and the data and whose
checkpoint is loaded; or a model name (``small_cnn``, ``preact_resnet``, ...) with ``--weights`` and ``--data``.
The measurement is the ``ekld`` probe's (:func:`scrutiny.probes.invariance.measure`): for a trial, with the trial's
own evaluation seed by default, so the numbers equal those its probe stored.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import typer

from scrutiny.cli import app
from scrutiny.cli._common import JsonOpt, StoreOpt, TrustOpt
from scrutiny.cli._output import Output
from scrutiny.errors import ScrutinyError

_LOADING = {"batch_size", "eval_batch_size", "num_workers", "drop_last", "sampler", "drs_start_epoch"}


def _parse_data(text: str) -> tuple[str | None, dict[str, Any]]:
    """``"digits_lt instance=2 size=16"`` -> ``("digits_lt", {...})``; ``"instance=2"`` keeps the trial's dataset."""
    import yaml

    words = shlex.split(text)
    name = None
    if words and "=" not in words[0]:
        name, words = words[0], words[1:]
    args: dict[str, Any] = {}
    for word in words:
        key, sep, raw = word.partition("=")
        if not sep or not key:
            raise ScrutinyError(f"--data: expected 'NAME key=value ...' or 'key=value ...', got {word!r} in {text!r}")
        args[key.removeprefix("data.")] = yaml.safe_load(raw) if raw else ""
    if name is None and not args:
        raise ScrutinyError("--data: expected a dataset name, e.g. --data 'digits_lt instance=1'")
    return name, args


def _build_bundle(name: str, args: dict[str, Any]) -> Any:
    from scrutiny.registry import DATASETS

    builder = DATASETS.get(name)
    kwargs = {k: v for k, v in args.items() if k not in _LOADING}
    try:
        return builder(**kwargs)
    except TypeError as exc:
        raise ScrutinyError(f"--data {name}: {str(exc).splitlines()[0]}") from None


def _from_trial(ref: str, store: Path, data: str | None, trust_code: bool) -> tuple[Any, Any, dict[str, Any]]:
    """Model (checkpoint loaded), bundle and provenance of a trial in ``store``.

    The trial's ``spec.json`` is data: its names may import modules outside scrutiny only with ``trust_code``.
    """
    from scrutiny.models import build_model
    from scrutiny.protocols.run_eval import load_weights
    from scrutiny.spec.load import resolve
    from scrutiny.store import Store
    from scrutiny.trials.seeding import TrialSeeds

    st = Store(store)
    if not Path(store).is_dir():
        raise ScrutinyError(f"--store: '{store}' is not a folder; '{ref}' is neither a trial there nor a model name")
    tid = st.resolve_id(ref)
    if st.status(tid) != "complete":
        raise ScrutinyError(f"{ref}: trial '{tid}' is {st.status(tid)}, not complete; it has no final checkpoint")
    spec = resolve(st.spec(tid)["spec"], fallback=f"{st.trial_dir(tid)}/spec.json", trust_code=trust_code)
    data_name, data_args = spec.data.name, {k: v for k, v in spec.data.model_dump().items() if k not in ("name",)}
    if data is not None:
        name, extra = _parse_data(data)
        if name is not None and name != data_name:
            data_name, data_args = name, {}
        data_args.update(extra)
    bundle = _build_bundle(data_name, data_args)
    context = {"num_classes": bundle.num_classes, "in_channels": bundle.in_channels, "image_size": bundle.image_size}
    model = build_model(spec.model.model_dump(), context, trust_code=trust_code)
    fmt = load_weights(model, st.trial_dir(tid) / "checkpoint.pt")
    seed = TrialSeeds.from_root(int(st.spec(tid)["seed"])).eval
    source = {
        "trial": tid,
        "model": spec.model.name,
        "weights": f"checkpoint.pt ({fmt})",
        "eval_split": spec.eval.split,
    }
    return model, bundle, {**source, "data": data_name, "default_seed": seed}


def _from_model(name: str, weights: str | None, data: str | None, sets: list[str]) -> tuple[Any, Any, dict[str, Any]]:
    from scrutiny.models import build_model
    from scrutiny.protocols.run_eval import load_weights
    from scrutiny.spec.load import parse_override

    if data is None:
        raise ScrutinyError(f"--data: required with a model name ('{name}'), e.g. --data 'digits_lt instance=1'")
    if weights is None:
        raise ScrutinyError(f"--weights: required with a model name ('{name}'); or give a trial id from the store")
    data_name, data_args = _parse_data(data)
    if data_name is None:
        raise ScrutinyError("--data: name the dataset first with a model name, e.g. --data 'digits_lt instance=1'")
    bundle = _build_bundle(data_name, data_args)
    section: dict[str, Any] = {"name": name}
    for text in sets:
        parts, value = parse_override(text)
        parts = parts[1:] if parts[0] == "model" and len(parts) == 2 else parts
        if len(parts) != 1:
            raise ScrutinyError(f"--set: expected model.KEY=VALUE, got {text!r}")
        section[parts[0]] = value
    context = {"num_classes": bundle.num_classes, "in_channels": bundle.in_channels, "image_size": bundle.image_size}
    try:
        model = build_model(section, context)
    except (TypeError, ValueError) as exc:
        raise ScrutinyError(f"{name}: {str(exc).splitlines()[0]}") from None
    fmt = load_weights(model, weights)
    source = {"trial": None, "model": name, "weights": f"{weights} ({fmt})", "eval_split": "test", "data": data_name}
    return model, bundle, {**source, "default_seed": 0}


def _looks_like_model(ref: str) -> bool:
    from scrutiny.registry import MODELS

    return ":" in ref or ref in MODELS


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
    from scrutiny.probes.invariance import eval_split, measure, transform_name
    from scrutiny.protocols.run_eval import resolve_device

    if not 0 < fraction <= 0.5:
        raise ScrutinyError(f"--fraction: expected a number in (0, 0.5], got {fraction}")
    out = Output(as_json)
    if weights is not None or _looks_like_model(ref):
        model, bundle, source = _from_model(ref, weights, data, overrides or [])
    else:
        if overrides:
            raise ScrutinyError("--set: only with a model name; a trial rebuilds its model from its spec")
        model, bundle, source = _from_trial(ref, store, data, trust_code)
    dev = resolve_device(device)
    where = eval_split(bundle, split, source["eval_split"])
    name = transform_name(bundle, transform)
    used_seed = source["default_seed"] if seed is None else seed
    result, metrics, rows, corr = measure(
        model.to(dev),
        bundle,
        transform=name,
        split=where,
        n_transforms=n_transforms,
        max_per_class=max_per_class,
        batch_size=batch_size,
        reps=reps,
        fraction=fraction,
        seed=used_seed,
        device=dev,
    )
    figure = None
    if out_path is not None:
        from scrutiny.diagnostics.invariance import RankCorrelation, plot_ekld

        ax = plot_ekld(result, correlation=RankCorrelation(**corr), yscale="log")
        ax.set_title(f"{source['trial'] or source['model']}: {name}, {where}\n{ax.get_title()}", fontsize=9)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        ax.figure.savefig(out_path, dpi=200)
        figure = str(out_path)
    setup = {k: v for k, v in source.items() if k not in ("default_seed", "eval_split")}
    payload = {
        **setup,
        "transform": name,
        "split": where,
        "n_transforms": n_transforms,
        "seed": used_seed,
        "device": str(dev),
        "metrics": metrics,
        "correlation": corr,
        "classes": rows,
        "figure": figure,
    }
    if as_json:
        out.json(payload)
        return
    who = f"trial {source['trial']}" if source["trial"] else f"{source['model']} ({source['weights']})"
    out.table(
        f"{who}: eKLD under {name} on {where}, {n_transforms} transforms per image (largest class first)",
        ["rank", "class", "train size", "group", "images", "eKLD", "95% CI"],
        [
            [
                r["rank"],
                r["class"],
                r["train_size"],
                r["group"],
                r["n_images"],
                r["ekld"],
                None if r["low"] is None else f"[{r['low']:.3g}, {r['high']:.3g}]",
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
    out.print(f"figure: {figure}" if figure else "no figure written (pass --out ekld.png)")
