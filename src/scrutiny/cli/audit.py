"""``scrutiny audit accuracy``: which computation reproduces a reported accuracy, and how much each one inflates it."""

from __future__ import annotations

from pathlib import Path

import typer

from scrutiny.audit import audit_reported_accuracy, counts_from_file, counts_from_trial
from scrutiny.cli import app
from scrutiny.cli._common import JsonOpt, StoreOpt
from scrutiny.cli._output import Output
from scrutiny.store import Store

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
