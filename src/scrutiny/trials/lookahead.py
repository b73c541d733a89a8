"""Lookahead as airbench does it: every ``k`` steps, an EMA of the model's state takes a step toward the model and
is copied back into it; at the end of training the EMA is copied into the model once more.

Source: Jordan 2024 (arXiv 2404.00498), code ``legacy/airbench94.py`` of github.com/KellerJordan/cifar10-airbench:
``LookaheadState.update`` (``ema.lerp_(net, 1 - decay)`` then ``net.copy_(ema)`` for every floating-point entry of
``net.state_dict()``, BatchNorm running statistics included), ``main``: ``if current_steps % 5 == 0`` and
``alpha_schedule = 0.95**5 * (torch.arange(total_train_steps + 1) / total_train_steps)**3`` (the decay after step
``s`` is ``alpha_schedule[s]``), and the last step's ``update(model, decay=1.0)`` (the EMA is copied into the model
unchanged).

One deliberate difference: airbench snapshots the EMA when it builds the optimiser, before the whitening layer is
initialised from data; here the snapshot is taken at the first step, after that initialisation. The EMA's weight
on the snapshot at the first update (step 5 of 476) is ``0.95**5 · (5/476)**3 ≈ 9e-7``, so the two agree to that
order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch
from torch import nn


class Lookahead(torch.optim.Optimizer):
    """An optimiser whose every ``every``-th step is followed by airbench's lookahead update of the model.

    It shares ``param_groups`` and ``state`` with the wrapped optimiser (a learning-rate schedule, gradient scaling
    and ``state_dict`` see the wrapped one), and counts the steps that the wrapped optimiser took.

    After step ``s`` (from 1) with ``s % every == 0``, with ``d = decay · min(s / total_steps, 1) ** power``, every
    floating-point entry ``v`` of ``model.state_dict()`` and its EMA ``e`` become ``e <- d·e + (1 - d)·v`` and
    ``v <- e``. :meth:`finish` copies the EMA into the model (``d = 1``).

    Args:
        optimizer: The wrapped optimiser.
        model: The model whose state is averaged (parameters and floating-point buffers).
        every: ``k``, steps between updates (airbench: 5).
        decay: ``d`` at the last step (airbench: 0.95**5).
        power: Exponent of the step fraction (airbench: 3).
        total_steps: Training steps of the trial.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        model: nn.Module,
        *,
        every: int,
        decay: float,
        power: float,
        total_steps: int,
    ) -> None:
        if every < 1 or total_steps < 1:
            raise ValueError(f"lookahead: every and total_steps must be positive, got {every}, {total_steps}")
        # Not Optimizer.__init__: the wrapped optimiser owns the parameter groups and the state.
        self.optimizer, self.model = optimizer, model
        self.defaults = optimizer.defaults
        self.param_groups = optimizer.param_groups
        self.state = optimizer.state
        for hooks in (
            "_optimizer_step_pre_hooks",
            "_optimizer_step_post_hooks",
            "_optimizer_state_dict_pre_hooks",
            "_optimizer_state_dict_post_hooks",
            "_optimizer_load_state_dict_pre_hooks",
            "_optimizer_load_state_dict_post_hooks",
        ):
            setattr(self, hooks, OrderedDict())
        self.every, self.decay, self.power, self.total_steps = int(every), float(decay), float(power), int(total_steps)
        self.steps = 0
        self.ema: dict[str, torch.Tensor] | None = None

    def decay_at(self, step: int) -> float:
        """``d`` after step ``step``: ``decay · min(step / total_steps, 1) ** power``."""
        return self.decay * min(step / self.total_steps, 1.0) ** self.power

    def step(self, closure: Callable[[], float] | None = None) -> Any:
        """The wrapped optimiser's step (the EMA is first snapshot at the first one), then the lookahead update."""
        if self.ema is None:
            self.ema = {k: v.detach().clone() for k, v in self._floats().items()}
        loss = self.optimizer.step(closure) if closure is not None else self.optimizer.step()
        self.steps += 1
        if self.steps % self.every == 0:
            self._update(self.decay_at(self.steps))
        return loss

    @torch.no_grad()
    def finish(self) -> None:
        """Copy the EMA into the model (airbench's ``update(model, decay=1.0)`` after the last step)."""
        if self.ema is not None:
            self._update(1.0)

    def _floats(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.model.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def _update(self, decay: float) -> None:
        assert self.ema is not None
        for key, value in self._floats().items():
            ema = self.ema[key]
            ema.lerp_(value, 1.0 - decay)
            value.copy_(ema)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        """The wrapped optimiser's state dict (the EMA is not included: it is copied into the model every k steps)."""
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state_dict)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        self.optimizer.add_param_group(param_group)

    def __repr__(self) -> str:
        return f"Lookahead(every={self.every}, decay={self.decay}, power={self.power}, {self.optimizer!r})"
