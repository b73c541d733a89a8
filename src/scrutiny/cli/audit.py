"""``scrutiny audit accuracy``: which computation reproduces a reported accuracy, and how much each one inflates it;
``scrutiny audit duplicates``: train/test duplicates and near-duplicates of a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from scrutiny.audit import audit_reported_accuracy, counts_from_file, counts_from_trial
from scrutiny.audit.dataset import build_dataset, data_overrides, parse_data, pick_splits, spec_data
from scrutiny.audit.duplicates import DEFAULT_MIN_COSINE, DEFAULT_PHASH_DISTANCE
from scrutiny.cli import app
from scrutiny.cli._common import JsonOpt, StoreOpt
from scrutiny.cli._output import Output
from scrutiny.store import Store

if TYPE_CHECKING:
    from scrutiny.data import DataBundle

audit_app = typer.Typer(help="Checks for evaluation bugs.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("accuracy")
def accuracy(
    source: str = typer.Argument(..., help="A trial id (or prefix) in the store, or a CSV/JSON of per-batch counts."),
    reported: float = typer.Option(..., "--reported", help="The reported accuracy (fraction, or percent if > 1)."),
    batch_size: int = typer.Option(None, "--batch-size", min=1, help="Configured batch size (partial = smaller)."),
    smoothness: float = typer.Option(0.7, "--smoothness", min=0.0, max=1.0, help="Moving average's running weight."),
    tolerance: float = typer.Option(5e-4, "--tolerance", min=0.0, help="Match tolerance, as a fraction."),
    store: Path = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Which computation (exact, per-batch mean, moving average, dropped partial batch, best epoch) gives REPORTED."""
    out = Output(as_json)
    path = Path(source)
    inputs = (
        counts_from_file(path) if path.suffix.lower() in (".csv", ".json") else counts_from_trial(Store(store), source)
    )
    result = audit_reported_accuracy(
        inputs["per_batch_correct"],
        inputs["per_batch_sizes"],
        reported,
        batch_size=batch_size or inputs.get("batch_size"),
        epoch_correct=inputs.get("epoch_correct"),
        epoch_n=inputs.get("epoch_n"),
        smoothness=smoothness,
        tolerance=tolerance,
    )
    if as_json:
        out.json({"source": inputs["source"], **result.to_dict()})
        return
    out.print(
        f"{inputs['source']}: reported {100 * result.reported:.2f}%, exact final-epoch accuracy "
        f"{100 * result.exact:.2f}% ({result.n_epochs} epoch(s), per-batch counts of the {result.per_batch})"
    )
    out.table(
        None,
        ["computation", "accuracy %", "inflation (pp)", "matches", "what", "note"],
        [
            [
                c.name,
                f"{100 * c.value:.2f}",
                f"{100 * c.inflation:+.2f}",
                "yes" if c.matches else "",
                c.description,
                c.note,
            ]
            for c in result.computations
        ],
    )
    for name, why in result.unavailable.items():
        out.note(f"not computed: {name}: {why}")
    if result.matches:
        out.print(f"reproduced (within {100 * result.tolerance:.2f} pp) by: {', '.join(result.matches)}")
    else:
        c = result.closest
        out.print(
            f"no computation reproduces it; closest: {c.name} at {100 * c.value:.2f}% "
            f"({100 * (c.value - result.reported):+.2f} pp)"
        )


