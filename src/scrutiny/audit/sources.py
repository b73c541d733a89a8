"""Per-batch test counts for :func:`scrutiny.audit.audit_reported_accuracy`: from a trial in the store or a file.

From the store: the final evaluation's per-example predictions (``outputs.npz``, written with
``eval.save_outputs: true``) are cut into batches of the spec's ``data.eval_batch_size`` in loader order (evaluation
never shuffles), and ``metrics.jsonl`` gives every epoch's ``<split>_correct`` and ``<split>_n``. Per-batch counts of
earlier epochs are not stored.

From a file: CSV with columns ``correct`` and ``size`` (and ``epoch`` for several epochs, each with the same batches
in loader order), or JSON ``{"correct": [...] or [[...], ...], "sizes": [...], "batch_size": 64}`` with optional
``epoch_correct`` and ``epoch_n``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from scrutiny.errors import ScrutinyError, StoreError
from scrutiny.store import Store


def counts_from_trial(store: Store, trial: str) -> dict[str, Any]:
    """Audit inputs of a stored trial: ``per_batch_correct``, ``per_batch_sizes``, ``batch_size``, epoch totals."""
    tid = store.resolve_id(trial)
    spec = store.spec(tid).get("spec", {})
    result = store.result(tid) if store.status(tid) != "incomplete" else {}
    split = result.get("split") or spec.get("eval", {}).get("split", "test")
    path = store.trial_dir(tid) / "outputs.npz"
    if not path.exists():
        raise StoreError(f"{path}: no per-example outputs; run the trial with --set eval.save_outputs=true")
    with np.load(path) as arrays:
        if f"{split}_pred" not in arrays or f"{split}_target" not in arrays:
            raise StoreError(f"{path}: no '{split}_pred'/'{split}_target' arrays")
        hits = (arrays[f"{split}_pred"] == arrays[f"{split}_target"]).astype(np.int64)
    batch = int(spec.get("data", {}).get("eval_batch_size") or spec.get("data", {}).get("batch_size"))
    starts = np.arange(0, len(hits), batch)
    correct = np.add.reduceat(hits, starts) if len(hits) else hits
    sizes = np.minimum(batch, len(hits) - starts)
    rows = [r for r in store.metrics(tid) if f"{split}_correct" in r and f"{split}_n" in r]
    return {
        "per_batch_correct": correct,
        "per_batch_sizes": sizes,
        "batch_size": batch,
        "epoch_correct": [r[f"{split}_correct"] for r in rows] or None,
        "epoch_n": [r[f"{split}_n"] for r in rows] or None,
        "source": f"{store.root}/{tid} ({split}, eval batch size {batch})",
    }


def counts_from_file(path: str | Path) -> dict[str, Any]:
    """Audit inputs from a CSV or JSON file of per-batch counts (see the module docstring)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScrutinyError(f"{path}: cannot read ({exc.strerror})") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScrutinyError(f"{path}: malformed JSON ({exc.msg}, line {exc.lineno})") from None
        if not isinstance(data, dict) or "correct" not in data or "sizes" not in data:
            raise ScrutinyError(f"{path}: expected a JSON object with 'correct' and 'sizes'")
        return {
            "per_batch_correct": data["correct"],
            "per_batch_sizes": data["sizes"],
            "batch_size": data.get("batch_size"),
            "epoch_correct": data.get("epoch_correct"),
            "epoch_n": data.get("epoch_n"),
            "source": str(path),
        }
    rows = list(csv.DictReader(text.splitlines()))
    if not rows or not {"correct", "size"} <= set(rows[0]):
        raise ScrutinyError(f"{path}: expected a CSV header with columns 'correct' and 'size' (and optional 'epoch')")
    try:
        epochs: dict[int, list[tuple[int, int]]] = {}
        for row in rows:
            epochs.setdefault(int(row.get("epoch") or 0), []).append((int(row["correct"]), int(row["size"])))
    except (TypeError, ValueError) as exc:
        raise ScrutinyError(f"{path}: non-integer count ({exc})") from None
    lengths = {len(v) for v in epochs.values()}
    if len(lengths) != 1:
        raise ScrutinyError(f"{path}: every epoch needs the same number of batches, got {sorted(lengths)}")
    ordered = [epochs[e] for e in sorted(epochs)]
    correct = np.array([[c for c, _ in ep] for ep in ordered])
    sizes = np.array([[n for _, n in ep] for ep in ordered])
    if len(ordered) == 1:
        correct, sizes = correct[0], sizes[0]
    return {"per_batch_correct": correct, "per_batch_sizes": sizes, "batch_size": None, "source": str(path)}
