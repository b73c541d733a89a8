"""Exact evaluation: every example counted once, in eval mode, without gradients, in fp32 unless asked otherwise."""

from __future__ import annotations

from collections.abc import Sized
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from scrutiny.trials.batches import eval_batches
from scrutiny.trials.precision import dtype_name
from scrutiny.trials.tasks import Task, make_task


class EvaluationCountError(AssertionError):
    """An evaluation that did not see every example exactly once."""


@dataclass
class EvalResult:
    """Sums of one evaluation over all ``n`` examples of a split; each metric is its sum over ``n``.

    Attributes:
        sums: Metric name -> sum over the split's examples (``acc`` counts the examples got right, ``loss`` sums
            the per-example losses).
        outputs: Per-example arrays when asked for: ``pred``, ``target`` and ``loss``, first axis ``n``.
        batches: Per-batch sums when asked for: ``n`` (batch sizes) and each metric, shape ``(n_batches,)``.
        dtype: The dtype the model ran in: ``float32`` (no autocast), else the autocast dtype (``bfloat16``,
            ``float16``). The sums themselves are always accumulated in float64 from float32 scores.
    """

    split: str
    n: int
    sums: dict[str, float]
    protocol: dict[str, Any]
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    batches: dict[str, np.ndarray] = field(default_factory=dict)
    dtype: str = "float32"

    @property
    def correct(self) -> int:
        return int(round(self.sums["acc"]))

    @property
    def acc(self) -> float:
        return self.sums["acc"] / self.n

    @property
    def loss(self) -> float:
        return self.sums["loss"] / self.n

    def value(self, metric: str) -> float:
        return self.sums[metric] / self.n

    def metrics(self) -> dict[str, float | int]:
        s = self.split
        out: dict[str, float | int] = {f"{s}_{k}": v / self.n for k, v in self.sums.items()}
        out[f"{s}_correct"] = self.correct
        out[f"{s}_n"] = self.n
        return out


@torch.no_grad()
def evaluate(
    model: nn.Module,
    ds: Dataset,
    split: str,
    protocol,
    *,
    batch_size: int,
    device: torch.device,
    num_workers: int = 0,
    channels_last: bool = False,
    autocast_dtype: torch.dtype | None = None,
    keep_outputs: bool = False,
    keep_batches: bool = False,
    task: Task | None = None,
) -> EvalResult:
    """Evaluate ``model`` on every example of ``ds`` under ``protocol``.

    The model is put in eval mode and its previous mode restored. It runs in fp32 unless ``autocast_dtype`` is given
    (then under ``torch.autocast`` in that dtype; the result's ``dtype`` says which). The loss is the task's
    per-example loss (no label smoothing). Raises :class:`EvaluationCountError` unless exactly ``len(ds)`` examples
    were evaluated.
    """
    task = task or make_task("classification")
    was_training = model.training
    model.eval()
    n = 0
    sums: dict[str, torch.Tensor] = {}
    preds, targets, losses = [], [], []
    per_batch: dict[str, list[torch.Tensor]] = {}
    try:
        for x, y in eval_batches(ds, batch_size, num_workers=num_workers):
            x, y = x.to(device, non_blocking=True), torch.as_tensor(y).to(device, non_blocking=True)
            if channels_last and x.ndim == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                scores = protocol.scores(model, x)
            scores = scores.float()
            per_example = task.per_example_loss(scores, y)
            batch = {"loss": per_example.double(), **task.metrics(scores, y)}
            for key, values in batch.items():
                total = values.sum(dtype=torch.float64)
                sums[key] = sums.get(key, 0) + total
                if keep_batches:
                    per_batch.setdefault(key, []).append(total)
            n += len(y)
            if keep_batches:
                per_batch.setdefault("n", []).append(torch.tensor(len(y), dtype=torch.float64))
            if keep_outputs:
                preds.append(task.prediction(scores).cpu())
                targets.append(y.cpu())
                losses.append(per_example.cpu())
    finally:
        model.train(was_training)
    if not isinstance(ds, Sized):
        raise TypeError(f"evaluate: split '{split}' ({type(ds).__name__}) has no length to check the count against")
    if n != len(ds):
        raise EvaluationCountError(f"evaluated {n} examples of split '{split}', which has {len(ds)}")
    outputs = {}
    if keep_outputs:
        outputs = {
            "pred": torch.cat(preds).numpy(),
            "target": torch.cat(targets).numpy(),
            "loss": torch.cat(losses).numpy(),
        }
    protocol_record = {"name": protocol.name, "params": protocol.params()}
    batches = {k: torch.stack(v).cpu().numpy() for k, v in per_batch.items()}
    if "n" in batches:
        batches["n"] = batches["n"].astype(np.int64)
    sums_out = {k: float(v) for k, v in sums.items()}
    return EvalResult(split, n, sums_out, protocol_record, outputs, batches, dtype_name(autocast_dtype))
