"""Optimizer and learning-rate schedule from the ``optim`` and ``schedule`` sections.

Options for airbench (Jordan 2024, ``legacy/airbench94.py`` of github.com/KellerJordan/cifar10-airbench), all off
by default: ``optim.norm_bias_lr_scale`` (``hyp['opt']['bias_scaler']``: the biases of normalisation layers get the
learning rate times the scale and the weight decay divided by it, so their decay per step is unchanged),
``optim.lookahead_*`` (:class:`~scrutiny.trials.lookahead.Lookahead`) and the ``piecewise_linear`` schedule
(``get_lr``). A group's learning-rate multiplier is its ``"lr_scale"`` entry, which :func:`set_lr` honours.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from scrutiny.spec.schema import OptimSection, ScheduleSection
from scrutiny.trials.lookahead import Lookahead

#: Module types whose ``bias`` is a normalisation bias for ``optim.norm_bias_lr_scale``.
NORM_TYPES: tuple[type[nn.Module], ...] = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def param_groups(
    model: nn.Module, weight_decay: float, wd_on: str, norm_bias_lr_scale: float = 1.0
) -> list[dict[str, Any]]:
    """One group, or two where ``wd_on == "weights_only"``: biases and normalisation parameters (ndim < 2) get none.

    With ``norm_bias_lr_scale != 1`` the biases of normalisation layers (:data:`NORM_TYPES`) leave their group for a
    group of their own with ``"lr_scale": norm_bias_lr_scale`` and the weight decay divided by it.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    groups: list[dict[str, Any]]
    if wd_on == "all" or weight_decay == 0.0:
        groups = [{"params": params, "weight_decay": weight_decay}]
    else:
        decay = [p for p in params if p.ndim >= 2]
        no_decay = [p for p in params if p.ndim < 2]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if norm_bias_lr_scale == 1.0:
        return groups
    norm_biases = {
        id(m.bias) for m in model.modules() if isinstance(m, NORM_TYPES) and isinstance(m.bias, torch.Tensor)
    }
    out: list[dict[str, Any]] = []
    for group in groups:
        scaled = [p for p in group["params"] if id(p) in norm_biases]
        out.append({**group, "params": [p for p in group["params"] if id(p) not in norm_biases]})
        if scaled:
            # airbench main: dict(params=norm_biases, lr=lr_biases, weight_decay=wd/lr_biases)
            decay_scaled = group["weight_decay"] / norm_bias_lr_scale
            out.append({"params": scaled, "weight_decay": decay_scaled, "lr_scale": norm_bias_lr_scale})
    return out


def build_optimizer(model: nn.Module, section: OptimSection, total_steps: int | None = None) -> torch.optim.Optimizer:
    """The optimiser of ``section`` over the trainable parameters of ``model``.

    Args:
        model: The built model (its ``requires_grad`` flags choose the parameters).
        section: The ``optim`` section.
        total_steps: Training steps of the trial, which lookahead's decay schedule needs. A trial always passes
            it; without it (the step timer of :mod:`scrutiny.workflows.estimate`) lookahead is left out.

    Returns:
        A torch optimiser, or a :class:`~scrutiny.trials.lookahead.Lookahead` around one when
        ``optim.lookahead_every > 0`` and ``total_steps`` is given; the loop calls its ``finish()`` after the last
        training step.
    """
    groups = param_groups(model, section.weight_decay, section.wd_on, section.norm_bias_lr_scale)
    for group in groups:
        if "lr_scale" in group:
            group["lr"] = section.lr * group["lr_scale"]
    optimizer: torch.optim.Optimizer
    if section.name == "sgd":
        optimizer = torch.optim.SGD(groups, lr=section.lr, momentum=section.momentum, nesterov=section.nesterov)
    else:
        cls = torch.optim.Adam if section.name == "adam" else torch.optim.AdamW
        optimizer = cls(groups, lr=section.lr, betas=section.betas, eps=section.eps)
    if section.lookahead_every == 0 or total_steps is None:
        return optimizer
    return Lookahead(
        optimizer,
        model,
        every=section.lookahead_every,
        decay=section.lookahead_decay,
        power=section.lookahead_power,
        total_steps=total_steps,
    )


