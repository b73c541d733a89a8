"""Which computation reproduces a reported test accuracy, and by how much each one inflates the exact value.

The candidates are every combination of three choices (reference notes, Topic A.5):

- aggregation: ``exact`` (correct examples over evaluated examples), ``batch_mean`` (mean of per-batch accuracies)
  or ``ema`` (the PNN monitor's moving average ``A <- s·A + (1 - s)·acc_batch``, never reset, so it carries over
  from one epoch to the next; :mod:`scrutiny.audit.monitor`);
- ``drop_partial``: skip batches smaller than the configured batch size, as the PNN ``Trainer.test`` did;
- ``best_epoch``: the maximum over epochs of the per-epoch value, i.e. selection on the test set.

The inflation of a candidate is its value minus the exact accuracy of the final epoch. With per-batch counts for
every epoch, every candidate is computed. With per-batch counts of the final epoch only (what the store keeps:
``outputs.npz`` of the final evaluation) plus per-epoch totals (``metrics.jsonl``), ``exact+best_epoch`` is exact,
the final-epoch candidates are exact except that the moving average's value carried in from the previous epoch is
unknown (it is taken as that epoch's exact accuracy, and its weight ``s^B`` for ``B`` averaged batches is reported),
and the other best-epoch candidates cannot be computed. Where the totals show a single epoch in all, nothing was
carried in: the moving average starts at 0, as the monitor does, and every final-epoch candidate is exact. Without
totals the number of epochs is unknown, and the carried-in value is taken as the final epoch's exact accuracy.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from scrutiny.audit.monitor import SMOOTHNESS, monitor_epoch_values
from scrutiny.errors import ScrutinyError

AGGREGATIONS = ("exact", "batch_mean", "ema")
DESCRIPTIONS = {
    "exact": "correct / evaluated examples",
    "batch_mean": "mean of per-batch accuracies",
    "ema": f"moving average of per-batch accuracies ({SMOOTHNESS}·running + {1 - SMOOTHNESS:.1f}·batch), never reset",
    "drop_partial": "partial batches skipped",
    "best_epoch": "best epoch on the test set",
}


@dataclass(frozen=True)
class Computation:
    """One candidate computation of the reported accuracy (fractions in [0, 1])."""

    name: str
    components: tuple[str, ...]
    value: float
    inflation: float
    matches: bool
    description: str
    note: str = ""


@dataclass
class AccuracyAudit:
    """The audit of one reported accuracy.

    Attributes:
        reported: The reported accuracy as a fraction (a value above 1 was read as percent).
        exact: Exact accuracy of the final epoch.
        computations: Every candidate that could be computed, in a fixed order.
        unavailable: Candidate name -> why it could not be computed.
        tolerance: Largest ``|value - reported|`` that counts as a match.
        n_epochs: Epochs seen.
        per_batch: ``"every epoch"`` or ``"final epoch"``.
    """

    reported: float
    exact: float
    computations: list[Computation]
    tolerance: float
    n_epochs: int
    per_batch: str
    unavailable: dict[str, str] = field(default_factory=dict)

    @property
    def matches(self) -> list[str]:
        return [c.name for c in self.computations if c.matches]

    @property
    def closest(self) -> Computation:
        return min(self.computations, key=lambda c: abs(c.value - self.reported))

    def component_inflation(self) -> dict[str, float]:
        """Inflation of each single choice switched on alone, from the exact final-epoch accuracy."""
        by_name = {c.name: c for c in self.computations}
        return {n: by_name[n].inflation for n in ("batch_mean", "ema", "drop_partial", "best_epoch") if n in by_name}

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(matches=self.matches, closest=self.closest.name, component_inflation=self.component_inflation())
        return out


def _name(agg: str, drop: bool, best: bool) -> str:
    parts = [agg] if agg != "exact" or not (drop or best) else []
    parts += ["drop_partial"] * drop + ["best_epoch"] * best
    return "+".join(parts) if parts else "exact"


def _per_epoch(
    agg: str, correct: np.ndarray, sizes: np.ndarray, batch_size: int | None, initial: float, smoothness: float
) -> np.ndarray:
    """Per-epoch values ``(n_epochs,)`` of an aggregation; ``batch_size`` set: batches of another size skipped."""
    keep = np.ones(correct.shape, dtype=bool) if batch_size is None else sizes == batch_size
    if agg == "exact":
        return np.where(keep, correct, 0).sum(1) / np.where(keep, sizes, 0).sum(1)
    if agg == "batch_mean":
        acc = correct / sizes
        return np.array([acc[e][keep[e]].mean() for e in range(len(acc))])
    return monitor_epoch_values(correct, sizes, batch_size, smoothness=smoothness, initial=initial)


def audit_reported_accuracy(
    per_batch_correct: object,
    per_batch_sizes: object,
    reported: float,
    *,
    batch_size: int | None = None,
    epoch_correct: object | None = None,
    epoch_n: object | None = None,
    smoothness: float = SMOOTHNESS,
    tolerance: float = 5e-4,
) -> AccuracyAudit:
    """Say which computation reproduces ``reported`` and how much each candidate inflates the exact accuracy.

    Args:
        per_batch_correct: Correct predictions per test batch in loader order: ``(n_epochs, n_batches)`` for every
            epoch, or ``(n_batches,)`` for the final epoch only.
        per_batch_sizes: Batch sizes, ``(n_batches,)`` or the shape of ``per_batch_correct``.
        reported: The reported accuracy, a fraction or (if above 1) a percentage.
        batch_size: The configured batch size; smaller batches are the partial ones (default: the largest size).
        epoch_correct: With final-epoch counts only: correct examples of every epoch ``(n_epochs,)``, the last
            matching ``per_batch_correct``; enables ``exact+best_epoch`` and the carried-over moving average.
        epoch_n: Evaluated examples of every epoch ``(n_epochs,)``, with ``epoch_correct``.
        smoothness: The moving average's weight on the running value (0.7 in the PNN code).
        tolerance: Largest absolute difference, as a fraction, that counts as reproducing ``reported``.

    Raises:
        ScrutinyError: Inconsistent shapes, counts above sizes, or totals that disagree with the batches.
    """
    correct = np.asarray(per_batch_correct, dtype=np.float64)
    if correct.ndim not in (1, 2) or correct.size == 0:
        raise ScrutinyError(
            f"per-batch correct counts: expected shape (n_batches,) or (n_epochs, n_batches), got {correct.shape}"
        )
    every_epoch = correct.ndim == 2
    correct = np.atleast_2d(correct)
    try:
        sizes = np.broadcast_to(np.asarray(per_batch_sizes, dtype=np.float64), correct.shape)
    except ValueError:
        raise ScrutinyError(
            f"batch sizes of shape {np.asarray(per_batch_sizes).shape} do not fit counts {correct.shape}"
        ) from None
    if (sizes <= 0).any() or (correct < 0).any() or (correct > sizes).any():
        raise ScrutinyError("per-batch counts must satisfy 0 <= correct <= size and size > 0")
    batch_size = int(batch_size or sizes.max())
    reported = float(reported) / 100.0 if reported > 1.0 else float(reported)
    totals = None
    if epoch_correct is not None or epoch_n is not None:
        if every_epoch or epoch_correct is None or epoch_n is None:
            raise ScrutinyError("epoch totals go with final-epoch per-batch counts, and need both correct and n")
        totals = np.asarray(epoch_correct, dtype=np.float64), np.asarray(epoch_n, dtype=np.float64)
        if totals[0].shape != totals[1].shape or totals[0].ndim != 1 or not len(totals[0]):
            raise ScrutinyError("epoch_correct and epoch_n must have the same shape (n_epochs,)")
        if totals[0][-1] != correct.sum() or totals[1][-1] != sizes.sum():
            raise ScrutinyError(
                f"the last epoch's totals ({totals[0][-1]:.0f}/{totals[1][-1]:.0f}) disagree with the per-batch counts "
                f"({correct.sum():.0f}/{sizes.sum():.0f})"
            )
    exact = float(correct[-1].sum() / sizes[-1].sum())
    if not (sizes == batch_size).any(axis=1).all():
        raise ScrutinyError(f"an epoch has no batch of the configured size {batch_size}")
    out, unavailable = [], {}
    initial = 0.0  # the monitor starts at 0 before the first epoch
    first_epoch = every_epoch or (totals is not None and len(totals[0]) == 1)  # nothing carried in but the start
    if not first_epoch:
        prev = totals[0][-2] / totals[1][-2] if totals is not None else exact
        initial = float(prev)
    for agg, drop, best in itertools.product(AGGREGATIONS, (False, True), (False, True)):
        name = _name(agg, drop, best)
        if best and not every_epoch and (agg != "exact" or drop):
            unavailable[name] = "needs per-batch counts of every epoch (the store keeps the final evaluation's only)"
            continue
        if best and not every_epoch:
            if totals is None:
                unavailable[name] = "needs per-epoch totals (epoch_correct, epoch_n)"
                continue
            values = totals[0] / totals[1]
        else:
            values = _per_epoch(agg, correct, sizes, batch_size if drop else None, initial, smoothness)
        note = ""
        if agg == "ema" and not first_epoch:
            n_avg = int((sizes[-1] == batch_size).sum()) if drop else sizes.shape[1]
            note = (
                f"carried-in value unknown: taken as the previous epoch's exact accuracy, weight "
                f"{smoothness}^{n_avg} = {smoothness**n_avg:.2g}"
            )
        value = float(values.max() if best else values[-1])
        components = (agg,) * (agg != "exact") + ("drop_partial",) * drop + ("best_epoch",) * best
        description = "; ".join(DESCRIPTIONS[c] for c in (agg, *components[1 if agg != "exact" else 0 :]))
        description += "" if best else "; final epoch"
        out.append(
            Computation(name, components, value, value - exact, abs(value - reported) <= tolerance, description, note)
        )
    n_epochs = correct.shape[0] if every_epoch else (len(totals[0]) if totals is not None else 1)
    return AccuracyAudit(
        reported, exact, out, tolerance, n_epochs, "every epoch" if every_epoch else "final epoch", unavailable
    )
