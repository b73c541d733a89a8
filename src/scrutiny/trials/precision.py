"""Numeric precision of a trial, in one place: what ``train.precision`` (fp32, bf16 or fp16) changes.

Two things change. The forward pass and the loss run under ``torch.autocast`` in the precision's dtype (not at all
for fp32); the FLOP count uses the same dtype, and so does evaluation where ``eval.precision: train`` asks for it
(by default evaluation runs in fp32: :func:`eval_dtype`). For fp16 only, a ``GradScaler`` scales the loss before
the backward pass, unscales the gradients before clipping, and skips a step whose gradients are not finite (then
lowers its scale): :meth:`Precision.step` says which steps it skipped, so that an overflow the scaler handles is
not taken for a diverged trial (the rule is in :func:`scrutiny.trials._epoch.train_epoch`).
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
    ) -> torch.Tensor | bool:
        """Backward pass, gradient clipping (by global norm, where ``grad_clip`` is set) and optimiser step.

        Returns:
            Whether the optimiser step was skipped: ``False`` without a scaler (fp32, bf16: every step is taken);
            with the fp16 scaler, a boolean tensor on the trial's device, true where the scaler found an infinite
            or NaN gradient after unscaling and so did not step (a tensor, so that no step waits for the device).
        """
        if self.scaler is None:
            loss.backward()
            _clip(model, grad_clip)
            optimizer.step()
            return False
        self.scaler.scale(loss).backward()  # fp16: scale the loss, unscale before clipping, skip inf steps
        self.scaler.unscale_(optimizer)
        # what scaler.step reads to decide: any non-finite gradient on any device (set by unscale_ above)
        found_inf = sum(self.scaler._found_inf_per_device(optimizer).values())
        _clip(model, grad_clip)
        self.scaler.step(optimizer)
        self.scaler.update()
        return torch.as_tensor(found_inf).bool()


def eval_dtype(precision: Precision, eval_precision: str) -> torch.dtype | None:
    """The autocast dtype of evaluation: ``None`` (exact fp32) unless ``eval.precision`` is ``train``."""
    return precision.dtype if eval_precision == "train" else None


def dtype_name(dtype: torch.dtype | None) -> str:
    """``float32`` for no autocast, else the autocast dtype's name (``bfloat16``, ``float16``): what is recorded."""
    return "float32" if dtype is None else str(dtype).removeprefix("torch.")


def _clip(model: nn.Module, max_norm: float | None) -> None:
    if max_norm is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
