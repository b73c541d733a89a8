"""``scrutiny ablate A B``: attribute the gap between two setups to their differences."""

from __future__ import annotations

from pathlib import Path

import typer

from scrutiny.ablation import AblationPlan, attribute_from_store, markdown_table, plan_ablation, run_ablation
from scrutiny.cli import app
from scrutiny.cli._common import JsonOpt, StoreOpt
from scrutiny.cli._output import Output
from scrutiny.cli._progress import progress_reporter
from scrutiny.errors import ScrutinyError
from scrutiny.spec import ABSENT, load_spec
from scrutiny.store import Store
from scrutiny.store._atomic import write_atomic, write_json
from scrutiny.trials import parse_seeds


def parse_groups(texts: list[str] | None) -> dict[str, list[str]]:
    """``["optimizer=optim.name,optim.betas"]`` -> ``{"optimizer": ["optim.name", "optim.betas"]}``."""
    groups: dict[str, list[str]] = {}
    for text in texts or []:
        name, sep, keys = text.partition("=")
        members = [k.strip() for k in keys.split(",") if k.strip()]
        if not sep or not name.strip() or not members:
            raise ScrutinyError(f"--group: expected name=key1,key2, got {text!r}")
        if name.strip() in groups:
            raise ScrutinyError(f"--group {name.strip()}: the name is used twice")
        groups[name.strip()] = members
    return groups


def _plan_payload(plan: AblationPlan, store: Store) -> dict:
    return {
        "design": plan.design.design,
        "exact": plan.design.exact,
        "orders": plan.design.orders,
        "seeds": plan.seeds,
        "factors": [{"name": f.name, "keys": list(f.keys)} for f in plan.factors],
        "differences": [
            {"key": d.key, "a": None if d.a is ABSENT else d.a, "b": None if d.b is ABSENT else d.b}
            for d in plan.differences
        ],
        "arms": plan.arm_table(store),
        "n_trials": len(plan.items()),
    }


def _show_plan(out: Output, plan: AblationPlan, payload: dict) -> None:
    out.table(
        f"{len(plan.factors)} factors from {len(plan.differences)} differing keys",
        ["factor", "keys", "A", "B"],
        [
            [
                f.name,
                ", ".join(f.keys),
                ", ".join(str(d.a) for d in plan.differences if d.key in f.keys),
                ", ".join(str(d.b) for d in plan.differences if d.key in f.keys),
            ]
            for f in plan.factors
        ],
    )
    to_run = sum(row["to_run"] for row in payload["arms"])
    out.table(
        f"{plan.design.design}: {len(plan.design.arms)} arms × {len(plan.seeds)} seeds = {payload['n_trials']} trials "
        f"({to_run} not in the store)",
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
    out = Output(as_json)
    a, b = load_spec(spec_a, set_a or []), load_spec(spec_b, set_b or [])
    plan = plan_ablation(
        a,
        b,
        parse_seeds(seeds),
        design=design,
        groups=parse_groups(group),
        max_factorial=max_factorial,
        force=force,
        permutations=permutations,
        seed=order_seed,
    )
    trial_store = Store(store)
    payload = {"a": str(spec_a), "b": str(spec_b), "store": str(store), **_plan_payload(plan, trial_store)}
    if dry_run:
        if as_json:
            out.json({**payload, "dry_run": True})
        else:
            _show_plan(out, plan, payload)
        return
    if not as_json:
        _show_plan(out, plan, payload)
    with progress_reporter(out) as reporter:
        sweep = run_ablation(
            plan, trial_store, workers=workers, threads=threads, retry_failed=retry_failed, reporter=reporter
        )
    if sweep.interrupted:
        out.note(f"interrupted: finished trials are kept in {store}/; run the same command again to resume")
        raise typer.Exit(130)
    result, problems = attribute_from_store(
        plan, trial_store, metric=metric, confidence=confidence, reps=reps, seed=order_seed or 0
    )
    payload.update(
        {"ran": len(sweep.ran), "skipped": len(sweep.skipped), "problems": problems, "result": result.to_dict()}
    )
    if out_dir is not None:
        _write_outputs(out_dir, payload, result)
    if as_json:
        out.json(payload)
        return
    for line in problems:
        out.note(f"no score: {line}")
    _show_result(out, result)
    if out_dir is not None:
        out.note(f"wrote {out_dir}/ablation.json, ablation.md and waterfall.png")


def _show_result(out: Output, result) -> None:
    pct = f"{round(100 * result.confidence)}% CI"

    def row(label, e):
        return [label, ", ".join(e.keys), e.estimate, None if e.low is None else f"[{e.low:.4g}, {e.high:.4g}]"]

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
        f"{result.design}{kind}: {result.metric}, {len(result.seeds)} seeds {result.seeds}",
        ["quantity", "keys", "estimate", pct],
        rows,
    )


def _write_outputs(folder: Path, payload: dict, result) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from scrutiny.ablation import plot_waterfall

    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "ablation.json", payload)
    (folder / "ablation.md").write_text(markdown_table(result))
    ax = plot_waterfall(result)
    ax.figure.tight_layout()
    write_atomic(folder / "waterfall.png", lambda fh: ax.figure.savefig(fh, format="png", dpi=120))
    plt.close(ax.figure)
