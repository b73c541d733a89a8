"""Summaries of the trial store: trials grouped by spec, with the final metrics of their complete trials."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scrutiny.errors import StoreError
from scrutiny.store import Store


@dataclass
class SpecSummary:
    """The trials of one spec.

    Attributes:
        seeds: The seed of each trial in ``trial_ids`` (``None`` where its spec record names none).
        metrics: Final metric -> per-seed values ``(n_complete,)`` of the complete trials, in seed order.
    """

    spec_hash: str
    label: str | None
    model: str
    data: str
    trial_ids: list[str] = field(default_factory=list)
    seeds: list[int | None] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.trial_ids)

    def mean_std(self, metric: str) -> tuple[float, float | None]:
        """Mean and sample standard deviation (ddof=1; ``None`` for one value) of a final metric."""
        values = self.metrics[metric]
        return float(values.mean()), (float(values.std(ddof=1)) if len(values) > 1 else None)

    def to_dict(self) -> dict[str, Any]:
        metrics: dict[str, dict[str, Any]] = {}
        for metric, values in self.metrics.items():
            mean, std = self.mean_std(metric)
            metrics[metric] = {"mean": mean, "std": std, "n": len(values), "values": values.tolist()}
        return {
            "spec_hash": self.spec_hash,
            "label": self.label,
            "model": self.model,
            "data": self.data,
            "n": self.n,
            "seeds": self.seeds,
            "status": self.status,
            "trial_ids": self.trial_ids,
            "metrics": metrics,
        }


def summarise(store: Store) -> list[SpecSummary]:
    """Group the store's trials by spec hash; unreadable folders are reported as status ``unreadable``."""
    groups: dict[str, SpecSummary] = {}
    rows: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for tid in store.trial_ids():
        try:
            spec_record = store.spec(tid)
        except StoreError:
            continue
        h = spec_record.get("spec_hash", tid.rsplit("-s", 1)[0])
        spec = spec_record.get("spec", {})
        group = groups.setdefault(
            h,
            SpecSummary(
                h, spec.get("label"), spec.get("model", {}).get("name", "?"), spec.get("data", {}).get("name", "?")
            ),
        )
        status = store.status(tid)
        group.trial_ids.append(tid)
        group.seeds.append(spec_record.get("seed"))
        group.status[status] = group.status.get(status, 0) + 1
        if status == "complete":
            rows.setdefault(h, []).append((spec_record.get("seed", 0), store.result(tid)))
    for h, results in rows.items():
        results.sort(key=lambda item: item[0])
        keys = sorted(
            {
                k
                for _, r in results
                for k, v in r.items()
                if (k.startswith("final_") or k in r.get("probe_fields", ())) and _number(v)
            }
        )
        for key in keys:
            groups[h].metrics[key] = np.array([r[key] for _, r in results if _number(r.get(key))], dtype=float)
    return sorted(groups.values(), key=lambda g: (g.label or "", g.spec_hash))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
