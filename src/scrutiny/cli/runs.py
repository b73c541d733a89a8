"""``scrutiny runs`` (trials grouped by spec, or by the arms of a claim) and ``scrutiny show TRIAL`` (one trial)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml

from scrutiny.analysis import summarise
from scrutiny.cli import app
from scrutiny.cli._common import JsonOpt, StoreOpt
from scrutiny.cli._output import Output, fmt
from scrutiny.errors import ScrutinyError
from scrutiny.store import Store
from scrutiny.store.arms import ClaimArms, arm_names, read_arms, trials_of

_METRIC_COLUMNS = ("epoch", "lr", "train_loss_epoch_avg", "train_acc_epoch_avg")


@app.command()
def runs(
    claim: Path = typer.Option(
        None, "--claim", help="A claim checked on this store: its trials grouped by arm, with their status."
    ),
    scale: str = typer.Option(None, "--scale", help="With --claim: this scale only (default: every scale checked)."),
    store: Path = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Trials grouped by spec: n, status counts, mean ± sd (over seeds) of each final metric; or by a claim's arms."""
    if claim is not None:
        _claim_runs(claim, scale, store, as_json)
        return
    if scale is not None:
        raise ScrutinyError("--scale goes with --claim (the scale of the claim's arms to list)")
    out = Output(as_json)
    groups = summarise(Store(store))
    arms = {h: [f"{_shown(file)}:{arm}" for file, arm in pairs] for h, pairs in arm_names(store).items()}
    if as_json:
        out.json({"store": str(store), "specs": [{**g.to_dict(), "arms": arms.get(g.spec_hash, [])} for g in groups]})
        return
    if not groups:
        out.note(f"no trials in {store}/ (run one with 'scrutiny run SPEC --store {store}')")
        return
    metrics = sorted({m for g in groups for m in g.metrics if not m.endswith("_n")})
    rows = []
    for g in groups:
        cells: list[str | None] = []
        for m in metrics:
            if m not in g.metrics:
                cells.append(None)
                continue
            mean, std = g.mean_std(m)
            cells.append(f"{mean:.4f} ± {std:.4f}" if std is not None else f"{mean:.4f}")
        status = ", ".join(f"{n} {s}" for s, n in sorted(g.status.items()))
        named = [", ".join(arms.get(g.spec_hash, []))] if arms else []
        rows.append([g.spec_hash, g.label or f"{g.model} on {g.data}", *named, g.n, status, *cells])
    out.table(
        f"{store}/: {sum(g.n for g in groups)} trials, {len(groups)} specs (mean ± sd over complete trials)",
        ["spec", "label", *(["arms (claim:arm)"] if arms else []), "n", "status", *metrics],
        rows,
    )


def _shown(claim_file: str) -> str:
    """A claim file as ``compare --a FILE:ARM`` takes it from here: relative to this folder where it lies under it."""
    path = Path(claim_file)
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else claim_file


def _claim_runs(claim: Path, scale: str | None, store: Path, as_json: bool) -> None:
    """The trials of each arm of ``claim`` as its checks recorded them in ``store``: one table per scale."""
    out = Output(as_json)
    records = read_arms(store, claim, scale)
    if not records:
        checked = [r.scale for r in read_arms(store, claim)]
        if scale is not None and checked:
            raise ScrutinyError(
                f"--scale: {claim} was not checked at scale {scale} in {store}/ (checked: {', '.join(checked)})"
            )
        raise ScrutinyError(
            f"{claim}: no check of this claim is recorded in {store}/ (run 'scrutiny check {claim} --store {store}')"
        )
    listed = [_listing(Store(store), r) for r in records]
    if as_json:
        out.json({"store": str(store), "claim": str(claim), "scales": listed})
        return
    for r, data in zip(records, listed, strict=True):
        rows = [
            [a["arm"], a["label"], t["trial_id"], t["seed"], t["status"], t["value"]]
            for a in data["arms"]
            for t in a["trials"]
        ]
        status = {t["trial_id"]: t["status"] for a in data["arms"] for t in a["trials"]}  # a trial may serve 2 arms
        counts = {s: list(status.values()).count(s) for s in sorted(set(status.values()))}
        summary = f"{len(r.arms)} arms, {len(status)} trials, " + ", ".join(f"{n} {s}" for s, n in counts.items())
        out.table(
            f"{r.title} — scale {r.scale} (checked {r.checked_at}): {summary}",
            ["arm", "label", "trial", "seed", "status", r.metric],
            rows,
        )


