"""``scrutiny check CLAIM`` and ``scrutiny case NAME``: run a claim's arms, test its hypotheses, write the report."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import typer

from scrutiny.cli import app
from scrutiny.cli._common import (
    AddressOpt,
    CpusOpt,
    ExecutorOpt,
    GpusOpt,
    JsonOpt,
    SetOpt,
    ShowSpecOpt,
    SlurmCpusOpt,
    SlurmGpusOpt,
    SlurmParallelOpt,
    SlurmPartitionOpt,
    SlurmTimeOpt,
    StoreOpt,
    executor_from_flags,
    flag_errors,
    reject_extra_args,
    spec_yaml,
)
from scrutiny.cli._output import Output, fmt
from scrutiny.cli._progress import progress_reporter
from scrutiny.store import Store

# The options of ``check`` and ``case``, defined once (typer needs them in both signatures).
ScaleOpt = typer.Option(None, "--scale", help="smoke, cpu or paper (default: the claim's default_scale).")
OutOpt = typer.Option(
    None, "--out", help="Report folder (default: scrutiny-reports/<claim folder>[-<file stem>]-<scale>)."
)
ForceOpt = typer.Option(False, "--force", help="Write the report into --out even if it holds another claim's report.")
SeedsOpt = typer.Option(None, "--seeds", help="Override the scale's seeds: '0-4' or '0,3,7'.")
WorkersOpt = typer.Option(1, "--workers", min=1, help="Worker processes.")
ThreadsOpt = typer.Option(None, "--threads", min=1, help="CPU threads per trial.")
RetryOpt = typer.Option(False, "--retry-failed", help="Run failed trials again.")
DryRunOpt = typer.Option(
    False, "--dry-run", help="List the trials, their estimated time and the arms' model checks; run nothing."
)
DataRootOpt = typer.Option(
    None, "--data-root", help="Set data.root of every arm (e.g. an ImageNet folder with train/ and val/)."
)
WeightsOpt = typer.Option(
    None, "--weights", help="ARM=FILE: a local state_dict loaded into that arm's model (repeatable)."
)
ScoresOpt = typer.Option(
    None, "--scores", help="CSV or JSON of per-seed scores (arm, seed, one column per metric): decide, train nothing."
)
DecisiveOpt = typer.Option(
    False, "--until-decisive", help="Add seeds in rounds until every hypothesis is decided (needs --max-seeds)."
)
MaxSeedsOpt = typer.Option(None, "--max-seeds", min=2, help="With --until-decisive: the most seeds per arm.")
RoundOpt = typer.Option(2, "--round", min=1, help="With --until-decisive: seeds added per undecided arm per round.")
DedupOpt = typer.Option(
    None, "--exclude-duplicates", help="A duplicates audit (scrutiny audit duplicates): decide again without them."
)


# library parameter -> the flag that sets it (beyond the executor's and --store, in _common.FLAGS)
FLAGS = {
    "scale": "--scale",
    "seeds": "--seeds",
    "overrides": "--set",
    "data_root": "--data-root",
    "weights": "--weights",
    "scores": "--scores",
    "max_seeds": "--max-seeds",
    "round_size": "--round",
    "exclude_duplicates": "--exclude-duplicates",
    "out": "--out",
    "force": "--force",
}


def _check(
    claim_file: Path,
    scale: str | None,
    out_dir: Path | None,
    seeds: str | None,
    overrides: list[str],
    workers: int,
    threads: int | None,
    retry_failed: bool,
    dry_run: bool,
    store: Path,
    as_json: bool,
    data_root: Path | None = None,
    weights: list[str] | None = None,
    scores: Path | None = None,
    until_decisive: bool = False,
    max_seeds: int | None = None,
    round_size: int = 2,
    exclude_duplicates: Path | None = None,
    executor: str = "local",
    address: str | None = None,
    cpus_per_trial: float | None = None,
    gpus_per_trial: float | None = None,
    slurm_partition: str | None = None,
    slurm_time: int | None = None,
    slurm_gpus_per_task: int | None = None,
    slurm_cpus_per_task: int | None = None,
    slurm_array_parallelism: int | None = None,
    force: bool = False,
    show_spec: bool = False,
) -> None:
    from scrutiny.errors import ScrutinyError
    from scrutiny.workflows.check import check_claim, check_inputs, plan_claim

    out = Output(as_json)
    if until_decisive != (max_seeds is not None):
        raise ScrutinyError("--until-decisive and --max-seeds go together")
    if scores is not None:
        if until_decisive or dry_run or exclude_duplicates:
            raise ScrutinyError(
                "--scores decides on the file's scores: it takes no --until-decisive, --dry-run or --exclude-duplicates"
            )
        with flag_errors(FLAGS):
            _finish(out, check_claim(claim_file, scale=scale, scores=scores), out_dir, as_json, force)
        return
    trial_store = Store(store)
    with flag_errors(FLAGS):
        p = plan_claim(
            claim_file, scale, trial_store, overrides=overrides, seeds=seeds, data_root=data_root, weights=weights or []
        )
        check_inputs(p)
    if not dry_run:  # a report folder that would be refused: one line before any trial runs
        from scrutiny.report.render import check_report_folder

        with flag_errors(FLAGS):
            check_report_folder(out_dir or default_report_folder(claim_file, p.scale), claim_file, p.scale, force)
    to_run = p.to_run(retry_failed)
    if show_spec:
        _show_specs(out, p)
    if dry_run:
        with flag_errors(FLAGS):
            checks = p.check_models()  # a model that cannot be built: one line, before anything is timed
        estimates = p.estimates(trial_store, retry_failed, workers=workers, threads=threads)
        _dry_run(out, p, claim_file, retry_failed, checks, estimates, as_json, show_spec)
        return
    out.note(
        f"{p.claim.title}: scale {p.scale}, {len(p.specs)} arms × {len(p.seeds)} seeds; "
        f"running {len(to_run)} of {len(p.trials)} trials (store: {store})"
    )
    runs = bool(to_run) or until_decisive  # the progress display and the executor only where trials may run
    with progress_reporter(out) if runs else nullcontext(None) as reporter, flag_errors(FLAGS):
        result = check_claim(
            p,
            trial_store,
            workers=workers,
            threads=threads,
            retry_failed=retry_failed,
            reporter=reporter,
            max_seeds=max_seeds,
            round_size=round_size,
            exclude_duplicates=exclude_duplicates,
            executor=executor_from_flags(
                executor,
                address,
                cpus_per_trial,
                gpus_per_trial,
                slurm_partition,
                slurm_time,
                slurm_gpus_per_task,
                slurm_cpus_per_task,
                slurm_array_parallelism,
            )
            if runs
            else None,
        )
    for m in (result.without_duplicates or {}).get("missing_outputs", []):
        out.note(f"warning: {m['message']}")
    if result.sweep.get("interrupted"):
        out.note(
            "interrupted: no report written (an earlier report is left as it was); finished trials are kept, "
            "run the same command again to complete the claim"
        )
        if as_json:
            out.json({"interrupted": True, "sweep": result.sweep})
        raise typer.Exit(130)
    _finish(out, result, out_dir, as_json, force)


def _show_specs(out: Output, p) -> None:
    """Each arm's resolved spec as YAML, every default written out (human mode; --json puts them in the payload)."""
    from scrutiny.spec import spec_hash

    for name, spec in p.specs.items():
        out.print(f"# arm {name}: {p.sources()[name]} at scale {p.scale} ({spec_hash(spec)})", markup=False)
        out.print(spec_yaml(spec) + "\n", markup=False)


