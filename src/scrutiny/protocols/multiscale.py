"""``multi_scale``: the whole uncropped image at several shorter sides, the network applied fully convolutionally.

Source: He et al. 2015 sec. 3.4: "we adopt the fully-convolutional form as in [41, 13], and average the scores at
multiple scales (images are resized such that the shorter side is in {224, 256, 384, 480, 640})"; [41] is VGG's
dense evaluation, which spatially averages the class-score map and adds horizontal flips.

Averaging, in two stages:

* Over space, always in logits. A global-average-pool + fc network (ResNet) does this itself: pooling the
  features and then applying fc equals applying fc as a 1×1 conv and averaging the score map, as both are linear;
  VGG also sum-pools the (pre-softmax) class-score map. A model that returns a score map ``(N, K, h, w)``
  (:func:`~scrutiny.protocols.fully_convolutional`) has it averaged in logits too. Averaging softmax
  probabilities over positions would be a different protocol, which the paper does not describe.
* Over scales (and flips), by ``average``: ``"prob"`` (mean softmax, default, as the paper's 10-crop "scores"),
  or ``"logit"``. The paper says "average the scores" without saying which; flips are off by default, as the
  paper does not mention them for ResNet.

The resize follows torchvision (shorter side to ``s``, longer side truncated): a 500×375 image gives views
298×224, 341×256, 512×384, 640×480 and 853×640. Views of a batch that have the same size go through the model
together. A model whose head needs one input size raises :class:`~scrutiny.protocols.ProtocolError`, and so does
one with an adaptive pool to a grid larger than 1×1 (torchvision's VGG, AlexNet), which would silently resample
features instead of being fully convolutional.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from scrutiny.protocols._base import Average, ProtocolError, View
from scrutiny.protocols._image import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageProtocolBase,
    check_choice,
    check_positive_int,
    combine,
    cut,
    model_logits,
    resized_size,
    to_image_tensor,
)
from scrutiny.registry import PROTOCOLS


def check_fully_convolutional(model: nn.Module, protocol: str = "multi_scale") -> None:
    """Raise :class:`ProtocolError` if ``model`` has an adaptive pool to a fixed grid other than 1×1."""
    for name, module in model.named_modules():
        if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            size = module.output_size
            if not all(s in (1, None) for s in (size if isinstance(size, tuple) else (size, size))):
                raise ProtocolError(
                    f"{protocol}: module '{name}' pools to a fixed {size} grid, so the model is not "
                    "fully convolutional; use a crop protocol"
                )


class MultiScale(ImageProtocolBase):
    """Whole image at each shorter side in ``scales`` (optionally with its horizontal mirror), scores averaged.

    Args:
        scales: Shorter sides, e.g. ``(224, 256, 384, 480, 640)``.
        flip: Add the horizontally mirrored image at each scale (VGG's dense evaluation does).
        spatial_average: How a score map is averaged over positions; only ``"logit"`` (see the module docstring).
        **kwargs: ``average``, ``interpolation``, ``antialias``, ``mean``, ``std`` of
            :class:`~scrutiny.protocols._image.ImageProtocolBase`.
    """

    name = "multi_scale"

    def __init__(
        self,
        *,
        scales: Sequence[int] = (224, 256, 384, 480, 640),
        flip: bool = False,
        spatial_average: str = "logit",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_choice("spatial_average", spatial_average, ("logit",))
        if isinstance(scales, (str, bytes)) or len(scales) == 0:
            raise ProtocolError(f"scales: expected a non-empty list of positive integers, got {scales!r}")
        self.scales = tuple(check_positive_int("scales", s) for s in scales)
        if len(set(self.scales)) != len(self.scales):
            raise ProtocolError(f"scales: expected distinct values, got {list(scales)}")
        if not isinstance(flip, bool):
            raise ProtocolError(f"flip: expected true or false, got {flip!r}")
        self.flip = flip

    def params(self) -> dict[str, Any]:
        return {"scales": list(self.scales), "flip": self.flip, "spatial_average": "logit", **self._common_params()}

    def boxes(self, width: int, height: int) -> list[View]:
        """One uncropped view per scale, scale-major, unflipped first.

        A 500×375 image at scale 256 gives ``View((341, 256), 0, 0, 341, 256)``.
        """
        views = []
        for s in self.scales:
            rw, rh = resized_size(width, height, s)
            views.append(View((rw, rh), 0, 0, rw, rh))
            if self.flip:
                views.append(View((rw, rh), 0, 0, rw, rh, "horizontal"))
        return views

    def views(self, image: Any) -> list[torch.Tensor]:
        """Normalised views of one image: one tensor ``(F, C, h_s, w_s)`` per scale, ``F`` = 2 with flip else 1."""
        x = to_image_tensor(image)
        height, width = x.shape[-2:]
        views = self.boxes(int(width), int(height))
        per_scale = 2 if self.flip else 1
        out = []
        for i in range(0, len(views), per_scale):
            resized = self._resize(x, views[i].resized)
            out.append(self._normalize(torch.stack([cut(resized, v) for v in views[i : i + per_scale]])))
        return out

    def scores(self, model: nn.Module, views: Sequence[Sequence[torch.Tensor]]) -> torch.Tensor:
        """Scores ``(B, K)`` from the views of ``B`` images (each a list of ``(F, C, h_s, w_s)``, one per scale).

        Views of equal size, across images and scales, are batched into one forward pass.
        """
        check_fully_convolutional(model, self.name)
        groups: dict[tuple[int, int], list[tuple[int, int, torch.Tensor]]] = {}
        for i, image_views in enumerate(views):
            if len(image_views) != len(self.scales):
                raise ProtocolError(f"{self.name}: expected {len(self.scales)} per image, got {len(image_views)}")
            for j, v in enumerate(image_views):
                groups.setdefault((int(v.shape[-2]), int(v.shape[-1])), []).append((i, j, v))
        per_image: list[dict[int, torch.Tensor]] = [{} for _ in views]  # image -> scale index -> logits
        for group in groups.values():
            logits = model_logits(model, torch.cat([v for _, _, v in group]), protocol=self.name)
            for (i, j, _), chunk in zip(group, logits.split([v.shape[0] for _, _, v in group]), strict=True):
                per_image[i][j] = chunk
        stacked = torch.stack([torch.cat([row[j] for j in range(len(self.scales))]) for row in per_image])
        return combine(stacked, self.average)


@PROTOCOLS.register("multi_scale")
def multi_scale(
    scales: Sequence[int] = (224, 256, 384, 480, 640),
    flip: bool = False,
    average: Average = "prob",
    spatial_average: str = "logit",
    interpolation: str = "bilinear",
    antialias: bool = True,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> MultiScale:
    """Whole image at several shorter sides, fully convolutional, scores averaged (He et al. Table 4)."""
    return MultiScale(
        scales=scales,
        flip=flip,
        average=average,
        spatial_average=spatial_average,
        interpolation=interpolation,
        antialias=antialias,
        mean=mean,
        std=std,
    )
