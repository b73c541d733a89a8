"""Optimizer and learning-rate schedule from the ``optim`` and ``schedule`` sections."""

from __future__ import annotations

import math

import torch
from torch import nn

from scrutiny.spec.schema import OptimSection, ScheduleSection


def param_groups(model: nn.Module, weight_decay: float, wd_on: str) -> list[dict]:
    """One group, or two where ``wd_on == "weights_only"``: biases and normalisation parameters (ndim < 2) get none."""
    params = [p for p in model.parameters() if p.requires_grad]
    if wd_on == "all" or weight_decay == 0.0:
        return [{"params": params, "weight_decay": weight_decay}]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: nn.Module, section: OptimSection) -> torch.optim.Optimizer:
    groups = param_groups(model, section.weight_decay, section.wd_on)
    if section.name == "sgd":
        return torch.optim.SGD(groups, lr=section.lr, momentum=section.momentum, nesterov=section.nesterov)
    cls = torch.optim.Adam if section.name == "adam" else torch.optim.AdamW
    return cls(groups, lr=section.lr, betas=section.betas, eps=section.eps)


def lr_factor(section: ScheduleSection, t: float, epochs: int) -> float:
    """Multiplier of the base learning rate at fractional epoch ``t`` (0 <= t < epochs)."""
    if section.warmup_epochs > 0 and t < section.warmup_epochs:
        return t / section.warmup_epochs
    if section.name == "constant":
        return 1.0
    if section.name == "step":
        return section.gamma ** math.floor(t / section.step_size)
    if section.name == "multistep":
        return section.gamma ** sum(1 for m in section.milestones if t >= m)
    span = max(epochs - section.warmup_epochs, 1e-12)  # cosine
    progress = min(max((t - section.warmup_epochs) / span, 0.0), 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, base_lr: float, min_lr: float, factor: float) -> float:
    lr = min_lr + (base_lr - min_lr) * factor
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr


class LrSchedule:
    """The learning rate of a trial as a function of fractional epoch, set on the optimiser when it changes.

    Args:
        optimizer: The optimiser whose groups get the rate.
        optim: The ``optim`` section (its ``lr`` is the base rate).
        schedule: The ``schedule`` section.
        epochs: Epochs of the trial.

    Attributes:
        lr: The rate set last (``None`` before the first step).
    """

    def __init__(
        self, optimizer: torch.optim.Optimizer, optim: OptimSection, schedule: ScheduleSection, epochs: int
    ) -> None:
        self.optimizer, self.base_lr, self.schedule, self.epochs = optimizer, optim.lr, schedule, epochs
        self.lr: float | None = None
        self._factor: float | None = None

    def at(self, t: float) -> None:
        """Set the rate for fractional epoch ``t`` (called before every training step)."""
        factor = lr_factor(self.schedule, t, self.epochs)
        if factor != self._factor:
            self.lr, self._factor = set_lr(self.optimizer, self.base_lr, self.schedule.min_lr, factor), factor
