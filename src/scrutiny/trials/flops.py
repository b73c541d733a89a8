"""FLOPs of one training step, counted once per trial with ``torch.utils.flop_counter``.

The count covers the forward and backward passes of one training batch (matrix multiplications and convolutions,
as ``FlopCounterMode`` counts them; element-wise work and the optimizer update are not counted). It is taken
after training, outside the timed epochs, on a model whose checkpoint is already written, and leaves the
model exactly as it found it. It is a cost measure
for comparing setups, not a hardware utilisation figure.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import torch
from torch import nn


def train_step_flops(
    model: nn.Module,
    batch: tuple[torch.Tensor, torch.Tensor],
    device: torch.device,
    autocast: Callable[[], AbstractContextManager],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> int | None:
    """FLOPs of forward + loss + backward on ``batch`` in train mode; ``None`` where counting fails.

    The model comes back as it was: its buffers (BatchNorm running statistics move in a train-mode forward), its
    train/eval mode and the CPU random state are restored, so probes that run afterwards see the checkpointed model.
    """
    from torch.utils.flop_counter import FlopCounterMode

    x, y = batch
    x, y = x.to(device), torch.as_tensor(y).to(device)
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    was_training = model.training
    rng = torch.get_rng_state()
    model.train()
    try:
        with FlopCounterMode(display=False) as counter:
            with autocast():
                loss = loss_fn(model(x), y)
            loss.backward()
    except Exception:  # counting is a nice-to-have; it never fails a trial
        return None
    finally:
        model.zero_grad(set_to_none=True)
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(buffers[name])
        model.train(was_training)
        torch.set_rng_state(rng)
    return int(counter.get_total_flops())
