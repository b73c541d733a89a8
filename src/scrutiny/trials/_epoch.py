"""One epoch of a trial: the training pass and the evaluation, over what :func:`scrutiny.trials.loop._setup` built.

:class:`Run` holds everything built from the spec before the first epoch; :class:`Progress` what the epochs leave
for the final record and the probes. :func:`train_epoch` and :func:`evaluate_epoch` are the two steps that
:func:`scrutiny.trials.loop._fit` calls every epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from scrutiny.data import DataBundle
from scrutiny.data.augment import AugmentedDataset
from scrutiny.data.samplers import sampler_order
from scrutiny.spec import Spec
from scrutiny.store import TrialWriter
from scrutiny.trials.batches import batch_sizes, train_batches
from scrutiny.trials.evaluate import EvalResult, evaluate
from scrutiny.trials.optim import LrSchedule
from scrutiny.trials.precision import Precision
from scrutiny.trials.tasks import LOWER_IS_BETTER, Task


class Diverged(Exception):
    """The training loss became NaN or infinite."""

    def __init__(self, epoch: int, step: int, value: float) -> None:
        super().__init__(f"non-finite training loss {value} at epoch {epoch}, step {step}")
        self.epoch, self.step, self.value = epoch, step, value


@dataclass
class Run:
    """Everything a trial builds from its spec before the first epoch."""

    spec: Spec
    device: torch.device
    bundle: DataBundle
    train_ds: Dataset
    eval_ds: Dataset
    protocol: Any
    task: Task
    labels: torch.Tensor | None  # training labels (N,), for the class-balanced and deferred samplers
    model: nn.Module
    forward: Callable[[torch.Tensor], torch.Tensor]  # the model, or its torch.compile'd version
    optimizer: torch.optim.Optimizer
    order: torch.Generator  # stream "data_order"
    schedule: LrSchedule
    precision: Precision
    n_steps: int  # training steps per epoch


@dataclass
class Progress:
    """What the epochs leave behind for the final record and the probes."""

    history: list[dict[str, Any]] = field(default_factory=list)  # the rows of metrics.jsonl
    eval_batches: list[dict[str, Any]] = field(default_factory=list)  # per-batch sums, where eval.save_batches
    best: dict[str, Any] = field(default_factory=dict)  # score, epoch, metrics
    last_eval: EvalResult | None = None
    last_row: dict[str, Any] = field(
        default_factory=lambda: {"train_loss_epoch_avg": None, "train_acc_epoch_avg": None}
    )
    device_time: float = 0.0


def train_epoch(run: Run, epoch: int, writer: TrialWriter) -> dict[str, Any]:
    """One pass over the training data; the epoch's row of ``metrics.jsonl`` without its evaluation.

    Raises:
        Diverged: A training loss was NaN or infinite (checked once, after the epoch; its row is written first).
    """
    spec, data, device = run.spec, run.spec.data, run.device
    if isinstance(run.train_ds, AugmentedDataset):
        run.train_ds.set_epoch(epoch)
    run.model.train()
    step_loss = torch.zeros(run.n_steps, device=device)  # raw per-step values, checked for NaN after the epoch
    step_correct = torch.zeros(run.n_steps, dtype=torch.float64, device=device)
    seen = 0
    epoch_order = None
    if data.sampler != "uniform":  # uniform keeps the plain shuffle (and its numbers) of train_batches
        assert run.labels is not None, "the trial loads the training labels for every sampler but uniform"
        epoch_order = sampler_order(run.labels, run.order, epoch, data.sampler, data.drs_start_epoch)
    batches = train_batches(
        run.train_ds,
        data.batch_size,
        run.order,
        drop_last=data.drop_last,
        num_workers=data.num_workers,
        order=epoch_order,
    )
    for step, (x, y) in enumerate(batches):
        run.schedule.at(epoch - 1 + step / run.n_steps)  # a function of fractional epoch, applied at every step
        x, y = x.to(device, non_blocking=True), torch.as_tensor(y).to(device, non_blocking=True)
        if spec.train.channels_last and x.ndim == 4:  # images only: coordinates (N, 2) have no channels to move
            x = x.contiguous(memory_format=torch.channels_last)
        with run.precision.autocast():
            logits = run.forward(x)
            loss = run.task.loss(logits, y, spec.train.label_smoothing)
        run.optimizer.zero_grad(set_to_none=True)
        run.precision.step(loss, run.model, run.optimizer, spec.train.grad_clip)
        step_loss[step] = loss.detach()
        step_correct[step] = run.task.metrics(logits, y)["acc"].sum()
        seen += len(y)
    losses = step_loss.cpu()
    bad = (~torch.isfinite(losses)).nonzero()
    if len(bad):
        step = int(bad[0])
        writer.append_metrics(
            {"epoch": epoch, "lr": run.schedule.lr, "train_loss_epoch_avg": None, "diverged_step": step}
        )
        raise Diverged(epoch, step, float(losses[step]))
    return {
        "epoch": epoch,
        "lr": run.schedule.lr,
        "train_loss_epoch_avg": float(
            losses.double().mul(batch_sizes(seen, data.batch_size, run.n_steps)).sum() / seen
        ),
        "train_acc_epoch_avg": float(step_correct.sum()) / seen,
        "train_n": seen,
    }


def evaluate_epoch(run: Run, progress: Progress, epoch: int) -> dict[str, float | int]:
    """Evaluate on ``eval.split`` under the spec's protocol, keep the best epoch so far, return the metrics."""
    spec, task = run.spec, run.task
    result = evaluate(
        run.model,
        run.eval_ds,
        spec.eval.split,
        run.protocol,
        batch_size=spec.data.eval_batch_size or spec.data.batch_size,  # the schema fills the former from the latter
        device=run.device,
        num_workers=spec.data.num_workers,
        channels_last=spec.train.channels_last,
        autocast_dtype=run.precision.dtype,
        keep_outputs=spec.eval.save_outputs and epoch == spec.train.epochs,
        keep_batches=spec.eval.save_batches,
        task=task,
    )
    if spec.eval.save_batches:
        progress.eval_batches.append({"epoch": epoch, **result.batches})
    progress.last_eval = result
    score, best = result.value(task.primary), progress.best
    lower = task.primary in LOWER_IS_BETTER
    if not best or (score < best["score"] if lower else score > best["score"]):
        progress.best = {"score": score, "epoch": epoch, "metrics": result.metrics()}
    return result.metrics()
