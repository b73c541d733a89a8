"""``flip_translate``: airbench's test-time augmentation, on the split's evaluation view as the dataset gives it.

Source: Jordan 2024 (arXiv 2404.00498), code ``legacy/airbench94.py`` of github.com/KellerJordan/cifar10-airbench,
function ``infer`` (``infer_basic``, ``infer_mirror``, ``infer_mirror_translate``) and ``hyp['net']['tta_level']``
(published: 2). Logits are averaged, not probabilities.

* ``level 0``: ``f(x)``.
* ``level 1``: ``(f(x) + f(mirror x)) / 2``.
* ``level 2``: half the level-1 score of ``x``, plus half the mean of the level-1 scores of ``x`` translated by one
  pixel down-and-right and by one pixel up-and-left, with reflection at the border (``F.pad(x, 1, 'reflect')``,
  then the crops at rows and columns ``0:H`` and ``2:H+2``). Six views with weights 1/4 (``x``, its mirror) and
  1/8 (each translated view and its mirror).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from scrutiny.protocols._base import ProtocolError
from scrutiny.registry import PROTOCOLS

LEVELS = (0, 1, 2)
# infer_mirror_translate: pad = 1, crops [0:32] and [2:34]
TRANSLATE = 1


def translated(x: torch.Tensor, shift: int, pixels: int = TRANSLATE) -> torch.Tensor:
    """``x`` ``(N, C, H, W)`` moved by ``shift · pixels`` rows and columns, reflected at the border.

    ``shift = +1`` moves the content down and right (output pixel ``(i, j)`` is input ``(i - 1, j - 1)``);
    ``shift = -1`` moves it up and left.
    """
    h, w = x.shape[-2:]
    padded = F.pad(x, (pixels,) * 4, mode="reflect")
    start = pixels - shift * pixels
    return padded[..., start : start + h, start : start + w]


class LevelError(ProtocolError, ValueError):
    """A ``level`` that is not 0, 1 or 2 (a ``ValueError`` too, so that loading a spec names ``eval.protocol_args``)."""


class FlipTranslate:
    """airbench's test-time augmentation at ``level`` 0 (none), 1 (mirror) or 2 (mirror and translate).

    Args:
        level: 0, 1 or 2 (airbench's ``tta_level``).
    """

    name = "flip_translate"

    def __init__(self, level: int = 2) -> None:
        if isinstance(level, bool) or level not in LEVELS:
            raise LevelError(f"level: expected one of {list(LEVELS)}, got {level!r}")
        self.level = int(level)

    def params(self) -> dict[str, Any]:
        return {"level": self.level}

    def scores(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Averaged logits ``(N, K)`` of the level's views of ``x`` ``(N, C, H, W)``."""
        if self.level == 0:
            return model(x)
        mirror = self._mirror(model, x)
        if self.level == 1:
            return mirror
        moved = (self._mirror(model, translated(x, +1)) + self._mirror(model, translated(x, -1))) / 2
        return 0.5 * mirror + 0.5 * moved

    @staticmethod
    def _mirror(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * model(x) + 0.5 * model(x.flip(-1))


@PROTOCOLS.register("flip_translate")
def flip_translate(level: int = 2) -> FlipTranslate:
    """airbench's test-time augmentation: level 0 none, 1 mirror, 2 mirror and ±1-pixel translation (logits averaged).

    Args:
        level: 0, 1 or 2 (airbench's tta_level; published 2).
    """
    return FlipTranslate(level)
