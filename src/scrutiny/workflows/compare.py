"""Is A better than B? Per-seed scores read from the store or from a file, compared (``scrutiny compare``).

The scores come from one of three places: the store (two specs, by spec hash prefix, label or ``claim.yaml:arm``, on
one or more final metrics), a file with one column per arm (CSV with a header row, or JSON ``{arm: [scores]}``,
optionally per-task columns), or a file in ``scrutiny check --scores`` format (``arm``, ``seed``, one column per
metric). The statistics are :func:`scrutiny.analysis.compare.compare`'s; several metrics are one family, Holm-adjusted
(:func:`scrutiny.analysis.compare.adjust_comparisons`).

An arm of a claim (``claim.yaml:arm``, or ``.yml``) is the spec that the latest ``scrutiny check`` of that claim file
ran for the arm, as recorded in the store (:mod:`scrutiny.store.arms`), at the one scale the claim was checked at, or
at ``scale`` where it was checked at several. Its scores are those of every complete trial of that spec in the store,
as for a spec hash.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from scrutiny.errors import ScrutinyError
from scrutiny.store import DEFAULT_STORE

if TYPE_CHECKING:
    from scrutiny.analysis.compare import Comparison

Scores = tuple[str, np.ndarray]


def scores_from_store(store: str | Path, key: str, metric: str, scale: str | None = None) -> Scores:
    """The display name and the per-seed ``metric`` scores ``(n_seeds,)`` of the one spec that ``key`` names.

    Args:
        store: The trial store.
        key: A spec hash prefix, a label, or ``claim.yaml:arm`` (an arm of a claim checked on this store).
        metric: A final result field, e.g. ``final_test_acc``.
        scale: For ``claim.yaml:arm``: the scale of the check (default: the one scale the claim was checked at).

    Raises:
        ScrutinyError: ``key`` matches no spec or several (``a/b: ...``), the spec has no complete trial with
            ``metric`` (``metrics: ...``); for an arm of a claim: the claim was not checked on this store, or has no
            such arm (``<claim file>: ...``, listing its arms), or was checked at several scales (``scale: ...``).
    """
    from scrutiny.analysis import summarise
    from scrutiny.store import Store
    from scrutiny.store.arms import claim_arm, split_claim_arm

    claim_key = split_claim_arm(key)
    if claim_key is not None:
        claim_file, arm_name = claim_key
        record, arm = claim_arm(store, claim_file, arm_name, scale)
        groups = [g for g in summarise(Store(store)) if g.spec_hash == arm.spec_hash]
        if not groups:
            raise ScrutinyError(
                f"{claim_file}: arm '{arm_name}' (spec {arm.spec_hash}, scale {record.scale}) has no trial in {store}/"
            )
        if metric not in groups[0].metrics:
            raise ScrutinyError(f"metrics: arm '{arm_name}' of {claim_file} has no complete trial with '{metric}'")
        return f"{arm_name} ({arm.spec_hash[:8]})", groups[0].metrics[metric]
    groups = [g for g in summarise(Store(store)) if g.spec_hash.startswith(key) or g.label == key]
    if len(groups) != 1:
        found = "no spec" if not groups else f"{len(groups)} specs ({', '.join(g.spec_hash for g in groups)})"
        raise ScrutinyError(
            f"a/b: '{key}' matches {found} in {store}/ (use a spec hash prefix, a label or claim.yaml:arm)"
        )
    g = groups[0]
    if metric not in g.metrics:
        raise ScrutinyError(f"metrics: spec {g.spec_hash} has no complete trial with '{metric}'")
    return f"{g.label} ({g.spec_hash[:8]})" if g.label else g.spec_hash, g.metrics[metric]


def columns_from_file(path: Path, columns: list[str] | None) -> dict[str, np.ndarray]:
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


def long_rows(path: Path) -> list[dict] | None:
    """The rows of a file in ``check --scores`` format (``arm``, ``seed``, metric columns), or None for another."""
    from scrutiny.analysis.scores_file import read_score_rows

    rows = read_score_rows(path)
    return rows if rows and "arm" in rows[0] and "seed" in rows[0] else None


def long_pair(path: Path, rows: list[dict], a: str, b: str, metric: str, paired: bool) -> tuple[np.ndarray, np.ndarray]:
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


def paired_columns(path: Path, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    """Scores of A and B on the seeds both have, in seed order, from a CSV with a 'seed' column."""
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "seed" not in rows[0]:
        raise ScrutinyError(f"{path}: paired needs a 'seed' column")
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


def _inputs(
    a: str | None,
    b: str | None,
    file: Path | None,
    tasks_a: str | Sequence[str] | None,
    tasks_b: str | Sequence[str] | None,
    metrics: list[str],
    paired: bool,
    store: str | Path,
    scale: str | None = None,
) -> list[tuple[str, str, Any, str, Any]]:
    """``(metric, name A, scores A, name B, scores B)`` per metric, from the store or from ``file``."""
    if paired and file is None:
        raise ScrutinyError("paired: needs a file with a 'seed' column (rows: one seed, one score per arm)")
    rows = long_rows(file) if file is not None else None
    if file is not None and rows is None and len(metrics) > 1:
        raise ScrutinyError("metrics: a file with one column per arm holds one metric; use check's format (arm, seed)")
    if file is not None and rows is not None:  # rows come only from a file
        if a is None or b is None:
            raise ScrutinyError(f"{file}: name the arms a and b")
        out = []
        for m in metrics:
            xa, xb = long_pair(file, rows, a, b, m, paired)
            out.append((m, a, xa, b, xb))
        return out
    if file is not None:
        if tasks_a or tasks_b:
            if not (tasks_a and tasks_b):
                raise ScrutinyError(f"{'tasks_b' if tasks_a else 'tasks_a'}: required with the other arm's tasks")
            cols_a = tasks_a.split(",") if isinstance(tasks_a, str) else list(tasks_a)
            cols_b = tasks_b.split(",") if isinstance(tasks_b, str) else list(tasks_b)
            table = columns_from_file(file, cols_a + cols_b)
            xa = np.stack([table[c] for c in cols_a], axis=1)
            xb = np.stack([table[c] for c in cols_b], axis=1)
            return [(metrics[0], a or "A", xa, b or "B", xb)]
        table = columns_from_file(file, None)
        if a is None or b is None:
            if len(table) != 2:
                raise ScrutinyError(f"{file}: name the arms a and b (columns: {', '.join(table)})")
            a, b = list(table)
        for key in (a, b):
            if key not in table:
                raise ScrutinyError(f"{file}: no column '{key}' (columns: {', '.join(table)})")
        xa, xb = paired_columns(file, a, b) if paired else (table[a], table[b])
        return [(metrics[0], a, xa, b, xb)]
    if a is None or b is None:
        raise ScrutinyError("a/b: give both arms (spec hashes, labels or claim.yaml:arm in the store), or a file")
    return [(m, *scores_from_store(store, a, m, scale), *scores_from_store(store, b, m, scale)) for m in metrics]


def compare_scores(
    a: str | None = None,
    b: str | None = None,
    *,
    file: str | Path | None = None,
    tasks_a: str | Sequence[str] | None = None,
    tasks_b: str | Sequence[str] | None = None,
    metrics: Sequence[str] = ("final_test_acc",),
    paired: bool = False,
    higher_is_better: bool = True,
    seed: int = 0,
    store: str | Path = DEFAULT_STORE,
    scale: str | None = None,
) -> list[Comparison]:
    """Compare two arms: intervals, P(A>B), Welch / Mann–Whitney / permutation p, effect size, seeds needed, verdict.

    Example::

        from scrutiny import compare_scores

        (c,) = compare_scores("wide", "narrow", file="scores.csv")
        print(c.verdict, c.difference, (c.difference_low, c.difference_high))

    Args:
        a: Arm A: a spec hash prefix, a label or ``claim.yaml:arm`` (an arm of a claim checked on the store), or a
            column (an ``arm`` value) of ``file``.
        b: Arm B, likewise. With a file of exactly two columns both may be left out.
        file: CSV or JSON of per-seed scores: one column per arm, or ``check --scores`` format.
        tasks_a: With a column file: A's per-task columns (comma-separated or a list); scores ``(n, n_tasks)``.
        tasks_b: B's per-task columns, likewise.
        metrics: Final metrics to compare (several: one family, Holm-adjusted); a column file holds one.
        paired: Pair A and B by seed (a file's ``seed`` column).
        higher_is_better: False for an error or a loss.
        seed: Seed of the bootstrap and permutation resampling.
        store: The trial store the specs are read from (without ``file``).
        scale: For ``claim.yaml:arm``: the scale the claim was checked at (default: the only one recorded; a claim
            checked at several scales needs it).

    Returns:
        One comparison per metric, decided as one family.

    Raises:
        ScrutinyError: Unknown arms or columns, an unreadable file, too few runs (one line naming the parameter or
            the file).
    """
    from scrutiny.analysis.compare import adjust_comparisons, compare
    from scrutiny.store.arms import split_claim_arm

    path = Path(file) if file is not None else None
    metrics = list(metrics) or ["final_test_acc"]
    comparisons = []
    if scale is not None and (path is not None or not any(k and split_claim_arm(k) for k in (a, b))):
        raise ScrutinyError("scale: goes with an arm of a claim (claim.yaml:arm) read from the store")
    for m, name_a, xa, name_b, xb in _inputs(a, b, path, tasks_a, tasks_b, metrics, paired, store, scale):
        warn = [f"{m} is a best-epoch field: if the epoch was chosen on the test split, it is optimistic"]
        try:
            comparisons.append(
                compare(
                    xa,
                    xb,
                    names=(name_a, name_b),
                    higher_is_better=higher_is_better,
                    seed=seed,
                    paired=paired,
                    metric=m,
                    warnings=warn if m.startswith("best_") else [],
                )
            )
        except ValueError as exc:
            raise ScrutinyError(f"{path}: {exc}" if path is not None else str(exc)) from None
    return adjust_comparisons(comparisons)
