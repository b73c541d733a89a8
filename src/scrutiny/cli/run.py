"""``scrutiny run SPEC``: run a spec across seeds, resumably."""

from __future__ import annotations

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
from scrutiny.cli._output import Output
from scrutiny.errors import ScrutinyError


@app.command(context_settings={"allow_extra_args": True})
def run(
    ctx: typer.Context,
    spec_file: Path = typer.Argument(..., help="Spec YAML file."),
    seeds: str = typer.Option("0", "--seeds", help="Seeds: '0-4', '0,3,7' or '0-2,9'."),
    overrides: list[str] = SetOpt,
    workers: int = typer.Option(
        1, "--workers", min=1, help="Worker processes (CPU threads are split between them; one GPU each, round-robin)."
    ),
    threads: int = typer.Option(None, "--threads", min=1, help="CPU threads per trial (default: cores / workers)."),
    fail_fast: bool = typer.Option(False, "--fail-fast", help="Stop at the first failed trial."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Run failed trials again."),
    max_retries: int = typer.Option(
        1, "--max-retries", min=0, help="Runs again, in this sweep, a trial whose worker process died (OOM, signal)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show the trials, the estimated time and the model check; run nothing."
    ),
    show_spec: bool = ShowSpecOpt,
    store: Path = StoreOpt,
    as_json: bool = JsonOpt,
    executor: str = ExecutorOpt,
    address: str = AddressOpt,
    cpus_per_trial: float = CpusOpt,
    gpus_per_trial: float = GpusOpt,
    slurm_partition: str = SlurmPartitionOpt,
    slurm_time: int = SlurmTimeOpt,
    slurm_gpus_per_task: int = SlurmGpusOpt,
    slurm_cpus_per_task: int = SlurmCpusOpt,
    slurm_array_parallelism: int = SlurmParallelOpt,
) -> None:
    """Run SPEC_FILE for each seed; trials already in the store are not run again."""
    reject_extra_args(ctx, [str(spec_file)])
    from scrutiny.cli._progress import progress_reporter
    from scrutiny.execute import plan, run_sweep
    from scrutiny.spec import load_spec, spec_hash
    from scrutiny.store import Store
    from scrutiny.trials.seeding import parse_seeds
    from scrutiny.workflows.estimate import estimate_trials, format_seconds
    from scrutiny.workflows.preflight import preflight

    where = executor_from_flags(
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
    out = Output(as_json)
    if workers > 1 and where.kind == "local" and not dry_run:
        from scrutiny.execute import start_fork_server

        start_fork_server()  # its imports (torch, the trial code) overlap loading the spec, which imports torch too
    spec = load_spec(spec_file, overrides or [])
    try:
        seed_list = parse_seeds(seeds)
    except ScrutinyError as exc:
        raise ScrutinyError(f"--{exc}") from None  # the library names its parameter 'seeds'; here it is --seeds
    trial_store = Store(store)
    planned = plan([(spec, s) for s in seed_list], trial_store)
    to_run = [t for t in planned if t.needs_run(retry_failed)]
    header = {
        "spec": str(spec_file),
        "spec_hash": spec_hash(spec),
        "label": spec.label,
        "store": str(store),
        "seeds": seed_list,
        "executor": where.kind,
    }
    if show_spec:
        out.print(f"# {spec_file}: the resolved spec ({spec_hash(spec)}), every default written out", markup=False)
        out.print(spec_yaml(spec), markup=False)
    if dry_run:
        check = preflight({str(spec_file): spec}, {str(spec_file): str(spec_file)})[str(spec_file)]
        estimate = estimate_trials(
            {str(spec_file): spec}, planned, trial_store, retry_failed=retry_failed, workers=workers, threads=threads
        )
        (guess,) = estimate.values()
        rows = [[t.trial_id, t.seed, t.status, "run" if t.needs_run(retry_failed) else "skip"] for t in planned]
        out.table(
            f"{spec_file} ({spec_hash(spec)}): {len(to_run)} of {len(planned)} trials to run",
            ["trial", "seed", "in store", "action"],
            rows,
        )
        out.print(f"estimated time: {format_seconds(guess.seconds)} ({guess.basis})", markup=False)
        out.print(f"model {spec.model.name}: {check.note}", markup=False)
        if as_json:
            out.json(
                {
                    **header,
                    "dry_run": True,
                    "trials": [
                        {"trial_id": t.trial_id, "seed": t.seed, "status": t.status, "run": t.needs_run(retry_failed)}
                        for t in planned
                    ],
                    "estimate": guess.to_dict(),
                    "model_check": {"checked": check.checked, "n_params": check.n_params, "note": check.note},
                    **({"spec": spec.to_dict()} if show_spec else {}),
                }
            )
        return
    if not to_run:
        out.note(f"nothing to run: all {len(planned)} trials of {spec_file} ({spec_hash(spec)}) are in {store}")
        if as_json:
            out.json({**header, "ran": [], "skipped": [t.trial_id for t in planned]})
        return
    preflight({str(spec_file): spec}, {str(spec_file): str(spec_file)})  # a model that cannot be built: one line
    out.note(
        f"{spec_file} ({spec_hash(spec)}): running {len(to_run)} of {len(planned)} trials "
        f"({len(planned) - len(to_run)} already in {store}), "
        + (f"{workers} worker(s)" if where.kind == "local" else f"on {where.kind}")
    )
    with progress_reporter(out) as reporter, flag_errors():
        result = run_sweep(
            spec,
            seed_list,
            trial_store,
            workers=workers,
            fail_fast=fail_fast,
            retry_failed=retry_failed,
            threads=threads,
            reporter=reporter,
            max_retries=max_retries,
            executor=where,
        )
    counts = result.counts()
    if result.interrupted:
        # count from the store: a worker may have finished a trial that the sweep had not heard of yet
        kept = sum(trial_store.status(t.trial_id) not in ("missing", "incomplete") for t in to_run)
        out.note(
            f"interrupted: {kept} finished trial(s) kept in {store}/; {len(to_run) - kept} unfinished will "
            "run again next time"
        )
        if as_json:
            out.json({**header, "interrupted": True, "ran": list(result.ran.values()), "counts": counts})
        raise typer.Exit(130)
    if as_json:
        out.json(
            {
                **header,
                "ran": list(result.ran.values()),
                "skipped": result.skipped,
                "busy": result.busy,
                "elsewhere": list(result.elsewhere),
                "counts": counts,
            }
        )
    else:
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none finished"
        out.note(f"done: {summary}; results in {store}/ ('scrutiny runs --store {store}' summarises them)")
        if result.elsewhere:
            done = ", ".join(f"{tid} ({r.get('status')})" for tid, r in result.elsewhere.items())
            out.note(f"{len(result.elsewhere)} trial(s) were run by another process meanwhile: {done}")
    if counts.get("failed"):
        raise typer.Exit(1)
