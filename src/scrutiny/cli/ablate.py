"""``scrutiny ablate A B``: attribute the gap between two setups to their differences."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import typer

from scrutiny.cli import app
from scrutiny.cli._common import JsonOpt, StoreOpt, flag_errors
from scrutiny.cli._output import Output
from scrutiny.cli._progress import progress_reporter
from scrutiny.report.format import fmt, plural, spec_value
from scrutiny.store import Store

# library parameter -> the flag that sets it
FLAGS = {
    "seeds": "--seeds",
    "design": "--design",
    "groups": "--group",
    "overrides_a": "--set-a",
    "overrides_b": "--set-b",
    "metric": "--metric",
    "max_factorial": "--max-factorial",
    "permutations": "--permutations",
    "seed": "--seed",
}


def _value(value: object) -> str:
    """A differing key's value as YAML spells it; a key one spec lacks as an em dash."""
    from scrutiny.spec import ABSENT

    return "—" if value is ABSENT else spec_value(value)


def _show_plan(out: Output, plan, payload: dict) -> None:
    out.table(
        f"{plural(len(plan.factors), 'factor')} from {plural(len(plan.differences), 'differing key')}",
        ["factor", "keys", "A", "B"],
        [
            [
                f.name,
                ", ".join(f.keys),
                ", ".join(_value(d.a) for d in plan.differences if d.key in f.keys),
                ", ".join(_value(d.b) for d in plan.differences if d.key in f.keys),
            ]
            for f in plan.factors
        ],
    )
    to_run = sum(row["to_run"] for row in payload["arms"])
    out.table(
        f"{plan.design.design}: {plural(len(plan.design.arms), 'arm')} × {plural(len(plan.seeds), 'seed')} = "
        f"{plural(payload['n_trials'], 'trial')} ({to_run} not in the store)",
        ["arm", "switched to B", "spec", "trials", "to run"],
        [
            [r["arm"], ", ".join(r["switched"]) or "—", r["spec_hash"], r["trials"], r["to_run"]]
            for r in payload["arms"]
        ],
    )


@app.command()
def ablate(
    spec_a: Path = typer.Argument(..., help="Spec A (the baseline) YAML."),
    spec_b: Path = typer.Argument(..., help="Spec B (the target) YAML."),
    seeds: str = typer.Option("0-2", "--seeds", help="Seeds of every arm: '0-2', '0,3,7'."),
    design: str = typer.Option("one-at-a-time", "--design", help="one-at-a-time | leave-one-out | factorial | shapley"),
    group: list[str] = typer.Option(None, "--group", help="Couple keys into one factor: name=key1,key2 (repeatable)."),
    set_a: list[str] = typer.Option(None, "--set-a", help="Override applied to A (repeatable)."),
    set_b: list[str] = typer.Option(None, "--set-b", help="Override applied to B (repeatable)."),
    metric: str = typer.Option(None, "--metric", help="Result key to attribute (default final_<split>_acc)."),
    max_factorial: int = typer.Option(6, "--max-factorial", min=1, help="Most factors for an exhaustive design."),
    force: bool = typer.Option(False, "--force", help="Allow an exhaustive design above --max-factorial."),
    permutations: int = typer.Option(None, "--permutations", min=1, help="Shapley: sample N orders (with --seed)."),
    order_seed: int = typer.Option(None, "--seed", help="Seed of the sampled orders (and of the bootstrap)."),
    confidence: float = typer.Option(0.95, "--confidence", min=0.5, max=0.999, help="Bootstrap interval coverage."),
    reps: int = typer.Option(10_000, "--reps", min=100, help="Bootstrap replicates."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes."),
    threads: int = typer.Option(None, "--threads", min=1, help="CPU threads per trial."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Run failed trials again."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the factors, arms and trial count; run nothing."),
    out_dir: Path = typer.Option(None, "--out", help="Write ablation.json, ablation.md and waterfall.png here."),
    store: Path = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Attribute the gap between SPEC_A and SPEC_B to their differing keys by running arms that mix the two."""
    from scrutiny.workflows.ablate import ablate as run_ablate
    from scrutiny.workflows.ablate import plan_ablation

    out = Output(as_json)
    trial_store = Store(store)
    with flag_errors(FLAGS):
        plan = plan_ablation(
            spec_a,
            spec_b,
            seeds,
            design=design,
            groups=group or [],
            max_factorial=max_factorial,
            force=force,
            permutations=permutations,
            seed=order_seed,
            overrides_a=set_a or [],
            overrides_b=set_b or [],
        )
    meta = {"a": str(spec_a), "b": str(spec_b), "store": str(store)}
    payload = {**meta, **plan.to_dict(trial_store)}
    if dry_run:
        if as_json:
            out.json({**payload, "dry_run": True})
        else:
            _show_plan(out, plan, payload)
        return
    if not as_json:
        _show_plan(out, plan, payload)
    runs = plan.to_run(trial_store, retry_failed) > 0  # no progress display (and no spinner) where nothing runs
    with progress_reporter(out) if runs else nullcontext(None) as reporter, flag_errors(FLAGS):
        result = run_ablate(
            plan,
            store=trial_store,
            metric=metric,
            seed=order_seed,
            confidence=confidence,
            reps=reps,
            workers=workers,
            threads=threads,
            retry_failed=retry_failed,
            reporter=reporter,
            out_dir=out_dir,
            meta=meta,
        )
    if result.interrupted:
        out.note(f"interrupted: finished trials are kept in {store}/; run the same command again to resume")
        raise typer.Exit(130)
    if as_json:
        out.json(result.to_dict())
        return
    for line in result.problems:
        out.note(f"no score: {line}")
    _show_result(out, result.attribution)
    if out_dir is not None:
        out.note(f"wrote {out_dir}/ablation.json, ablation.md and waterfall.png")


def _show_result(out: Output, result) -> None:
    pct = f"{round(100 * result.confidence)}% CI"

    def row(label, e):
        return [label, ", ".join(e.keys), e.estimate, None if e.low is None else f"[{fmt(e.low)}, {fmt(e.high)}]"]

    rows = [row("A", result.a)]
    rows += [row(f"effect: {e.name}", e) for e in result.effects]
    if result.shapley and result.design != "shapley":
        rows += [row(f"Shapley: {e.name}", e) for e in result.shapley]
    if result.residual is not None:
        rows.append(row(result.residual.name, result.residual))
    rows += [row(f"interaction: {e.name}", e) for e in result.interactions]
    rows += [row("B", result.b), row("gap (B − A)", result.gap)]
    kind = "" if result.exact else " (sampled orders)"
    out.table(
        f"{result.design}{kind}: {result.metric}, {plural(len(result.seeds), 'seed')} {fmt(result.seeds)}",
        ["quantity", "keys", "estimate", pct],
        rows,
    )
