"""One epoch of a trial: the training pass and the evaluation, over what :func:`scrutiny.trials.loop._setup` built.

:class:`Run` holds everything built from the spec before the first epoch; :class:`Progress` what the epochs leave
for the final record and the probes. :func:`train_epoch` and :func:`evaluate_epoch` are the two steps that
:func:`scrutiny.trials.loop._fit` calls every epoch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from scrutiny.data import DataBundle
from scrutiny.data.augment import AugmentedDataset
from scrutiny.data.device_data import DeviceSplit
from scrutiny.data.samplers import sampler_order
from scrutiny.spec import Spec
from scrutiny.store import TrialWriter
from scrutiny.trials.batches import batch_sizes, train_batches, training_length
from scrutiny.trials.evaluate import EvalResult, evaluate
from scrutiny.trials.optim import LrSchedule
from scrutiny.trials.precision import Precision, eval_dtype
from scrutiny.trials.tasks import LOWER_IS_BETTER, Task


class Diverged(Exception):
    """The training loss became NaN or infinite."""

    def __init__(self, epoch: int, step: int, value: float, reason: str | None = None) -> None:
        super().__init__(reason or f"non-finite training loss {value} at epoch {epoch}, step {step}")
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
    loading: dict[str, Any] = field(default_factory=dict)  # where the data are held and how augmented (data.json)

    @property
    def epochs(self) -> int:
        """Epochs that train: ``train.epochs``, or fewer where ``train.max_steps`` ends the run sooner."""
        return training_length(self.spec.train.epochs, self.n_steps, self.spec.train.max_steps)[0]

    @property
    def total_steps(self) -> int:
        """Training steps in all."""
        return training_length(self.spec.train.epochs, self.n_steps, self.spec.train.max_steps)[1]

    def steps_in(self, epoch: int) -> int:
        """Training steps of ``epoch`` (from 1)."""
        return max(0, min(self.n_steps, self.total_steps - (epoch - 1) * self.n_steps))


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

    With fp16, a step whose gradients overflow is skipped by the loss scaler (which then lowers its scale): that is
    not divergence. The row counts such steps (``skipped_steps``, fp16 only), and its averages are over the steps
    taken. With ``train.compile``, the first step of epoch 1, which compiles the model, is timed apart
    (``compile_time_s``: its wall time, the device synchronised before and after, so compilation plus that one
    step; recompilation for another batch shape later on is not in it).

    Raises:
        Diverged: A training loss was NaN or infinite on a step that was taken (not skipped by the scaler; with
            fp32 and bf16 every step is taken), or the scaler skipped every step of the epoch. Checked once, after
            the epoch; its row is written first.
    """
    spec, data, device = run.spec, run.spec.data, run.device
    if isinstance(run.train_ds, AugmentedDataset | DeviceSplit):
        run.train_ds.set_epoch(epoch)
    model_hook = getattr(run.model, "set_epoch", None)  # a model that changes with the epoch (airbench's bias)
    if callable(model_hook):
        model_hook(epoch)
    run.model.train()
    n_steps = run.steps_in(epoch)  # fewer than run.n_steps in a last epoch cut short by train.max_steps
    step_loss = torch.zeros(n_steps, device=device)  # raw per-step values, checked for NaN after the epoch
    step_correct = torch.zeros(n_steps, dtype=torch.float64, device=device)
    skips = torch.zeros(n_steps, dtype=torch.bool, device=device)  # the steps that the fp16 loss scaler skipped
    timing: dict[str, float] = {}
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
        if step == n_steps:
            break
        run.schedule.at(epoch - 1 + step / run.n_steps)  # a function of fractional epoch, applied at every step
        x, y = x.to(device, non_blocking=True), torch.as_tensor(y).to(device, non_blocking=True)
        if spec.train.channels_last and x.ndim == 4:  # images only: coordinates (N, 2) have no channels to move
            x = x.contiguous(memory_format=torch.channels_last)
        first_compiled = spec.train.compile and epoch == 1 and step == 0  # compiles the model: timed apart
        if first_compiled:
            start = _synced_time(device)
        with run.precision.autocast():
            logits = run.forward(x)
            loss = run.task.loss(logits, y, spec.train.label_smoothing)
        run.optimizer.zero_grad(set_to_none=True)
        skipped_step = run.precision.step(loss, run.model, run.optimizer, spec.train.grad_clip)
        if run.precision.scaler is not None:  # only fp16 skips; no write (a device kernel) per step otherwise
            skips[step] = skipped_step
        if first_compiled:
            timing["compile_time_s"] = _synced_time(device) - start
        step_loss[step] = loss.detach()
        step_correct[step] = run.task.metrics(logits, y)["acc"].sum()
        seen += len(y)
    losses, skipped = step_loss.cpu(), skips.cpu()
    n_skipped = int(skipped.sum())
    scaler_row = {"skipped_steps": n_skipped} if run.precision.scaler is not None else {}
    bad = (~torch.isfinite(losses) & ~skipped).nonzero()
    every_step_skipped = n_skipped > 0 and n_skipped == len(losses)
    if len(bad) or every_step_skipped:
        step = int(bad[0]) if len(bad) else len(losses) - 1
        writer.append_metrics(
            {"epoch": epoch, "lr": run.schedule.lr, "train_loss_epoch_avg": None, "diverged_step": step, **scaler_row}
        )
        why = None if len(bad) else f"the fp16 loss scaler skipped every step of epoch {epoch} ({n_skipped})"
        raise Diverged(epoch, step, float(losses[step]), why)
    weights, n_taken = batch_sizes(seen, data.batch_size, n_steps), seen
    correct = step_correct.cpu()
    if n_skipped:  # the averages are over the steps taken: a skipped step's loss may be infinite
        weights, losses, correct = weights * ~skipped, losses.masked_fill(skipped, 0.0), correct * ~skipped
        n_taken = int(weights.sum())
    return {
        "epoch": epoch,
        "lr": run.schedule.lr,
        "train_loss_epoch_avg": float(losses.double().mul(weights).sum() / n_taken),
        "train_acc_epoch_avg": float(correct.sum()) / n_taken,
        "train_n": seen,
        **scaler_row,
        **timing,
    }


def _synced_time(device: torch.device) -> float:
    """``time.perf_counter()`` once the device has finished its queued work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def evaluate_epoch(run: Run, progress: Progress, epoch: int) -> dict[str, float | int]:
    """Evaluate on ``eval.split`` under the spec's protocol, keep the best epoch so far, return the metrics.

    The evaluation runs in fp32 (no autocast) unless ``eval.precision: train`` asks for the training precision's
    autocast; ``progress.last_eval.dtype`` records which (the final record's ``eval_dtype``).
    """
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
        autocast_dtype=eval_dtype(run.precision, spec.eval.precision),  # fp32 unless eval.precision: train
        keep_outputs=spec.eval.save_outputs
        and epoch == run.epochs,  # the last epoch, also where train.max_steps ends early
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
