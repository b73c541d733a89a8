"""The evaluation-protocol contracts.

A protocol turns evaluation inputs into one score vector per example. It is data: its ``name`` and ``params()`` are
stored next to every number it produced, and it draws no randomness.

Two kinds share the ``name`` / ``params()`` / ``scores`` surface:

* :class:`EvalProtocol` scores a batch of same-size tensors ``(N, C, H, W)`` that a dataset already transformed
  (``plain``).
* :class:`ImageProtocol` starts from the raw image (PIL, or a ``(C, H, W)`` tensor of any size). Its geometry is
  data that can be listed before any pixel is touched: ``boxes(width, height)`` gives one :class:`View` per
  network input. ``views(image)`` applies those views; ``scores(model, views)`` runs the model on the views of a
  batch of images and combines them into one score vector per image (``single_crop``, ``ten_crop``,
  ``multi_scale``).

Use :func:`is_image_protocol` to tell them apart (defined in :mod:`scrutiny.registry`, so that loading a spec can
check a protocol's kind without importing this package).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

import torch
from torch import nn

from scrutiny.errors import ScrutinyError
from scrutiny.registry import is_image_protocol as is_image_protocol  # defined beside the registries, for spec/

Average = Literal["prob", "logit"]
Flip = Literal["horizontal", "vertical"]


class ProtocolError(ScrutinyError):
    """A model, image or parameter that a protocol cannot evaluate (e.g. a fixed-size head under multi-scale)."""


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


@dataclass(frozen=True)
class View:
    """One network input cut from an image: resize, then crop, then (optionally) mirror the crop.

    Coordinates are pixels of the resized, unflipped image; ``flip`` mirrors the cropped patch afterwards. (Cropping
    box ``b`` and then mirroring equals mirroring the whole image and cropping the mirrored box, which is how
    torchvision's ``ten_crop`` describes it.)

    Attributes:
        resized: ``(width, height)`` of the image after the resize.
        left: Column of the crop's left edge.
        top: Row of the crop's top edge.
        width: Crop width; equals ``resized[0]`` for an uncropped view.
        height: Crop height.
        flip: ``"horizontal"``, ``"vertical"`` or ``None``: how the cropped patch is mirrored.
    """

    resized: tuple[int, int]
    left: int
    top: int
    width: int
    height: int
    flip: Flip | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        d = asdict(self)
        d["resized"] = list(self.resized)
        return d


class ImageProtocol(Protocol):
    """Scores of raw images under a test-time protocol (crops, flips, scales).

    Attributes:
        name: Registry name of the protocol.
    """

    name: str

    def params(self) -> dict[str, Any]:
        """The resolved parameters, JSON-serialisable."""
        ...

    def boxes(self, width: int, height: int) -> list[View]:
        """The views of an image of ``width`` × ``height`` pixels, in the order that ``views`` returns them."""
        ...

    def views(self, image: Any) -> Any:
        """Normalised float network inputs of one image (a tensor ``(V, C, h, w)``, or a list of them by size)."""
        ...

    def scores(self, model: nn.Module, views: Sequence[Any]) -> torch.Tensor:
        """Scores ``(B, K)`` for the views of ``B`` images; called under ``torch.no_grad()`` in eval mode.

        Same meaning as :meth:`EvalProtocol.scores`: logits, or log-probabilities where probabilities are averaged.
        """
        ...
