"""``single_crop`` and ``ten_crop``: fixed crops of an image whose shorter side was resized.

Sources: He et al. 2015 sec. 3.4 ("standard 10-crop testing [21]", AlexNet's four corners + centre and their
horizontal reflections, softmax averaged); the MSRA README (1-crop: "center 224x224 crop from resized image with
shorter side=256"); torchvision ``five_crop`` / ``ten_crop`` / ``center_crop``; fb.resnet.torch ``TenCrop`` and
``CenterCrop``; timm's eval transform (``resize = floor(crop / crop_pct)``).

Geometry (all by torchvision's rules unless a parameter says otherwise):

* Resize: shorter side to ``resize``, longer side ``int(resize * long / short)`` (truncated).
* Centre offset: ``int(round((size - crop) / 2))``, Python's round-half-to-even (58.5 -> 58), torchvision's
  ``center_crop``; ``rounding="ceil"`` gives fb.resnet.torch's ``math.ceil`` (58.5 -> 59).
* Ten crops: ``(tl, tr, bl, br, centre)`` of the resized image, then the same five of its mirrored copy, as in
  torchvision's ``ten_crop``. A :class:`~scrutiny.protocols.View` gives each crop in the coordinates of the
  *unflipped* resized image, so a mirrored crop's box is the mirror of the box in the flipped image.

Worked example: a 500×375 (width × height) image, ``resize=256``, ``crop=224``. The resized image is 341×256
(``int(256 * 500 / 375) = 341``); the slack is 117 columns and 32 rows. ``boxes`` lists (left, top), each 224×224:

===  ============  ===========  ==================================================================
 #   crop          (left, top)  note
===  ============  ===========  ==================================================================
 0   top-left      (0, 0)
 1   top-right     (117, 0)
 2   bottom-left   (0, 32)
 3   bottom-right  (117, 32)
 4   centre        (58, 16)     round(58.5) = 58; ``rounding="ceil"`` gives (59, 16)
 5   tl, flipped   (117, 0)     top-left of the mirrored image = mirrored top-right
 6   tr, flipped   (0, 0)
 7   bl, flipped   (117, 32)
 8   br, flipped   (0, 32)
 9   c, flipped    (59, 16)     117 - 58: torchvision's mirrored centre is one column right of 4
===  ============  ===========  ==================================================================

``single_crop`` is view 4 alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import nn

from scrutiny.protocols._base import Average, Flip, ProtocolError, View
from scrutiny.protocols._image import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageProtocolBase,
    check_choice,
    check_positive_int,
    combine,
    crop_pct_resize,
    cut,
    model_logits,
    resized_size,
    to_image_tensor,
)
from scrutiny.registry import PROTOCOLS

Rounding = Literal["torchvision", "ceil"]
ROUNDINGS = ("torchvision", "ceil")


def center_offset(size: int, crop: int, rounding: Rounding = "torchvision") -> int:
    """Offset of a centred ``crop`` in ``size`` pixels: ``round`` (half to even) or ``ceil`` of ``(size - crop) / 2``.

    >>> center_offset(341, 224), center_offset(341, 224, "ceil")
    (58, 59)
    """
    if rounding == "ceil":
        return math.ceil((size - crop) / 2)
    return int(round((size - crop) / 2.0))


def five_boxes(width: int, height: int, crop: int, rounding: Rounding = "torchvision") -> list[tuple[int, int]]:
    """``(left, top)`` of the ``crop`` × ``crop`` boxes ``(tl, tr, bl, br, centre)`` in a ``width`` × ``height`` image.

    >>> five_boxes(341, 256, 224)
    [(0, 0), (117, 0), (0, 32), (117, 32), (58, 16)]
    """
    if crop > width or crop > height:
        raise ProtocolError(f"crop: {crop}×{crop} is larger than the {width}×{height} resized image")
    dx, dy = width - crop, height - crop
    center = (center_offset(width, crop, rounding), center_offset(height, crop, rounding))
    return [(0, 0), (dx, 0), (0, dy), (dx, dy), center]


def ten_crop_views(
    width: int, height: int, resize: int, crop: int, flip: Flip = "horizontal", rounding: Rounding = "torchvision"
) -> list[View]:
    """The ten views of a ``width`` × ``height`` image, in torchvision's ``ten_crop`` order.

    The last five are the five boxes of the mirrored resized image, given in unflipped coordinates (see the module
    docstring for the 500×375 example).
    """
    rw, rh = resized_size(width, height, resize)
    views = [View((rw, rh), left, top, crop, crop) for left, top in five_boxes(rw, rh, crop, rounding)]
    for left, top in five_boxes(rw, rh, crop, rounding):
        if flip == "horizontal":
            left = rw - crop - left
        else:
            top = rh - crop - top
        views.append(View((rw, rh), left, top, crop, crop, flip))
    return views


class CropProtocol(ImageProtocolBase):
    """Fixed crops of an image resized to a shorter side; all crops of a batch go through the model at once.

    Args:
        resize: Shorter side after resizing; default 256, or ``floor(crop / crop_pct)`` when ``crop_pct`` is given.
        crop: Side of the square crops.
        crop_pct: timm's resize rule; exclusive with ``resize``.
        rounding: ``"torchvision"`` (round half to even) or ``"ceil"`` (fb.resnet.torch) for the centre offset.
        **kwargs: ``average``, ``interpolation``, ``antialias``, ``mean``, ``std`` of
            :class:`~scrutiny.protocols._image.ImageProtocolBase`.
    """

    name = "crop"

    def __init__(
        self,
        *,
        resize: int | None = None,
        crop: int = 224,
        crop_pct: float | None = None,
        rounding: Rounding = "torchvision",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.crop = check_positive_int("crop", crop)
        if crop_pct is not None:
            if resize is not None:
                raise ProtocolError(f"resize/crop_pct: give one; got resize={resize!r}, crop_pct={crop_pct!r}")
            resize = crop_pct_resize(self.crop, float(crop_pct))
        self.resize = check_positive_int("resize", 256 if resize is None else resize)
        self.crop_pct = None if crop_pct is None else float(crop_pct)
        if self.crop > self.resize:
            raise ProtocolError(
                f"crop: {self.crop} is larger than resize={self.resize}; the crop must fit the "
                "resized image (torchvision would pad it with zeros)"
            )
        check_choice("rounding", rounding, ROUNDINGS)
        self.rounding: Rounding = rounding

    def params(self) -> dict[str, Any]:
        return {
            "resize": self.resize,
            "crop": self.crop,
            "crop_pct": self.crop_pct,
            "rounding": self.rounding,
            **self._common_params(),
        }

    def boxes(self, width: int, height: int) -> list[View]:
        raise NotImplementedError

    def views(self, image: Any) -> torch.Tensor:
        """Normalised crops ``(V, C, crop, crop)`` of one image (PIL, or a ``(C, H, W)`` tensor)."""
        x = to_image_tensor(image)
        height, width = x.shape[-2:]
        views = self.boxes(int(width), int(height))
        resized = self._resize(x, views[0].resized)
        return self._normalize(torch.stack([cut(resized, v) for v in views]))

    def scores(self, model: nn.Module, views: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        """Scores ``(B, K)`` from the views ``(B, V, C, h, w)`` (or a sequence of ``(V, C, h, w)``) of ``B`` images."""
        x = views if isinstance(views, torch.Tensor) else torch.stack(list(views))
        if x.ndim != 5:
            raise ProtocolError(f"{self.name}: expected views (B, V, C, h, w), got {tuple(x.shape)}")
        b, v = x.shape[:2]
        logits = model_logits(model, x.flatten(0, 1), protocol=self.name)
        return combine(logits.view(b, v, -1), self.average)


class SingleCrop(CropProtocol):
    """The centre crop of the resized image (1-crop)."""

    name = "single_crop"

    def boxes(self, width: int, height: int) -> list[View]:
        """``[View]`` of the centre crop; for 500×375 at (256, 224): resized 341×256, box (58, 16, 224, 224)."""
        rw, rh = resized_size(width, height, self.resize)
        left, top = five_boxes(rw, rh, self.crop, self.rounding)[4]
        return [View((rw, rh), left, top, self.crop, self.crop)]


class TenCrop(CropProtocol):
    """Four corners and the centre of the resized image and of its mirrored copy (10-crop).

    Args:
        flip: ``"horizontal"`` (AlexNet, torchvision's default) or ``"vertical"``.
        **kwargs: As :class:`CropProtocol`.
    """

    name = "ten_crop"

    def __init__(self, *, flip: Flip = "horizontal", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_choice("flip", flip, ("horizontal", "vertical"))
        self.flip: Flip = flip

    def params(self) -> dict[str, Any]:
        return {**super().params(), "flip": self.flip}

    def boxes(self, width: int, height: int) -> list[View]:
        """The ten views in torchvision's order; see the module docstring for the 500×375 worked example.

        >>> [(v.left, v.top, v.flip) for v in TenCrop().boxes(500, 375)][3:6]
        [(117, 32, None), (58, 16, None), (117, 0, 'horizontal')]
        """
        return ten_crop_views(width, height, self.resize, self.crop, self.flip, self.rounding)


@PROTOCOLS.register("single_crop")
def single_crop(
    resize: int | None = None,
    crop: int = 224,
    crop_pct: float | None = None,
    rounding: Rounding = "torchvision",
    average: Average = "prob",
    interpolation: str = "bilinear",
    antialias: bool = True,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> SingleCrop:
    """Centre crop of the image resized to a shorter side (1-crop; resize 256, crop 224 by default)."""
    return SingleCrop(
        resize=resize,
        crop=crop,
        crop_pct=crop_pct,
        rounding=rounding,
        average=average,
        interpolation=interpolation,
        antialias=antialias,
        mean=mean,
        std=std,
    )


@PROTOCOLS.register("ten_crop")
def ten_crop(
    resize: int | None = None,
    crop: int = 224,
    flip: Flip = "horizontal",
    crop_pct: float | None = None,
    rounding: Rounding = "torchvision",
    average: Average = "prob",
    interpolation: str = "bilinear",
    antialias: bool = True,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> TenCrop:
    """Corners and centre of the resized image and of its mirror, scores averaged (10-crop, He et al. Table 3)."""
    return TenCrop(
        resize=resize,
        crop=crop,
        flip=flip,
        crop_pct=crop_pct,
        rounding=rounding,
        average=average,
        interpolation=interpolation,
        antialias=antialias,
        mean=mean,
        std=std,
    )
