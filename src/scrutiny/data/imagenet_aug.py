"""ImageNet training augmentation of He et al. 2015 and fb.resnet.torch, drawn apart from its application.

:class:`ImageNetTrainAugment` is an :class:`~scrutiny.data.augment.Augment`: ``draw(generator, shape)`` returns
plain JSON-serialisable parameters for one raw image ``(C, H, W)``; ``apply(image, params)`` turns the raw uint8
image into a normalised float crop ``(C, size, size)`` deterministically, so every example can be stored and replayed.

Geometry (``train_aug``):

* ``"scale_jitter"``: He et al. 2015 sec. 3.4, "the image is resized with its shorter side randomly sampled in
  [256, 480] for scale augmentation. A 224×224 crop is randomly sampled from an image or its horizontal flip".
  Implemented as fb.resnet.torch's ``RandomScale`` + ``RandomCrop``: integer shorter side uniform in the range
  (inclusive), longer side rounded, crop offset uniform over every position.
* ``"scale_aspect"``: fb.resnet.torch's ``RandomSizedCrop`` (Inception-style): area fraction uniform in
  ``area_range`` (8-100%), aspect ratio uniform (not log-uniform as torchvision's) in ``ratio_range`` (3/4-4/3),
  ``w = round(sqrt(A)·r)``, ``h = round(sqrt(A)/r)``, swapped with probability 1/2; up to 10 tries, then the
  fallback ``Scale(size)`` + ``CenterCrop(size)`` (offset rounded up); the crop is resized to ``size``×``size``.
  As in fb's code, the crop's width/height is ``r²`` (9/16 to 16/9), not ``r`` as in torchvision's
  ``RandomResizedCrop`` (``w = sqrt(A·r)``, ``h = sqrt(A/r)``, log-uniform ``r``).
* ``"none"``: resize the shorter side to ``resize`` and take the centre crop (the evaluation view).

Colour, on the image scaled to [0, 1], before normalisation (fb.resnet.torch ``datasets/imagenet.lua``):

* ``color_jitter`` = v > 0: brightness, contrast and saturation, each blended with factor ``1 + U(-v, v)``, in a
  random order (fb.resnet.torch ``ColorJitter``; grey = 0.299 R + 0.587 G + 0.114 B; no clamping).
* ``lighting_std`` = σ > 0: AlexNet's PCA lighting, ``x_c += Σ_j eigvec[c, j] · α_j · eigval[j]``, ``α ~ N(0, σ²)``
  (fb.resnet.torch ``Lighting`` with its ImageNet ``eigval``/``eigvec``).

Then per-channel ``(x - mean) / std`` and a horizontal flip with probability 1/2 when ``flip``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import torch

TrainAug = Literal["none", "scale_aspect", "scale_jitter"]
Interpolation = Literal["bilinear", "bicubic"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# fb.resnet.torch datasets/imagenet.lua ("computed from random subset of ImageNet training images")
PCA_EIGVAL = (0.2175, 0.0188, 0.0045)
PCA_EIGVEC = ((-0.5675, 0.7192, 0.4009), (-0.5808, -0.0045, -0.8140), (-0.5836, -0.6948, 0.4203))
GREY = (0.299, 0.587, 0.114)
JITTERS = ("brightness", "contrast", "saturation")


def _uniform(g: torch.Generator, low: float = 0.0, high: float = 1.0) -> float:
    return low + (high - low) * float(torch.rand((), generator=g, dtype=torch.float64))


def _randint(g: torch.Generator, low: int, high: int) -> int:
    """Uniform integer in ``[low, high]`` (both inclusive, like Torch7's ``torch.random(a, b)``)."""
    return int(torch.randint(low, high + 1, (), generator=g))


def _round(x: float) -> int:
    """Half away from zero for positive values (Torch7's ``torch.round``), not Python's half-to-even."""
    return math.floor(x + 0.5)


def _resize(x: torch.Tensor, height: int, width: int, interpolation: str) -> torch.Tensor:
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2.functional import resize

    if tuple(x.shape[-2:]) == (height, width):
        return x
    return resize(x, [height, width], interpolation=InterpolationMode(interpolation), antialias=True)


def _short_side(width: int, height: int, short: int) -> tuple[int, int]:
    """``(width, height)`` with the shorter side ``short`` and the longer one rounded (fb.resnet.torch's rule)."""
    if width < height:
        return short, _round(height / width * short)
    return _round(width / height * short), short


def _grey(x: torch.Tensor) -> torch.Tensor:
    """Luma ``(1, H, W)`` of an RGB float image ``(3, H, W)``."""
    w = torch.tensor(GREY, dtype=x.dtype).view(3, 1, 1)
    return (x * w).sum(0, keepdim=True)


def jitter(x: torch.Tensor, kind: str, alpha: float) -> torch.Tensor:
    """fb.resnet.torch's ``blend(x, other, alpha) = alpha·x + (1-alpha)·other`` for one colour jitter.

    Args:
        x: Float RGB image ``(3, H, W)`` in [0, 1].
        kind: ``"brightness"`` (other = 0), ``"contrast"`` (other = mean grey) or ``"saturation"`` (other = grey).
        alpha: Blend factor.
    """
    if kind == "brightness":
        return x * alpha
    grey = _grey(x)
    other = grey.mean().expand_as(x) if kind == "contrast" else grey.expand_as(x)
    return x * alpha + other * (1 - alpha)


def lighting(x: torch.Tensor, alpha: Sequence[float]) -> torch.Tensor:
    """AlexNet PCA lighting: adds ``eigvec @ (alpha * eigval)`` to each channel of ``x`` ``(3, H, W)``."""
    vec = torch.tensor(PCA_EIGVEC, dtype=torch.float64)
    rgb = vec @ (torch.tensor(alpha, dtype=torch.float64) * torch.tensor(PCA_EIGVAL, dtype=torch.float64))
    return x + rgb.to(x.dtype).view(3, 1, 1)


class ImageNetTrainAugment:
    """Scale augmentation, colour augmentation, normalisation and flip of one raw image.

    Args:
        train_aug: ``"scale_jitter"`` (He et al.), ``"scale_aspect"`` (fb.resnet.torch) or ``"none"``.
        size: Side of the square output.
        resize: Shorter side of the ``"none"`` geometry (centre crop of the evaluation view).
        scale_range: Shorter-side range of ``"scale_jitter"``, inclusive.
        area_range: Area fraction range of ``"scale_aspect"``.
        ratio_range: Aspect-ratio range of ``"scale_aspect"``.
        flip: Mirror horizontally with probability 1/2.
        color_jitter: Strength ``v`` of brightness, contrast and saturation jitter (0 = off; fb.resnet.torch 0.4).
        lighting_std: σ of PCA lighting (0 = off; AlexNet and fb.resnet.torch 0.1).
        interpolation: Resize kernel (fb.resnet.torch: bicubic).
        mean: Per-channel mean subtracted after colour augmentation.
        std: Per-channel std divided by.
    """

    def __init__(
        self,
        train_aug: TrainAug = "scale_jitter",
        size: int = 224,
        resize: int = 256,
        scale_range: Sequence[int] = (256, 480),
        area_range: Sequence[float] = (0.08, 1.0),
        ratio_range: Sequence[float] = (3 / 4, 4 / 3),
        flip: bool = True,
        color_jitter: float = 0.0,
        lighting_std: float = 0.0,
        interpolation: Interpolation = "bilinear",
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        if train_aug not in ("none", "scale_aspect", "scale_jitter"):
            raise ValueError(f"train_aug: expected 'none', 'scale_aspect' or 'scale_jitter', got {train_aug!r}")
        lo, hi = (int(s) for s in scale_range)
        if not size <= lo <= hi:
            raise ValueError(f"scale_range: expected size <= low <= high, got {list(scale_range)} with size {size}")
        if color_jitter < 0 or lighting_std < 0:
            raise ValueError(f"color_jitter/lighting_std: expected >= 0, got {color_jitter!r}, {lighting_std!r}")
        self.train_aug, self.size, self.resize = train_aug, int(size), int(resize)
        self.scale_range = (lo, hi)
        self.area_range = tuple(float(a) for a in area_range)
        self.ratio_range = tuple(float(r) for r in ratio_range)
        self.flip, self.color_jitter, self.lighting_std = bool(flip), float(color_jitter), float(lighting_std)
        self.interpolation = interpolation
        self.mean, self.std = tuple(mean), tuple(std)

    # ---- draw ------------------------------------------------------------------------------------------------
    def draw(self, generator: torch.Generator, shape: tuple[int, ...]) -> dict[str, Any]:
        """Parameters for one raw image of shape ``(C, H, W)``: geometry, flip, colour order and factors, lighting.

        Returns:
            ``{"resized": [h, w] | None, "crop": [top, left, h, w], "flip": bool, "jitter": [[kind, alpha], ...],
            "lighting": [a0, a1, a2] | None}``; ``crop`` is in the coordinates of the ``resized`` image (or of the
            raw image where ``resized`` is ``None``).
        """
        height, width = int(shape[-2]), int(shape[-1])
        params = self._draw_geometry(generator, height, width)
        params["flip"] = self.flip and _uniform(generator) < 0.5
        params["jitter"] = []
        if self.color_jitter > 0:
            order = torch.randperm(len(JITTERS), generator=generator).tolist()
            params["jitter"] = [
                [JITTERS[i], 1.0 + _uniform(generator, -self.color_jitter, self.color_jitter)] for i in order
            ]
        params["lighting"] = None
        if self.lighting_std > 0:
            params["lighting"] = (torch.randn(3, generator=generator, dtype=torch.float64) * self.lighting_std).tolist()
        return params

    def _draw_geometry(self, g: torch.Generator, height: int, width: int) -> dict[str, Any]:
        s = self.size
        if self.train_aug == "scale_jitter":
            rw, rh = _short_side(width, height, _randint(g, *self.scale_range))
            return {"resized": [rh, rw], "crop": [_randint(g, 0, rh - s), _randint(g, 0, rw - s), s, s]}
        if self.train_aug == "scale_aspect":
            for _ in range(10):
                area = _uniform(g, *self.area_range) * height * width
                ratio = _uniform(g, *self.ratio_range)
                w, h = _round(math.sqrt(area) * ratio), _round(math.sqrt(area) / ratio)
                if _uniform(g) < 0.5:
                    w, h = h, w
                if h <= height and w <= width:
                    top = math.floor(_uniform(g, 0, height - h + 0.99))
                    left = math.floor(_uniform(g, 0, width - w + 0.99))
                    return {"resized": None, "crop": [top, left, h, w]}
            rw, rh = _short_side(width, height, s)  # fb.resnet.torch's fallback: Scale(size), CenterCrop(size)
            return {"resized": [rh, rw], "crop": [math.ceil((rh - s) / 2), math.ceil((rw - s) / 2), s, s]}
        rw, rh = _short_side(width, height, self.resize)
        return {"resized": [rh, rw], "crop": [math.ceil((rh - s) / 2), math.ceil((rw - s) / 2), s, s]}

    # ---- apply -----------------------------------------------------------------------------------------------
    def apply(self, x: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        """The augmented, normalised crop ``(C, size, size)`` float32 of a raw image ``x`` ``(C, H, W)``.

        Args:
            x: uint8 image (or float in [0, 1]) ``(3, H, W)``.
            params: As returned by :meth:`draw` for ``x.shape``.
        """
        if params["resized"] is not None:
            height, width = params["resized"]
            x = _resize(x, height, width, self.interpolation)
        top, left, h, w = params["crop"]
        x = x[..., top : top + h, left : left + w]
        x = _resize(x, self.size, self.size, self.interpolation)
        x = x.float().div(255.0) if x.dtype == torch.uint8 else x.float()
        for kind, alpha in params["jitter"]:
            x = jitter(x, kind, alpha)
        if params["lighting"] is not None:
            x = lighting(x, params["lighting"])
        x = (x - torch.tensor(self.mean).view(-1, 1, 1)) / torch.tensor(self.std).view(-1, 1, 1)
        return x.flip(-1) if params["flip"] else x

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Draw and apply in one go (for interactive use; training draws per (epoch, index))."""
        return self.apply(x, self.draw(generator, tuple(x.shape)))


def eval_view(size: int, resize: int) -> Any:
    """The evaluation view of a uint8 image ``(3, H, W)``: shorter side to ``resize`` (bilinear, antialiased),
    centre ``size`` crop, ImageNet mean and std. Returns a ``torchvision.transforms.v2`` transform."""
    from torchvision.transforms import v2

    return v2.Compose(
        [
            v2.Resize(resize, antialias=True),
            v2.CenterCrop(size),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )


def train_augment(*args: Any) -> ImageNetTrainAugment:
    """:class:`ImageNetTrainAugment` of the given arguments; invalid ones are a one-line ``DataError``."""
    from scrutiny.errors import DataError

    try:
        return ImageNetTrainAugment(*args)
    except ValueError as exc:
        raise DataError(f"data: {exc}") from None