@audit_app.command("duplicates")
def duplicates(
    data: str = typer.Option(None, "--data", help="A registered dataset, with its root after a colon: cifar10:/data."),
    spec_file: Path = typer.Option(None, "--spec", help="Read the dataset from this spec's data section."),
    overrides: list[str] = typer.Option(None, "--set", help="A dataset argument: --set size=16 (repeatable)."),
    splits: str = typer.Option(None, "--splits", help="Reference split first, then the audited ones: train,val."),
    embed: str = typer.Option(None, "--embed", help="A trial id: also find semantic duplicates in its features."),
    embed_model: str = typer.Option(None, "--embed-model", help="A registered model to take features from instead."),
    embed_weights: Path = typer.Option(None, "--embed-weights", help="State_dict file for --embed-model."),
    phash_distance: int = typer.Option(DEFAULT_PHASH_DISTANCE, "--phash-distance", help="Most pHash bits apart."),
    min_cosine: float = typer.Option(DEFAULT_MIN_COSINE, "--min-cosine", help="Least feature cosine similarity."),
    out_file: Path = typer.Option(Path("duplicates.json"), "--out", help="Where the audit (JSON) is written."),
    montage_file: Path = typer.Option(None, "--montage", help="PNG of the closest pairs (default: next to --out)."),
    device: str = typer.Option("cpu", "--device", help="Device for the feature model: cpu, cuda or auto."),
    store: Path = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Find train/test duplicates: exact copies, pHash near-duplicates and (with --embed) semantic neighbours."""
    from scrutiny.audit.duplicates import Thresholds, audit_duplicates
    from scrutiny.audit.images import sources_from_splits
    from scrutiny.audit.montage import montage

    out = Output(as_json)
    thresholds = Thresholds(phash=phash_distance, cosine=min_cosine)
    trial_store = Store(store)
    name, root, args = _audit_data(data, spec_file, overrides or [], embed, trial_store)
    available: dict[str, object]  # split name -> a map-style dataset, or the CIFAR pickles' arrays
    bundle: DataBundle | None
    if name in ("cifar10", "cifar100") and not (embed or embed_model):
        from scrutiny.data.cifar_files import read_cifar

        available, bundle = dict(read_cifar(root, name)), None  # the pickles as they are: no checksum, no normalising
    else:
        bundle = build_dataset(name, root, args)
        available = dict(bundle.splits)
    reference, audited = pick_splits(available, [s.strip() for s in splits.split(",")] if splits else None)
    chosen = {s: available[s] for s in [reference, *audited]}
    sources = sources_from_splits(chosen)
    skipped: list[str] = []
    features, embedding = None, None
    if bundle is not None and (embed or embed_model):
        from scrutiny.audit.embed import embedder_from_registry, embedder_from_trial, penultimate_features
        from scrutiny.device import resolve_device
        from scrutiny.models import model_context

        context = model_context(bundle)
        if embed:
            embedder = embedder_from_trial(trial_store, embed, context)
        else:
            embedder = embedder_from_registry(embed_model, context, str(embed_weights) if embed_weights else None)
        dev = resolve_device(device)
        features = {s: penultimate_features(embedder, bundle.split(s), device=dev) for s in chosen}
        embedding = embedder.source
    audit = audit_duplicates(
        sources,
        reference,
        thresholds=thresholds,
        features=features,
        embedding=embedding,
        dataset={"name": name, "root": root, "args": args},
        warn=skipped.append,
    )
    for line in skipped[:20]:  # on stderr in JSON mode too, one unwrapped line each
        typer.echo(f"warning: {line}", err=True)
    if len(skipped) > 20:
        typer.echo(f"warning: {len(skipped) - 20} more unreadable images (listed in {out_file})", err=True)
    audit.save(out_file)
    png = montage(audit, sources, montage_file or out_file.with_suffix(".png"))
    if as_json:
        out.json({**audit.to_dict(), "file": str(out_file), "montage": str(png)})
        return
    counts = audit.counts()
    out.table(
        f"{name}: duplicates of '{reference}' images (pHash <= {thresholds.phash} bits"
        + (f", cosine >= {thresholds.cosine} in {embedding}'s features" if embedding else "")
        + ")",
        [
            "split",
            "images",
            "with a duplicate",
            *audit.detectors,
            f"pairs within {', '.join(audit.audited)}",
            "skipped",
        ],
        [
            [s, c["n"], c["with_duplicate"], *(c[d] for d in audit.detectors), c["within_pairs"], c["skipped"]]
            for s, c in counts.items()
        ],
    )
    out.print(f"audit written to {out_file}; closest pairs in {png} (judge them there before trusting a threshold)")


def _audit_data(
    data: str | None, spec_file: Path | None, overrides: list[str], embed: str | None, store: Store
) -> tuple[str, str | None, dict]:
    """(dataset name, root, arguments) from --data, --spec, or the --embed trial's spec."""
    from scrutiny.errors import ScrutinyError

    if data and spec_file:
        raise ScrutinyError("--data and --spec: give one of them")
    if spec_file is not None:
        from scrutiny.spec import load_spec

        return spec_data(load_spec(spec_file, overrides))
    if data:
        name, root = parse_data(data)
        args = data_overrides(overrides)
        return name, args.pop("root", root), args
    if embed:
        section = dict(store.spec(store.resolve_id(embed))["spec"]["data"])
        from scrutiny.spec.schema import DataSection

        args = {k: v for k, v in section.items() if k not in DataSection.model_fields}
        return section["name"], section.get("root"), {**args, **data_overrides(overrides)}
    raise ScrutinyError("--data: name a dataset (e.g. --data digits), or give --spec or --embed")
