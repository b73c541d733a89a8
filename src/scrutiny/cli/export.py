"""``scrutiny export mlflow``: the store's trials (or a claim's verdicts, aggregates and trials) into MLflow."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from scrutiny.cli import app
from scrutiny.cli._common import JsonOpt, StoreOpt
from scrutiny.cli._output import Output
from scrutiny.errors import ScrutinyError
from scrutiny.store import Store

export_app = typer.Typer(help="Export trials and verdicts to an experiment tracker.", no_args_is_help=True)
app.add_typer(export_app, name="export")

# parameter of the library -> flag of this command, for one-line errors that name what the user typed
_FLAGS = {
    "tracking_uri": "--tracking-uri",
    "report_dir": "--report",
    "experiment": "--experiment",
    "scale": "--scale",
}


@export_app.command("mlflow")
def mlflow(
    tracking_uri: str = typer.Option(
        None,
        "--tracking-uri",
        help="MLflow tracking URI (default: sqlite:///<store>/mlflow.db).",
        envvar="MLFLOW_TRACKING_URI",
    ),
    experiment: str = typer.Option("scrutiny", "--experiment", help="MLflow experiment (created when absent)."),
    claim: Path = typer.Option(None, "--claim", help="A claim YAML: also export its verdicts and arm aggregates."),
    scale: str = typer.Option(None, "--scale", help="The claim's scale (default: its default_scale)."),
    report: Path = typer.Option(None, "--report", help="A report folder of the claim, logged as its artifacts."),
    timeout: float = typer.Option(5.0, "--timeout", min=0.1, help="Seconds to wait for a tracking server."),
    store: Path = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """One MLflow run per finished trial (params, tags, curves, artifacts); run again to add only what is new."""
    from scrutiny.export import export_claim, export_store
    from scrutiny.export._tracker import import_mlflow

    out = Output(as_json)
    if (scale or report) and claim is None:
        raise ScrutinyError(f"{'--scale' if scale else '--report'} needs --claim")
    trial_store = Store(store)
    if not trial_store.root.is_dir():
        raise ScrutinyError(f"--store {store}: no such folder")
    import_mlflow()  # first: a one-line error when it is missing; and it sets its loggers' levels on import
    for name in ("mlflow", "alembic"):  # MLflow's database set-up talks at INFO on stderr
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        if claim is None:
            summary = export_store(trial_store, tracking_uri, experiment, timeout_s=timeout)
        else:
            summary = export_claim(
                claim, trial_store, tracking_uri, experiment, scale=scale, report_dir=report, timeout_s=timeout
            )
    except ScrutinyError as exc:
        raise ScrutinyError(_with_flags(str(exc))) from None
    if as_json:
        out.json({"store": str(store), **summary.to_dict(), "ui": _ui(summary.tracking_uri)})
        return
    t = summary.to_dict()["trials"]
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(summary.statuses.items())) or "none"
    out.print(
        f"{summary.tracking_uri} · experiment '{summary.experiment}' (id {summary.experiment_id}): "
        f"{t['created']} run(s) created, {t['replaced']} replaced, {t['unchanged']} unchanged ({statuses})"
    )
    for reason, ids in summary.skipped.items():
        out.print(f"skipped {len(ids)} {reason} trial(s): {', '.join(ids[:5])}{' …' if len(ids) > 5 else ''}")
    if summary.claim is not None:
        arms = summary.claim["arms"]
        written = sum(a["written"] for a in arms.values()) + int(summary.claim["written"])
        out.print(f"claim run {summary.claim['run_id']} with {len(arms)} arm run(s); {written} written now")
    out.print(f"browse: {_ui(summary.tracking_uri)}")


def _ui(uri: str) -> str:
    if uri.startswith(("http://", "https://")):
        return uri
    from scrutiny.export.mlflow import ui_command

    return ui_command(uri)


def _with_flags(message: str) -> str:
    """A library message that starts with a parameter name, starting with its flag instead."""
    for param, flag in _FLAGS.items():
        if message.startswith(f"{param}:") or message.startswith(f"{param} "):
            return flag + message[len(param) :]
    return message
