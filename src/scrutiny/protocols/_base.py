"""The evaluation-protocol contract.

A protocol turns a batch of evaluation inputs into one score vector per example. It is data: its ``name`` and
``params()`` are stored next to every number it produced, and it draws no randomness.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn


class EvalProtocol(Protocol):
    """Scores of a batch under a protocol.

    Attributes:
        name: Registry name of the protocol.
    """

    name: str

    def params(self) -> dict[str, Any]:
        """The resolved parameters, JSON-serialisable."""
        ...

    def scores(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Scores ``(N, K)`` for inputs ``x`` ``(N, C, H, W)``; called under ``torch.no_grad()`` in eval mode.

        Scores are logits, or log-probabilities where the protocol averages probabilities; either way
        ``argmax`` is the prediction and ``cross_entropy`` on them is the protocol's loss.
        """
        ...
