"""``scrutiny compare``: is A better than B, from the store or from files of per-seed scores?"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import typer

from scrutiny.cli import app
from scrutiny.cli._common import JsonOpt, StoreOpt
from scrutiny.cli._output import Output, fmt
from scrutiny.errors import ScrutinyError


def _from_store(store: Path, key: str, metric: str) -> tuple[str, np.ndarray]:
    from scrutiny.analysis import summarise
    from scrutiny.store import Store

    groups = [g for g in summarise(Store(store)) if g.spec_hash.startswith(key) or g.label == key]
    if len(groups) != 1:
        found = "no spec" if not groups else f"{len(groups)} specs ({', '.join(g.spec_hash for g in groups)})"
        raise ScrutinyError(f"--a/--b: '{key}' matches {found} in {store}/ (use a spec hash prefix or a label)")
    g = groups[0]
    if metric not in g.metrics:
        raise ScrutinyError(f"--metric: spec {g.spec_hash} has no complete trial with '{metric}'")
    return f"{g.label} ({g.spec_hash[:8]})" if g.label else g.spec_hash, g.metrics[metric]


def _from_file(path: Path, columns: list[str] | None) -> dict[str, np.ndarray]:
    """Columns of a CSV (header row) or JSON (``{name: [scores]}`` or ``{name: [[task scores]]}``) file."""
    if not path.is_file():
        raise ScrutinyError(f"{path}: file not found")
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                raise ValueError("expected an object mapping arm names to score lists")
            return {k: np.asarray(v, dtype=float) for k, v in data.items()}
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        if not rows:
            raise ValueError("no rows")
        if any(None in r for r in rows):
            raise ValueError("a row has more cells than the header")
        names = columns or list(rows[0])
        return {n: np.array([float(r[n]) for r in rows if r.get(n) not in (None, "")]) for n in names}
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ScrutinyError(f"{path}: cannot read scores ({exc})") from None


@app.command()
def compare(
    a: str = typer.Option(None, "--a", help="Arm A: a spec hash prefix or label in the store, or a column name."),
    b: str = typer.Option(None, "--b", help="Arm B, likewise."),
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
    from scrutiny.analysis.compare import adjust_comparisons
    from scrutiny.analysis.compare import compare as run_compare

    out = Output(as_json)
    metrics = metrics or ["final_test_acc"]
    if paired and scores_file is None:
        raise ScrutinyError("--paired needs --file with a 'seed' column (rows: one seed, one score per arm)")
    long_rows = _long_rows(scores_file) if scores_file is not None else None
    if scores_file is not None and long_rows is None and len(metrics) > 1:
        raise ScrutinyError("--metric: a file with one column per arm holds one metric; use check's format (arm, seed)")
    if long_rows is not None:
        if a is None or b is None:
            raise ScrutinyError(f"{scores_file}: name the arms with --a and --b")
        inputs = [(m, a, *_long_pair(scores_file, long_rows, a, b, m, paired)) for m in metrics]
        inputs = [(m, a, xa, b, xb) for m, a, xa, xb in inputs]
    elif scores_file is not None:
        if tasks_a or tasks_b:
            if not (tasks_a and tasks_b):
                raise ScrutinyError("--tasks-a and --tasks-b go together")
            cols_a, cols_b = tasks_a.split(","), tasks_b.split(",")
            table = _from_file(scores_file, cols_a + cols_b)
            name_a, name_b = a or "A", b or "B"
            xa = np.stack([table[c] for c in cols_a], axis=1)
            xb = np.stack([table[c] for c in cols_b], axis=1)
        else:
            table = _from_file(scores_file, None)
            if a is None or b is None:
                if len(table) != 2:
                    raise ScrutinyError(f"{scores_file}: name the arms with --a and --b (columns: {', '.join(table)})")
                a, b = list(table)
            for key in (a, b):
                if key not in table:
                    raise ScrutinyError(f"{scores_file}: no column '{key}' (columns: {', '.join(table)})")
            name_a, name_b, xa, xb = a, b, table[a], table[b]
            if paired:
                xa, xb = _paired_columns(scores_file, a, b)
        inputs = [(metrics[0], name_a, xa, name_b, xb)]
    else:
        if a is None or b is None:
            raise ScrutinyError("compare: give --a and --b (spec hashes or labels in the store), or --file")
        inputs = [(m, *_from_store(store, a, m), *_from_store(store, b, m)) for m in metrics]
    comparisons = []
    for m, name_a, xa, name_b, xb in inputs:
        warn = (
            [f"{m} is a best-epoch field: if the epoch was chosen on the test split, it is optimistic"]
            if (m.startswith("best_"))
            else []
        )
        try:
            comparisons.append(
                run_compare(
                    xa,
                    xb,
                    names=(name_a, name_b),
                    higher_is_better=not lower_is_better,
                    seed=seed,
                    paired=paired,
                    metric=m,
                    warnings=warn,
                )
            )
        except ValueError as exc:
            raise ScrutinyError(f"{scores_file}: {exc}" if scores_file is not None else str(exc)) from None
    adjust_comparisons(comparisons)
    if as_json:
        out.json(comparisons[0].to_dict() if len(comparisons) == 1 else [c.to_dict() for c in comparisons])
        return
    for c in comparisons:
        _show(out, c)


def _long_rows(path: Path) -> list[dict] | None:
    """The rows of a file in ``check --scores`` format (``arm``, ``seed``, metric columns), or None for another."""
    from scrutiny.analysis.scores_file import read_score_rows

    rows = read_score_rows(path)
    return rows if rows and "arm" in rows[0] and "seed" in rows[0] else None


def _long_pair(path: Path, rows: list[dict], a: str, b: str, metric: str, paired: bool):
    """Scores of arms ``a`` and ``b`` on ``metric`` (complete rows, in seed order; common seeds when paired)."""
    from scrutiny.analysis.scores_file import arms_from_rows

    names = {str(r["arm"]) for r in rows}
    missing = [x for x in (a, b) if x not in names]
    if missing:
        raise ScrutinyError(
            f"{path}: column 'arm': no rows for {', '.join(missing)} (arms: {', '.join(sorted(names))})"
        )
    arms = arms_from_rows([r for r in rows if str(r["arm"]) in (a, b)], path, {a: None, b: None}, {metric}, metric)
    xa, xb = arms[a], arms[b]
    if paired:
        common = sorted(set(xa.complete_seeds) & set(xb.complete_seeds))
        pick = lambda arm: np.array([arm.scores[arm.complete_seeds.index(s)] for s in common])  # noqa: E731
        return pick(xa), pick(xb)
    return xa.scores, xb.scores


def _paired_columns(path: Path, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    """Scores of A and B on the seeds both have, in seed order, from a CSV with a 'seed' column."""
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "seed" not in rows[0]:
        raise ScrutinyError(f"{path}: --paired needs a 'seed' column")
    pairs = {}
    for i, r in enumerate(rows, 1):
        if r.get(a) in (None, "") or r.get(b) in (None, ""):
            continue
        try:
            seed = int(float(r["seed"]))
            pairs[seed] = (float(r[a]), float(r[b]))
        except ValueError:
            raise ScrutinyError(f"{path}: row {i}: a seed or score is not a number") from None
    order = sorted(pairs)
    return np.array([pairs[s][0] for s in order]), np.array([pairs[s][1] for s in order])


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