def _dry_run(
    out: Output, p, claim_file: Path, retry_failed: bool, checks: dict, estimates: dict, as_json: bool, show_spec: bool
) -> None:
    """The trials of each arm, those still to run, their estimated time and what it rests on, and each arm's model
    checked on the meta device (a table, or JSON)."""
    from scrutiny.workflows.estimate import format_seconds

    to_run = p.to_run(retry_failed)
    rows = []
    for name, spec in p.specs.items():
        mine = [t for t in p.trials if t.spec == spec]
        guess = estimates[name]
        rows.append(
            [
                name,
                p.claim.arms[name].label or spec.label,
                len(mine),
                sum(t.needs_run(retry_failed) for t in mine),
                format_seconds(guess.seconds) if guess.to_run else "—",
                guess.basis,
            ]
        )
    out.table(
        f"{p.claim.title} — scale {p.scale}, seeds {p.seeds}: {len(to_run)} of {len(p.trials)} trials to run",
        ["arm", "label", "trials", "to run", "estimated time", "estimated from"],
        rows,
    )
    known = [e.seconds for e in estimates.values() if e.to_run]
    if known and all(s is not None for s in known):
        out.print(f"estimated time in all: {format_seconds(sum(s or 0.0 for s in known))} on one worker", markup=False)
    for note in sorted({f"{c.note}" for c in checks.values()}):
        arms = [name for name, c in checks.items() if c.note == note]
        out.print(f"models of {', '.join(arms)}: {note}", markup=False)
    if as_json:
        out.json(
            {
                "claim": str(claim_file),
                "scale": p.scale,
                "seeds": p.seeds,
                "dry_run": True,
                "trials": [
                    {
                        "arm": p.arm_of(t.spec),
                        "trial_id": t.trial_id,
                        "seed": t.seed,
                        "status": t.status,
                        "run": t.needs_run(retry_failed),
                    }
                    for t in p.trials
                ],
                "estimated_seconds": {name: e.seconds for name, e in estimates.items()},
                "estimates": {name: e.to_dict() for name, e in estimates.items()},
                "model_checks": {
                    name: {"checked": c.checked, "n_params": c.n_params, "note": c.note} for name, c in checks.items()
                },
                **({"specs": {name: spec.to_dict() for name, spec in p.specs.items()}} if show_spec else {}),
            }
        )


