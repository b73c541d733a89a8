"""Nuisance transformations of the K49-LT study (Zhou et al., ICLR 2022), drawn apart from their application.

Each family draws the parameters of ``n`` images at once from a ``torch.Generator`` (``draw``) and applies them
deterministically to a batch ``(N, C, H, W)`` (``apply``), so the same parameters always give the same images and a
draw can be stored and replayed. The families follow the reference code (``core/make_kmnist_lt.py``):

- ``rotation``: angle ``θ ~ U[-180, 180)`` degrees, counter-clockwise about the image centre, bicubic, corners
  filled with the background (raw 0), then clipped to the raw value range (PIL rotates uint8 images, which clips).
- ``background``: intensity ``θ`` uniform on the integers ``0..99`` (of 255); every background pixel (raw value 0)
  is set to ``θ / 255`` of the value range.
- ``dilate_erode``: with p = 0.6 dilate with an all-ones ``k × k`` kernel, ``k ∈ {2, 3, 4}``, else erode with
  ``k ∈ {1, 2}`` (``k = 1`` is the identity), one iteration, with OpenCV's anchor (``k // 2``) and border (ignored).

Images are given in the model's normalised space ``(raw - mean) / std``; ``apply`` maps back to raw values, transforms
and normalises again, so a transform can be used on normalised data (eKLD, training augmentation) and on raw data
(``mean=0, std=1``) alike. :meth:`Transform.augment` adapts a family to the one-example
:class:`~scrutiny.data.augment.Augment` protocol (the paper's oracle augmentation).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from scrutiny.errors import ScrutinyError, suggest

Params = dict[str, torch.Tensor]

_BACKGROUND_ATOL = 1e-5  # a raw value within this fraction of the range of the low end counts as background


class Transform:
    """Base of a transform family: ``draw(generator, n)`` then ``apply(x, params)``.

    Args:
        mean: Mean used to normalise the images (``x = (raw - mean) / std``).
        std: Standard deviation used to normalise the images; must be positive.
        value_range: ``(low, high)`` of raw pixel values; ``low`` is the background.
    """

    name = "transform"

    def __init__(self, mean: float = 0.0, std: float = 1.0, value_range: tuple[float, float] = (0.0, 1.0)) -> None:
        if not std > 0:
            raise ScrutinyError(f"transform.std: expected a positive number, got {std}")
        if not value_range[1] > value_range[0]:
            raise ScrutinyError(f"transform.value_range: expected (low, high) with low < high, got {value_range}")
        self.mean, self.std = float(mean), float(std)
        self.low, self.high = float(value_range[0]), float(value_range[1])

    def draw(self, generator: torch.Generator, n: int) -> Params:
        """Parameters of ``n`` transforms: a dict of CPU tensors, each of shape ``(n,)``."""
        raise NotImplementedError

    def identity(self, n: int) -> Params:
        """Parameters of ``n`` identity transforms."""
        raise NotImplementedError

    def _apply_raw(self, raw: torch.Tensor, params: Params) -> torch.Tensor:
        raise NotImplementedError

    def apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        """Transform a normalised batch ``x`` ``(N, C, H, W)`` with ``params`` (each ``(N,)``) into ``(N, C, H, W)``.

        Raises:
            ValueError: ``x`` is not 4-D or a parameter's length differs from ``N``.
        """
        if x.ndim != 4:
            raise ValueError(f"{self.name}.apply: expected x of shape (N, C, H, W), got {tuple(x.shape)}")
        lengths = {k: int(v.shape[0]) for k, v in params.items()}
        if any(length != x.shape[0] for length in lengths.values()):
            raise ValueError(f"{self.name}.apply: params {lengths} do not match the batch size {x.shape[0]}")
        raw = x * self.std + self.mean
        return (self._apply_raw(raw, params) - self.mean) / self.std

    def augment(self) -> TransformAugment:
        """This family as a one-example :class:`~scrutiny.data.augment.Augment` (training augmentation)."""
        return TransformAugment(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean}, std={self.std}, value_range=({self.low}, {self.high}))"


class Rotation(Transform):
    """Rotation by an angle drawn uniformly from ``[-max_degrees, max_degrees)``; params ``{"angle": (N,) degrees}``.

    Args:
        max_degrees: Half-width of the angle range; the reference uses 180.
        interpolation: ``"bicubic"`` (reference), ``"bilinear"`` or ``"nearest"``.
        **kwargs: ``mean``, ``std``, ``value_range`` (see :class:`Transform`).
    """

    name = "rotation"

    def __init__(self, max_degrees: float = 180.0, interpolation: str = "bicubic", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if interpolation not in ("bicubic", "bilinear", "nearest"):
            raise ScrutinyError(f"rotation.interpolation: expected bicubic|bilinear|nearest, got {interpolation!r}")
        self.max_degrees, self.interpolation = float(max_degrees), interpolation

    def draw(self, generator: torch.Generator, n: int) -> Params:
        u = torch.rand(n, generator=generator, dtype=torch.float64)
        return {"angle": (2.0 * u - 1.0) * self.max_degrees}

    def identity(self, n: int) -> Params:
        return {"angle": torch.zeros(n, dtype=torch.float64)}

    def _apply_raw(self, raw: torch.Tensor, params: Params) -> torch.Tensor:
        n, _, h, w = raw.shape
        angle = params["angle"].to(device=raw.device, dtype=torch.float64)
        rad = angle * (math.pi / 180.0)
        cos, sin = torch.cos(rad), torch.sin(rad)
        # affine_grid maps output to input coordinates, normalised to [-1, 1] per axis: A = D^-1 R D, D = diag(W, H)/2
        theta = torch.zeros(n, 2, 3, dtype=torch.float64, device=raw.device)
        theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * (h / w)
        theta[:, 1, 0], theta[:, 1, 1] = sin * (w / h), cos
        grid = F.affine_grid(theta.to(raw.dtype), [n, raw.shape[1], h, w], align_corners=False)
        background = raw - self.low  # grid_sample fills with zeros: shift so that zero is the background
        out = F.grid_sample(background, grid, mode=self.interpolation, padding_mode="zeros", align_corners=False)
        out = (out + self.low).clamp(self.low, self.high)
        keep = (angle == 0).view(n, 1, 1, 1)  # exact identity for a zero angle (no interpolation round-off)
        return torch.where(keep, raw, out)


class Background(Transform):
    """Background shift: every background pixel set to ``intensity / 255`` of the range; params ``{"intensity": (N,)}``.

    Args:
        max_intensity: Intensities are drawn from the integers ``0..max_intensity - 1``; the reference uses 100.
        levels: The intensity scale (255 for 8-bit images).
        **kwargs: ``mean``, ``std``, ``value_range`` (see :class:`Transform`).
    """

    name = "background"

    def __init__(self, max_intensity: int = 100, levels: int = 255, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_intensity, self.levels = int(max_intensity), int(levels)

    def draw(self, generator: torch.Generator, n: int) -> Params:
        return {"intensity": torch.randint(0, self.max_intensity, (n,), generator=generator)}

    def identity(self, n: int) -> Params:
        return {"intensity": torch.zeros(n, dtype=torch.int64)}

    def _apply_raw(self, raw: torch.Tensor, params: Params) -> torch.Tensor:
        span = self.high - self.low
        value = self.low + params["intensity"].to(raw.device, raw.dtype) / self.levels * span
        is_background = (raw - self.low).abs() <= _BACKGROUND_ATOL * span
        return torch.where(is_background, value.view(-1, 1, 1, 1), raw)


class DilateErode(Transform):
    """Dilation (p = ``p_dilate``, kernel 2..4) or erosion (kernel 1..2); params ``dilate`` and ``kernel``, ``(N,)``.

    Args:
        p_dilate: Probability of a dilation; the reference uses 0.6.
        dilate_kernels: ``(low, high)`` inclusive range of dilation kernel sizes.
        erode_kernels: ``(low, high)`` inclusive range of erosion kernel sizes.
        **kwargs: ``mean``, ``std``, ``value_range`` (see :class:`Transform`).
    """

    name = "dilate_erode"

    def __init__(
        self,
        p_dilate: float = 0.6,
        dilate_kernels: tuple[int, int] = (2, 4),
        erode_kernels: tuple[int, int] = (1, 2),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.p_dilate, self.dilate_kernels, self.erode_kernels = float(p_dilate), dilate_kernels, erode_kernels

    def draw(self, generator: torch.Generator, n: int) -> Params:
        u = torch.rand(n, generator=generator)
        kd = torch.randint(self.dilate_kernels[0], self.dilate_kernels[1] + 1, (n,), generator=generator)
        ke = torch.randint(self.erode_kernels[0], self.erode_kernels[1] + 1, (n,), generator=generator)
        dilate = u < self.p_dilate
        return {"dilate": dilate, "kernel": torch.where(dilate, kd, ke)}

    def identity(self, n: int) -> Params:
        return {"dilate": torch.zeros(n, dtype=torch.bool), "kernel": torch.ones(n, dtype=torch.int64)}

    def _apply_raw(self, raw: torch.Tensor, params: Params) -> torch.Tensor:
        out = raw.clone()
        dilate, kernel = params["dilate"].cpu(), params["kernel"].cpu()
        for is_dilate, k in sorted({(bool(d), int(k)) for d, k in zip(dilate.tolist(), kernel.tolist(), strict=True)}):
            if k == 1:
                continue  # a 1 × 1 kernel is the identity
            rows = torch.nonzero((dilate == is_dilate) & (kernel == k)).squeeze(1).to(raw.device)
            out[rows] = morphology(raw[rows], k, dilate=is_dilate)
        return out


def morphology(x: torch.Tensor, k: int, *, dilate: bool) -> torch.Tensor:
    """``cv2.dilate`` / ``cv2.erode`` of ``x`` ``(N, C, H, W)`` with an all-ones ``k × k`` kernel, one iteration.

    OpenCV's default anchor is the kernel centre ``k // 2``, so the window of output pixel ``i`` covers input pixels
    ``i - k // 2 .. i + (k - 1) - k // 2``; pixels outside the image are ignored (OpenCV's default border value).
    """
    before, after = k // 2, k - 1 - k // 2
    sign = 1.0 if dilate else -1.0
    padded = F.pad(sign * x, (before, after, before, after), value=-math.inf)
    return sign * F.max_pool2d(padded, kernel_size=k, stride=1)


class TransformAugment:
    """A :class:`Transform` family as an :class:`~scrutiny.data.augment.Augment` of one example ``(C, H, W)``.

    ``draw`` returns plain Python values (JSON-serialisable, so a draw can be stored) and ``apply`` is deterministic.
    """

    def __init__(self, transform: Transform) -> None:
        self.transform = transform

    def draw(self, generator: torch.Generator, shape: tuple[int, ...]) -> dict[str, Any]:
        return {key: value.item() for key, value in self.transform.draw(generator, 1).items()}

    def apply(self, x: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        dtypes = {key: value.dtype for key, value in self.transform.identity(1).items()}
        batch = {key: torch.tensor([value], dtype=dtypes[key]) for key, value in params.items()}
        return self.transform.apply(x.unsqueeze(0), batch).squeeze(0)

    def __repr__(self) -> str:
        return f"TransformAugment({self.transform!r})"


TRANSFORMS: dict[str, type[Transform]] = {"rotation": Rotation, "background": Background, "dilate_erode": DilateErode}


def make_transform(name: str, **kwargs: Any) -> Transform:
    """The transform family ``name`` (``rotation``, ``background``, ``dilate_erode``) with its arguments."""
    if name not in TRANSFORMS:
        hint = suggest(name, TRANSFORMS)
        raise ScrutinyError(f"transform: unknown '{name}'{hint}; expected one of {list(TRANSFORMS)}")
    return TRANSFORMS[name](**kwargs)
