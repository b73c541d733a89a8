"""``plain``: one forward pass per example, on the split's evaluation view as the dataset gives it."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from scrutiny.registry import PROTOCOLS


class Plain:
    name = "plain"

    def params(self) -> dict[str, Any]:
        return {}

    def scores(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return model(x)


@PROTOCOLS.register("plain")
def plain() -> Plain:
    """One forward pass per example, no test-time augmentation."""
    return Plain()