def default_report_folder(claim_file: Path, scale: str) -> Path:
    """``scrutiny-reports/<claim's folder>-<scale>``, or ``<folder>-<file stem>-<scale>`` for a claim file not
    named ``claim.yaml``, so two claims of one folder do not share a report folder."""
    claim_file = Path(claim_file)
    name = claim_file.parent.resolve().name
    if claim_file.stem != "claim":
        name = f"{name}-{claim_file.stem}"
    return Path("scrutiny-reports") / f"{name}-{scale}"


def _finish(out: Output, result, out_dir: Path | None, as_json: bool, force: bool = False) -> None:
    """Write the report and print the verdicts (a table, or the whole result with --json)."""
    from scrutiny.report.render import write_report

    target = out_dir or default_report_folder(result.path, result.scale)
    with flag_errors(FLAGS):
        paths = write_report(result, target, force=force)
    if as_json:
        out.json({**result.to_dict(), "report": {k: str(v) for k, v in paths.items()}})
        return
    rules = result.rules()
    rows = [
        [
            v.hypothesis + (" (exploratory)" if v.exploratory else ""),
            v.verdict,
            fmt(v.estimate),
            f"{fmt(v.low)} … {fmt(v.high)}",
            f"{fmt(v.p_value)} / {fmt(v.p_adjusted)}",
            v.n_a if v.n_b is None else f"{v.n_a} / {v.n_b}",
            fmt(v.seeds_needed),
            v.reason + "".join(f" WARNING: {w}" for w in v.warnings),
        ]
        for v in result.verdicts
    ]
    out.table(
        f"{result.claim.title} ({result.scale}): {rules['family_size']} confirmatory hypotheses, "
        f"family-wise α = {rules['alpha']:g} ({rules['multiplicity']})",
        [
            "hypothesis",
            "verdict",
            "estimate",
            "95% interval",
            "p / adjusted",
            "n",
            "seeds needed (80% power)",
            "because",
        ],
        rows,
    )
    dedup = result.without_duplicates
    if dedup:
        changed = dedup["changed"]
        out.print(
            f"without duplicates: {len(changed)} verdict(s) change" + (": " + "; ".join(changed) if changed else "")
        )
    if len(result.code_versions) > 1:
        out.print(f"WARNING: {result.code_note()}")
    out.print(f"report: {paths['report.html']}")


