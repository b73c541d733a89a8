"""Machinery shared by the image protocols: image conversion, the resize rule, cutting views, combining scores."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from scrutiny.data.imagenet_aug import IMAGENET_MEAN, IMAGENET_STD  # noqa: F401  (re-exported: one definition)
from scrutiny.protocols._base import Average, ProtocolError, View

INTERPOLATIONS = ("nearest", "bilinear", "bicubic")
AVERAGES = ("prob", "logit")


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    """Raise :class:`ProtocolError` naming the parameter, the expected values and the given one."""
    if value not in choices:
        raise ProtocolError(f"{name}: expected one of {list(choices)}, got {value!r}")


def check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ProtocolError(f"{name}: expected a positive integer, got {value!r}")
    return value


def to_image_tensor(image: Any) -> torch.Tensor:
    """An image as a ``(C, H, W)`` tensor: PIL images become uint8 RGB; tensors pass through.

    Args:
        image: A PIL image (any mode; converted to RGB as torchvision's ImageFolder loader does) or a ``(C, H, W)``
            uint8 or floating tensor (floats in ``[0, 1]``).

    Returns:
        ``(C, H, W)`` tensor, uint8 or floating.
    """
    if isinstance(image, torch.Tensor):
        if image.ndim != 3 or not (image.dtype == torch.uint8 or image.is_floating_point()):
            raise ProtocolError(
                f"image: expected a (C, H, W) uint8 or float tensor, got {tuple(image.shape)} {image.dtype}"
            )
        return image
    from PIL import Image
    from torchvision.transforms.v2.functional import pil_to_tensor

    if not isinstance(image, Image.Image):
        raise ProtocolError(f"image: expected a PIL image or a (C, H, W) tensor, got {type(image).__name__}")
    if image.mode != "RGB":
        image = image.convert("RGB")
    return pil_to_tensor(image)


def resized_size(width: int, height: int, short: int) -> tuple[int, int]:
    """``(width, height)`` after resizing the shorter side to ``short``, by torchvision's rule.

    The longer side is truncated: ``int(short * long / short_side)``; a 500×375 image at 256 becomes 341×256.
    """
    if width <= height:
        return short, int(short * height / width)
    return int(short * width / height), short


def crop_pct_resize(crop: int, crop_pct: float) -> int:
    """timm's eval resize: ``floor(crop / crop_pct)`` (224 at 0.875 gives 256)."""
    if not 0 < crop_pct <= 1:
        raise ProtocolError(f"crop_pct: expected a number in (0, 1], got {crop_pct!r}")
    return math.floor(crop / crop_pct)


def resize(image: torch.Tensor, size: tuple[int, int], interpolation: str, antialias: bool) -> torch.Tensor:
    """Resize ``(C, H, W)`` to ``size`` = ``(width, height)`` with torchvision's tensor kernel (uint8 stays uint8)."""
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2.functional import resize as tv_resize

    width, height = size
    if (height, width) == tuple(image.shape[-2:]):
        return image
    return tv_resize(image, [height, width], interpolation=InterpolationMode(interpolation), antialias=antialias)


def cut(resized: torch.Tensor, view: View) -> torch.Tensor:
    """Crop and flip a resized ``(C, H, W)`` image as ``view`` says; returns ``(C, view.height, view.width)``."""
    patch = resized[..., view.top : view.top + view.height, view.left : view.left + view.width]
    if view.flip == "horizontal":
        patch = patch.flip(-1)
    elif view.flip == "vertical":
        patch = patch.flip(-2)
    return patch


def normalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 (scaled to ``[0, 1]``) or float ``(..., C, h, w)`` -> float32 ``(x - mean) / std`` per channel."""
    if x.ndim < 3 or x.shape[-3] != len(mean):
        raise ProtocolError(f"image: expected {len(mean)} channels (as mean/std), got shape {tuple(x.shape)}")
    x = x.float().div(255.0) if x.dtype == torch.uint8 else x.float()
    mean_t = torch.tensor(mean, dtype=x.dtype).view(-1, 1, 1)
    std_t = torch.tensor(std, dtype=x.dtype).view(-1, 1, 1)
    return (x - mean_t) / std_t


def model_logits(model: nn.Module, x: torch.Tensor, *, protocol: str) -> torch.Tensor:
    """Run ``model`` on ``x`` ``(N, C, h, w)``; returns logits ``(N, K)``.

    A model that returns a class-score map ``(N, K, h', w')`` (a fully-convolutional net) has it averaged over
    space, in logits. Any other output shape, or a model that fails on this input size, raises
    :class:`ProtocolError`.
    """
    try:
        out = model(x)
    except torch.OutOfMemoryError:
        raise
    except RuntimeError as exc:
        h, w = x.shape[-2:]
        raise ProtocolError(
            f"{protocol}: the model fails on a {w}×{h} input ({str(exc).splitlines()[0]}); a head "
            "that needs a fixed input size cannot be evaluated here: wrap a global-pool + fc head "
            "with scrutiny.protocols.fully_convolutional, or use a crop protocol"
        ) from exc
    if out.ndim == 4:
        return out.mean(dim=(2, 3))
    if out.ndim != 2:
        raise ProtocolError(
            f"{protocol}: expected model output (N, K) or a score map (N, K, h, w), got {tuple(out.shape)}"
        )
    return out


def combine(logits: torch.Tensor, average: Average) -> torch.Tensor:
    """Combine per-view logits ``(B, V, K)`` into scores ``(B, K)``.

    ``"prob"``: log of the mean softmax probability (log-probabilities, as the paper and AlexNet average softmax
    scores). ``"logit"``: mean of the raw outputs (fb.resnet.torch sums them; the mean has the same argmax).
    """
    if average == "logit":
        return logits.mean(dim=1)
    return torch.logsumexp(torch.log_softmax(logits.float(), dim=-1), dim=1) - math.log(logits.shape[1])


class ImageProtocolBase:
    """Parameters every image protocol shares: how views are resized, normalised and combined.

    Args:
        average: ``"prob"`` (mean softmax, reported as log-probabilities) or ``"logit"`` (mean raw output).
        interpolation: ``"bilinear"`` (torchvision, timm), ``"bicubic"`` (fb.resnet.torch) or ``"nearest"``.
        antialias: torchvision's antialiased resize (the default of its ``ImageClassification`` preset).
        mean: Per-channel mean subtracted after scaling uint8 to ``[0, 1]``.
        std: Per-channel standard deviation divided by.
    """

    name = "image"

    def __init__(
        self,
        *,
        average: Average = "prob",
        interpolation: str = "bilinear",
        antialias: bool = True,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        check_choice("average", average, AVERAGES)
        check_choice("interpolation", interpolation, INTERPOLATIONS)
        if len(mean) != len(std) or any(s <= 0 for s in std):
            raise ProtocolError(f"mean/std: expected equal lengths and std > 0, got mean={mean!r} std={std!r}")
        self.average: Average = average
        self.interpolation = interpolation
        self.antialias = bool(antialias)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)

    def params(self) -> dict[str, Any]:
        """The resolved parameters, JSON-serialisable; a protocol adds its own to these."""
        return self._common_params()

    def _common_params(self) -> dict[str, Any]:
        return {
            "average": self.average,
            "interpolation": self.interpolation,
            "antialias": self.antialias,
            "mean": list(self.mean),
            "std": list(self.std),
        }

    def _resize(self, image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return resize(image, size, self.interpolation, self.antialias)

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        return normalize(x, self.mean, self.std)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{self.name}({args})"
