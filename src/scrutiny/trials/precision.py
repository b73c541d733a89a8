"""Numeric precision of a trial, in one place: what ``train.precision`` (fp32, bf16 or fp16) changes.

Two things change. The forward pass and the loss run under ``torch.autocast`` in the precision's dtype (not at all
for fp32); evaluation and the FLOP count use the same dtype. For fp16 only, a ``GradScaler`` scales the loss before
the backward pass, unscales the gradients before clipping, and skips a step whose gradients are not finite.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
from torch import nn

DTYPES: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Precision:
    """Autocast and loss scaling for one trial.

    Attributes:
        dtype: The autocast dtype, ``None`` for fp32.
        device_type: ``cpu``, ``cuda``, ... (what ``torch.autocast`` and ``GradScaler`` take).
        scaler: The fp16 gradient scaler, ``None`` otherwise.
    """

    dtype: torch.dtype | None
    device_type: str
    scaler: torch.amp.GradScaler | None = None

    @classmethod
    def of(cls, precision: str, device: torch.device) -> Precision:
        """The precision named by ``train.precision`` on ``device``."""
        scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
        return cls(DTYPES[precision], device.type, scaler)

    def autocast(self) -> AbstractContextManager:
        """A fresh context for one forward pass and its loss."""
        return torch.autocast(self.device_type, dtype=self.dtype) if self.dtype is not None else nullcontext()

    def step(
        self, loss: torch.Tensor, model: nn.Module, optimizer: torch.optim.Optimizer, grad_clip: float | None
    ) -> None:
        """Backward pass, gradient clipping (by global norm, where ``grad_clip`` is set) and optimiser step."""
        if self.scaler is None:
            loss.backward()
            _clip(model, grad_clip)
            optimizer.step()
            return
        self.scaler.scale(loss).backward()  # fp16: scale the loss, unscale before clipping, skip inf steps
        self.scaler.unscale_(optimizer)
        _clip(model, grad_clip)
        self.scaler.step(optimizer)
        self.scaler.update()


def _clip(model: nn.Module, max_norm: float | None) -> None:
    if max_norm is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