def _listing(store: Store, record: ClaimArms) -> dict[str, Any]:
    """The record with each arm's trials in the store: id, seed, status and the claim's metric where complete."""
    arms = []
    for arm in record.arms.values():
        trials = []
        for tid, seed, status in trials_of(store, arm):
            value = store.result(tid).get(record.metric) if status == "complete" else None
            trials.append({"trial_id": tid, "seed": seed, "status": status, "value": value})
        arms.append({"arm": arm.name, "label": arm.label, "spec_hash": arm.spec_hash, "trials": trials})
    return {
        "scale": record.scale,
        "title": record.title,
        "claim_file": record.claim_file,
        "metric": record.metric,
        "checked_at": record.checked_at,
        "arms": arms,
    }


@app.command()
def show(
    trial: str = typer.Argument(..., help="Trial id or a unique prefix of one."),
    store: Path = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """One trial: resolved spec, provenance, per-epoch metrics and the final record."""
    out = Output(as_json)
    s = Store(store)
    tid = s.resolve_id(trial)
    spec_record = s.spec(tid)
    status = s.status(tid)
    start = s.trial(tid) if (s.trial_dir(tid) / "trial.json").exists() else {}
    result = s.result(tid) if status not in ("incomplete", "missing") else {}
    metrics = s.metrics(tid)
    if as_json:
        out.json(
            {
                "trial_id": tid,
                "status": status,
                "spec": spec_record,
                "trial": start,
                "result": result,
                "metrics": metrics,
            }
        )
        return
    out.print(
        f"[bold]{tid}[/]  status: {status}  seed: {spec_record.get('seed')}  "
        f"spec: {spec_record.get('spec_hash')}  folder: {s.trial_dir(tid)}"
    )
    out.print("[bold]spec[/] (resolved)")
    out.print(yaml.safe_dump(spec_record.get("spec", {}), sort_keys=False).rstrip())
    env = start.get("environment", {})
    git = env.get("git", {})
    flags = start.get("backend_flags", {})
    provenance: list[list[object]] = [
        ["command", " ".join(env.get("command", []))],
        [
            "git",
            f"{git.get('commit')} ({'dirty' if git.get('dirty') else 'clean'})" if git.get("repo") else "not a repo",
        ],
        [
            "python / torch",
            f"{env.get('python')} / {env.get('torch')} (CUDA {env.get('cuda')}, cuDNN {env.get('cudnn')})",
        ],
        ["device", f"{env.get('device')}: {env.get('device_name')} on {env.get('host')}"],
        ["seeds", ", ".join(f"{k}={v}" for k, v in start.get("seeds", {}).items())],
        ["backend flags", ", ".join(f"{k}={fmt(v)}" for k, v in flags.items())],
        ["precision", start.get("precision")],
        [
            "times",
            f"{result.get('started_at')} → {result.get('ended_at')}, wall {fmt(result.get('wall_time_s'))} s, "
            f"device {fmt(result.get('device_time_s'))} s",
        ],
    ]
    out.table("provenance", ["what", "value"], provenance)
    if metrics:
        columns = list(_METRIC_COLUMNS) + [k for k in metrics[-1] if k not in _METRIC_COLUMNS]
        out.table("per-epoch metrics (raw)", columns, [[row.get(c) for c in columns] for row in metrics])
    if result:
        shown = {k: v for k, v in result.items() if k not in ("traceback", "trial_id", "schema_version")}
        out.table("final record", ["field", "value"], [[k, v] for k, v in shown.items()])
        if result.get("selected_on_test"):
            out.print(
                "[yellow]note:[/] best_* was selected on the test split (test-set selection); "
                "report final_* or select on a validation split."
            )
        if result.get("traceback"):
            out.print(result["traceback"])