def piecewise_factor(knots: tuple[tuple[float, float], ...], x: float, end: float, whole: bool = False) -> float:
    """The factor at ``x`` of the line through ``knots`` placed at ``fraction · end``; constant past the last knot.

    Args:
        knots: ``(fraction, factor)`` pairs, fractions increasing from 0 to 1.
        x: Position: a step, or a fractional epoch.
        end: Length of training in the unit of ``x``.
        whole: Knots fall on whole steps, ``floor(fraction · end)`` (airbench's ``int(total_train_steps * 0.23)``).
    """
    xs = [math.floor(f * end) if whole else f * end for f, _ in knots]
    ys = [y for _, y in knots]
    if x >= xs[-1]:
        return ys[-1]
    for x0, x1, y0, y1 in zip(xs[:-1], xs[1:], ys[:-1], ys[1:], strict=True):
        if x0 <= x < x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return ys[0]


def lr_factor(
    section: ScheduleSection,
    t: float,
    epochs: float,
    steps_per_epoch: int | None = None,
    total_steps: int | None = None,
) -> float:
    """Multiplier of the base learning rate at fractional epoch ``t`` (0 <= t < epochs; ``epochs`` may be fractional).

    ``piecewise_linear`` is a function of the fraction of training: with ``steps_per_epoch`` and ``total_steps``
    it is read in whole steps (step ``round(t · steps_per_epoch)`` of ``total_steps``, knots on whole steps, as
    airbench's ``get_lr``); without them in fractional epochs over ``epochs``.
    """
    if section.warmup_epochs > 0 and t < section.warmup_epochs:
        return t / section.warmup_epochs
    if section.name == "constant":
        return 1.0
    if section.name == "step":
        return section.gamma ** math.floor(t / section.step_size)
    if section.name == "multistep":
        return section.gamma ** sum(1 for m in section.milestones if t >= m)
    if section.name == "piecewise_linear":
        if steps_per_epoch and total_steps:
            return piecewise_factor(section.knots, round(t * steps_per_epoch), total_steps, whole=True)
        return piecewise_factor(section.knots, t, epochs)
    span = max(epochs - section.warmup_epochs, 1e-12)  # cosine
    progress = min(max((t - section.warmup_epochs) / span, 0.0), 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, base_lr: float, min_lr: float, factor: float) -> float:
    """Set every group's rate to ``(min_lr + (base_lr - min_lr) · factor)`` times its ``"lr_scale"`` (default 1)."""
    lr = min_lr + (base_lr - min_lr) * factor
    for group in optimizer.param_groups:
        group["lr"] = lr * group["lr_scale"] if "lr_scale" in group else lr
    return lr


class LrSchedule:
    """The learning rate of a trial as a function of fractional epoch, set on the optimiser when it changes.

    Args:
        optimizer: The optimiser whose groups get the rate.
        optim: The ``optim`` section (its ``lr`` is the base rate).
        schedule: The ``schedule`` section.
        epochs: Epochs of the trial (fractional where ``train.max_steps`` ends the last one early).
        steps_per_epoch: Training steps of a full epoch; with ``total_steps``, ``piecewise_linear`` is read in steps.
        total_steps: Training steps of the trial (``train.max_steps`` where it ends training sooner).

    Attributes:
        lr: The rate set last (``None`` before the first step), before any group's ``lr_scale``.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        optim: OptimSection,
        schedule: ScheduleSection,
        epochs: float,
        *,
        steps_per_epoch: int | None = None,
        total_steps: int | None = None,
    ) -> None:
        self.optimizer, self.base_lr, self.schedule, self.epochs = optimizer, optim.lr, schedule, epochs
        self.steps_per_epoch, self.total_steps = steps_per_epoch, total_steps
        self.lr: float | None = None
        self._factor: float | None = None

    def at(self, t: float) -> None:
        """Set the rate for fractional epoch ``t`` (called before every training step)."""
        factor = lr_factor(self.schedule, t, self.epochs, self.steps_per_epoch, self.total_steps)
        if factor != self._factor:
            self.lr, self._factor = set_lr(self.optimizer, self.base_lr, self.schedule.min_lr, factor), factor
