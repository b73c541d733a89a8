"""``monitor``: what the PNN code's accuracy monitor would have reported for this trial, next to the exact accuracy.

The authors' original PNN code (``juefeix/pnn.pytorch@d060c85``; reference notes, Topic A.5) reported as its test
accuracy the best over epochs of a moving average ``A <- 0.7·A + 0.3·acc_batch`` of per-batch accuracies, never
reset between epochs, with any batch smaller than the configured batch size skipped. This probe replays that
computation on the trial's own per-batch test counts of every epoch (:mod:`scrutiny.audit.monitor`, driven through
:func:`scrutiny.audit.audit_reported_accuracy`), so a claim can compare the number the buggy monitor would have
printed with the exact one, on the same trials and seeds.

It needs ``eval.save_batches: true`` (the per-batch counts of every evaluation) and ``eval.every_epochs: 1`` (the
original evaluated after every epoch, and its moving average carries over from one epoch to the next).

Result fields (prefix ``monitor`` by default; accuracies as fractions):

- ``reported_acc``: the buggy monitor: moving average, partial batches skipped, best epoch on the test set;
- ``reported_epoch``: the epoch (from 1) that the monitor's best came from;
- ``final_epoch_acc``: the monitor's value after the last epoch (moving average, partial batches skipped);
- ``exact_acc``: correct over evaluated examples at the last epoch (equal to the trial's ``final_<split>_acc``);
- ``inflation``: ``reported_acc - exact_acc``;
- ``smoothing_inflation``, ``best_epoch_inflation``, ``drop_partial_inflation``, ``batch_mean_inflation``: each
  choice switched on alone, minus ``exact_acc`` (smoothing alone = the moving average over every batch of the last
  epoch; batch mean alone = the plain mean of per-batch accuracies, the metric of Klachko's code);
- ``interaction``: ``inflation`` minus the sum of the smoothing, best-epoch and dropped-batch contributions.

Tables (``probes/monitor.json``): ``epochs``, one row per evaluated epoch with the exact accuracy, the monitor's
value, the moving average over every batch and the exact accuracy without the partial batch; ``computations``, every
candidate computation of :func:`~scrutiny.audit.audit_reported_accuracy` with its value and inflation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scrutiny.audit.accuracy import audit_reported_accuracy
from scrutiny.audit.monitor import SMOOTHNESS, monitor_epoch_values
from scrutiny.errors import ScrutinyError
from scrutiny.probes._base import ProbeContext, ProbeOutput
from scrutiny.registry import PROBES

_SEPARATE = {"smoothing": "ema", "best_epoch": "best_epoch", "drop_partial": "drop_partial", "batch_mean": "batch_mean"}


def per_batch_counts(ctx: ProbeContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The trial's per-batch test counts of every evaluated epoch.

    Returns:
        ``(epochs, correct, sizes)``: epoch numbers ``(n_epochs,)``, correct predictions and batch sizes
        ``(n_epochs, n_batches)`` in loader order.

    Raises:
        ScrutinyError: No per-batch counts (``eval.save_batches`` off), epochs evaluated at intervals, or epochs
            with different batches.
    """
    spec = ctx.spec
    if not spec.eval.save_batches or not ctx.eval_batches:
        raise ScrutinyError(
            "probes: monitor: needs the per-batch test counts of every epoch; set eval.save_batches: true in the spec"
        )
    epochs = np.array([int(b["epoch"]) for b in ctx.eval_batches])
    if epochs[0] > 1 or (np.diff(epochs) != 1).any():
        raise ScrutinyError(
            f"probes: monitor: eval.every_epochs is {spec.eval.every_epochs}; the monitor's moving average runs "
            "over every epoch's evaluation, so set eval.every_epochs: 1"
        )
    sizes = [np.asarray(b["n"], dtype=np.float64) for b in ctx.eval_batches]
    if len({s.shape for s in sizes}) != 1 or any((s != sizes[0]).any() for s in sizes):
        raise ScrutinyError("probes: monitor: the evaluations of different epochs have different batches")
    correct = np.stack([np.asarray(b["acc"], dtype=np.float64) for b in ctx.eval_batches])
    return epochs, correct, np.stack(sizes)


@PROBES.register("monitor", requires={"eval.save_batches": True, "eval.every_epochs": 1})
def monitor(ctx: ProbeContext, smoothness: float = SMOOTHNESS, batch_size: int | None = None) -> ProbeOutput:
    """The PNN monitor's reported test accuracy for this trial, the exact accuracy and each source of the gap.

    Args:
        ctx: The trial's context (uses ``eval_batches`` and ``spec``).
        smoothness: The moving average's weight on its running value (0.7 in the PNN code).
        batch_size: The configured batch size below which a test batch is skipped (default: the spec's
            ``data.eval_batch_size``, which the PNN code shared with training).
    """
    if not 0.0 <= smoothness < 1.0:
        raise ScrutinyError(f"probes: monitor: smoothness: expected a number in [0, 1), got {smoothness}")
    epochs, correct, sizes = per_batch_counts(ctx)
    # the schema fills eval_batch_size from batch_size when it is not given
    batch = int(batch_size or ctx.spec.data.eval_batch_size or ctx.spec.data.batch_size)
    if not (sizes == batch).any():
        raise ScrutinyError(f"probes: monitor: batch_size: no test batch has {batch} examples; all would be skipped")
    monitor_values = monitor_epoch_values(correct, sizes, batch, smoothness=smoothness)
    audit = audit_reported_accuracy(
        correct, sizes, float(monitor_values.max()), batch_size=batch, smoothness=smoothness, tolerance=1e-12
    )
    by_name = {c.name: c for c in audit.computations}
    reported = by_name["ema+drop_partial+best_epoch"]
    separate = {key: by_name[name].inflation for key, name in _SEPARATE.items()}
    keep = sizes == batch
    smoothed_all = monitor_epoch_values(correct, sizes, None, smoothness=smoothness)
    rows = [
        {
            "epoch": int(e),
            "exact": float(correct[i].sum() / sizes[i].sum()),
            "monitor": float(monitor_values[i]),
            "ema_all_batches": float(smoothed_all[i]),
            "exact_drop_partial": float(correct[i][keep[i]].sum() / sizes[i][keep[i]].sum()),
        }
        for i, e in enumerate(epochs)
    ]
    metrics: dict[str, Any] = {
        "reported_acc": reported.value,
        "reported_epoch": int(epochs[int(np.argmax(monitor_values))]),
        "final_epoch_acc": float(monitor_values[-1]),
        "exact_acc": audit.exact,
        "inflation": reported.inflation,
        **{f"{key}_inflation": value for key, value in separate.items()},
        "interaction": reported.inflation - separate["smoothing"] - separate["best_epoch"] - separate["drop_partial"],
    }
    return ProbeOutput(
        metrics=metrics,
        tables={
            "batch_size": batch,
            "smoothness": smoothness,
            "n_batches": int(sizes.shape[1]),
            "n_skipped_per_epoch": int((~keep[0]).sum()),
            "epochs": rows,
            "computations": [
                {"name": c.name, "value": c.value, "inflation": c.inflation, "description": c.description}
                for c in audit.computations
            ],
        },
    )
