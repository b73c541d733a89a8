"""Put a network in the mode of an SPP measurement and restore it afterwards, cheaply for networks of 1000s of modules.

``batch_stats`` is eval mode, except that BatchNorm normalises with the batch statistics. For the torch BatchNorm
classes (whose ``forward`` is ``_BatchNorm.forward``) this is done without touching their running statistics: in eval
mode with ``running_mean`` and ``running_var`` set aside (``None``), ``_BatchNorm.forward`` normalises with the batch
statistics and updates nothing; they are put back afterwards (the same tensors, no copy). Other BatchNorm subclasses
are put in train mode and their buffers are copied and restored.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch
from torch import nn

Mode = Literal["batch_stats", "eval", "train"]
MODES = ("batch_stats", "eval", "train")

_BN_FORWARD = nn.modules.batchnorm._BatchNorm.forward
_STATS = ("running_mean", "running_var")


def _set_training(module: nn.Module, value: bool) -> None:
    # ``Module.__setattr__`` costs microseconds per call; ``training`` is a plain attribute, so set it directly.
    object.__setattr__(module, "training", value)


@contextmanager
def measurement_mode(model: nn.Module, mode: Mode) -> Iterator[None]:
    """Within the block, ``model`` runs in ``mode``; afterwards every module's ``training`` flag and every buffer is
    as before, also on an exception.

    Args:
        model: The network.
        mode: ``"batch_stats"``, ``"eval"`` or ``"train"``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be 'batch_stats', 'eval' or 'train', got '{mode}'")
    modules = list(model.modules())
    training = [m.training for m in modules]
    set_aside: list[tuple[nn.Module, dict[str, torch.Tensor | None]]] = []
    copied: list[tuple[torch.Tensor, torch.Tensor]] = []
    try:
        if mode == "train":
            copied = [(b, b.detach().clone()) for b in model.buffers()]
        for m in modules:
            train = mode == "train"
            if mode == "batch_stats" and isinstance(m, nn.modules.batchnorm._BatchNorm):
                if type(m).forward is _BN_FORWARD:
                    set_aside.append((m, {k: m._buffers.get(k) for k in _STATS}))
                    for k in _STATS:
                        m._buffers[k] = None
                else:
                    train = True
                    copied += [(b, b.detach().clone()) for b in m.buffers(recurse=False)]
            if m.training != train:
                _set_training(m, train)
        yield
    finally:
        for m, was in zip(modules, training, strict=True):
            if m.training != was:
                _set_training(m, was)
        for m, stats in set_aside:
            m._buffers.update(stats)
        if copied:
            with torch.no_grad():
                for b, copy in copied:
                    b.copy_(copy)
