"""Exact evaluation: every example counted once, in eval mode, without gradients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from scrutiny.trials.batches import eval_batches


class EvaluationCountError(AssertionError):
    """An evaluation that did not see every example exactly once."""


@dataclass
class EvalResult:
    """Counts and sums of one evaluation; accuracy is ``correct / n`` with ``n`` equal to the split's size.

    Attributes:
        outputs: Per-example arrays when asked for: ``pred`` ``(n,)``, ``target`` ``(n,)``, ``loss`` ``(n,)``.
    """

    split: str
    n: int
    correct: int
    loss_sum: float
    protocol: dict[str, Any]
    outputs: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def acc(self) -> float:
        return self.correct / self.n

    @property
    def loss(self) -> float:
        return self.loss_sum / self.n

    def metrics(self) -> dict[str, float | int]:
        s = self.split
        return {f"{s}_acc": self.acc, f"{s}_loss": self.loss, f"{s}_correct": self.correct, f"{s}_n": self.n}


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
) -> EvalResult:
    """Evaluate ``model`` on every example of ``ds`` under ``protocol``.

    The model is put in eval mode and its previous mode restored. Loss is the summed cross-entropy of the
    protocol's scores (no label smoothing). Raises :class:`EvaluationCountError` unless exactly ``len(ds)``
    examples were evaluated.
    """
    was_training = model.training
    model.eval()
    n, correct, loss_sum = (
        0,
        torch.zeros((), dtype=torch.int64, device=device),
        torch.zeros((), dtype=torch.float64, device=device),
    )
    preds, targets, losses = [], [], []
    try:
        for x, y in eval_batches(ds, batch_size, num_workers=num_workers):
            x, y = x.to(device, non_blocking=True), torch.as_tensor(y).to(device, non_blocking=True)
            if channels_last and x.ndim == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                scores = protocol.scores(model, x)
            scores = scores.float()
            per_example = F.cross_entropy(scores, y, reduction="none")
            pred = scores.argmax(dim=1)
            correct += (pred == y).sum()
            loss_sum += per_example.sum(dtype=torch.float64)
            n += len(y)
            if keep_outputs:
                preds.append(pred.cpu())
                targets.append(y.cpu())
                losses.append(per_example.cpu())
    finally:
        model.train(was_training)
    if n != len(ds):  # type: ignore[arg-type]
        raise EvaluationCountError(f"evaluated {n} examples of split '{split}', which has {len(ds)}")  # type: ignore
    outputs = {}
    if keep_outputs:
        outputs = {
            "pred": torch.cat(preds).numpy(),
            "target": torch.cat(targets).numpy(),
            "loss": torch.cat(losses).numpy(),
        }
    protocol_record = {"name": protocol.name, "params": protocol.params()}
    return EvalResult(split, n, int(correct), float(loss_sum), protocol_record, outputs)