@app.command(context_settings={"allow_extra_args": True})
def check(
    ctx: typer.Context,
    claim_file: Path = typer.Argument(..., help="Claim YAML file."),
    scale: str = ScaleOpt,
    out_dir: Path = OutOpt,
    seeds: str = SeedsOpt,
    overrides: list[str] = SetOpt,
    workers: int = WorkersOpt,
    threads: int = ThreadsOpt,
    retry_failed: bool = RetryOpt,
    dry_run: bool = DryRunOpt,
    show_spec: bool = ShowSpecOpt,
    store: Path = StoreOpt,
    as_json: bool = JsonOpt,
    data_root: Path = DataRootOpt,
    weights: list[str] = WeightsOpt,
    scores: Path = ScoresOpt,
    until_decisive: bool = DecisiveOpt,
    max_seeds: int = MaxSeedsOpt,
    round_size: int = RoundOpt,
    exclude_duplicates: Path = DedupOpt,
    executor: str = ExecutorOpt,
    address: str = AddressOpt,
    cpus_per_trial: float = CpusOpt,
    gpus_per_trial: float = GpusOpt,
    slurm_partition: str = SlurmPartitionOpt,
    slurm_time: int = SlurmTimeOpt,
    slurm_gpus_per_task: int = SlurmGpusOpt,
    slurm_cpus_per_task: int = SlurmCpusOpt,
    slurm_array_parallelism: int = SlurmParallelOpt,
    force: bool = ForceOpt,
) -> None:
    """Run what the store lacks for a claim, decide each hypothesis, write report.md/.html, results.json, PNGs."""
    args = {**locals(), "overrides": overrides or []}
    reject_extra_args(args.pop("ctx"), [str(claim_file)])
    _check(**args)


@app.command(context_settings={"allow_extra_args": True})
def case(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A built-in case (see 'scrutiny list cases')."),
    scale: str = ScaleOpt,
    out_dir: Path = OutOpt,
    seeds: str = SeedsOpt,
    overrides: list[str] = SetOpt,
    workers: int = WorkersOpt,
    threads: int = ThreadsOpt,
    retry_failed: bool = RetryOpt,
    dry_run: bool = DryRunOpt,
    show_spec: bool = ShowSpecOpt,
    store: Path = StoreOpt,
    as_json: bool = JsonOpt,
    data_root: Path = DataRootOpt,
    weights: list[str] = WeightsOpt,
    until_decisive: bool = DecisiveOpt,
    max_seeds: int = MaxSeedsOpt,
    round_size: int = RoundOpt,
    executor: str = ExecutorOpt,
    address: str = AddressOpt,
    cpus_per_trial: float = CpusOpt,
    gpus_per_trial: float = GpusOpt,
    slurm_partition: str = SlurmPartitionOpt,
    slurm_time: int = SlurmTimeOpt,
    slurm_gpus_per_task: int = SlurmGpusOpt,
    slurm_cpus_per_task: int = SlurmCpusOpt,
    slurm_array_parallelism: int = SlurmParallelOpt,
    force: bool = ForceOpt,
) -> None:
    """Run a built-in case study: 'scrutiny check' on its packaged claim."""
    args = {**locals(), "overrides": overrides or []}  # first: the parameters only
    reject_extra_args(args.pop("ctx"), [name])
    from scrutiny.cases import case_claim

    _check(claim_file=case_claim(args.pop("name")), **args)
