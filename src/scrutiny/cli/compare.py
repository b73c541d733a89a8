"""``scrutiny compare``: is A better than B, from the store or from files of per-seed scores?"""

from __future__ import annotations

from pathlib import Path

import typer

from scrutiny.cli import app
from scrutiny.cli._common import JsonOpt, StoreOpt, flag_errors
from scrutiny.cli._output import Output, fmt
from scrutiny.errors import ScrutinyError

# library parameter -> the flag that sets it
FLAGS = {
    "a/b": "--a/--b",
    "a": "--a",
    "b": "--b",
    "file": "--file",
    "tasks_a": "--tasks-a",
    "tasks_b": "--tasks-b",
    "metrics": "--metric",
    "paired": "--paired",
    "scale": "--scale",
}


@app.command()
def compare(
    a: str = typer.Option(
        None,
        "--a",
        help="Arm A: a spec hash prefix or label in the store, CLAIM.yaml:ARM (an arm of a claim checked on the "
        "store), or a column name.",
    ),
    b: str = typer.Option(None, "--b", help="Arm B, likewise."),
    scale: str = typer.Option(
        None, "--scale", help="With CLAIM.yaml:ARM: the scale checked (default: the claim's only checked scale)."
    ),
    scores_file: Path = typer.Option(None, "--file", help="CSV or JSON of per-seed scores, one column per arm."),
    tasks_a: str = typer.Option(None, "--tasks-a", help="With --file: comma-separated per-task columns of A."),
    tasks_b: str = typer.Option(None, "--tasks-b", help="With --file: comma-separated per-task columns of B."),
    metrics: list[str] = typer.Option(
        None, "--metric", help="Final metric to compare (store input; repeat: one family, Holm-adjusted)."
    ),
    paired: bool = typer.Option(False, "--paired", help="With --file: pair A and B by the file's 'seed' column."),
    lower_is_better: bool = typer.Option(False, "--lower-is-better", help="The metric is an error or a loss."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and permutation resampling."),
    store: Path = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Compare two arms: intervals, P(A>B), Welch / Mann–Whitney / permutation p, effect size, seeds needed, verdict."""
    from scrutiny.workflows.compare import compare_scores

    out = Output(as_json)
    if paired and scores_file is None:
        raise ScrutinyError("--paired needs --file with a 'seed' column (rows: one seed, one score per arm)")
    if scores_file is None and (a is None or b is None):
        raise ScrutinyError("compare: give --a and --b (spec hashes, labels or claim.yaml:arm in the store), or --file")
    with flag_errors(FLAGS):
        comparisons = compare_scores(
            a,
            b,
            file=scores_file,
            tasks_a=tasks_a,
            tasks_b=tasks_b,
            metrics=metrics or ["final_test_acc"],
            paired=paired,
            higher_is_better=not lower_is_better,
            seed=seed,
            store=store,
            scale=scale,
        )
    if as_json:
        out.json(comparisons[0].to_dict() if len(comparisons) == 1 else [c.to_dict() for c in comparisons])
        return
    for c in comparisons:
        _show(out, c)


def _show(out: Output, c) -> None:
    if c.metric:
        out.print(f"[bold]{c.metric}[/]")
    rows = [[s.name, s.n, fmt(s.mean), fmt(s.std), f"{fmt(s.low)} … {fmt(s.high)}"] for s in (c.a, c.b)]
    out.table(None, ["arm", "n", "mean", "sd", "95% interval"], rows)
    poi = c.p_improvement or {}
    facts = [
        ["difference A − B", f"{fmt(c.difference)}  [{fmt(c.difference_low)} … {fmt(c.difference_high)}] (95%)"],
        [
            f"P({'A > B' if c.higher_is_better else 'A < B'})",
            f"{fmt(poi.get('estimate'))}  [{fmt(poi.get('low'))} … {fmt(poi.get('high'))}] (bootstrap 95%)",
        ],
        [
            "p: Welch / Mann–Whitney / permutation",
            f"{fmt(c.p_welch)} / {fmt(c.p_mann_whitney)} / {fmt(c.p_permutation)}",
        ],
        ["effect size (Hedges' g)", fmt(c.hedges_g)],
        ["test", c.test + (" (paired by seed)" if c.paired else "")],
        ["seeds per arm to detect this difference (80% power)", fmt(c.seeds_needed)],
        ["smallest detectable difference at this n", fmt(c.minimum_detectable)],
    ]
    out.table(None, ["", ""], facts)
    out.print(f"[bold]verdict:[/] {c.verdict}  ({c.rule})")
    for w in c.warnings:
        out.print(f"warning: {w}")
