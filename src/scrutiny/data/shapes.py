"""Mirror-symmetric shapes on cluttered backgrounds, as raw images of varied sizes: a miniature ImageNet for CPUs.

Registered as ``shapes``; not from a paper. The ``cpu`` scale of the ``resnet_eval`` case needs what makes the
test-time protocols of He et al. 2015 (sec. 3.4) matter, at a size that trains in a minute on one core:

* raw images larger than the training crop and of varied sizes and aspect ratios (shorter side ``min_side`` to
  ``max_side``; width/height in [3/4, 4/3]), so that 1-crop, 10-crop and whole-image evaluation see different pixels;
* one object per image at a random position and size, so that a centre crop can cut it;
* classes that are unchanged by a horizontal mirror, as ImageNet's are, since the 10 crops include mirrored ones and
  training flips images;
* clutter (thin lines and small blobs) and pixel noise, so that errors are far from zero and view averaging has
  something to average out.

Ten classes: disk, ring, square, frame (square outline), triangle (apex up), plus, cross (X), diamond, two horizontal
bars, two vertical bars. Every split is generated from ``data_seed`` alone, one ``numpy`` generator per example
(seeded by ``(data_seed, split, index)``), so an example does not depend on the split sizes or the trial seed.

The bundle has the layout of the ``imagefolder`` dataset with training augmentation on: ``train`` and ``val`` hold the
evaluation view (shorter side resized to ``resize`` with torchvision's antialiased bilinear kernel, centre crop
``size``, ImageNet mean and std), ``train_raw`` holds uint8 images ``(3, H, W)`` of their own sizes and is trained on
through :class:`~scrutiny.data.imagenet_aug.ImageNetTrainAugment`, and ``val_raw`` holds the raw validation images
that the ``crops`` probe evaluates under the image protocols.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

from scrutiny.data._bundle import DataBundle
from scrutiny.data.imagenet_aug import Interpolation, TrainAug, eval_view, train_augment
from scrutiny.errors import DataError
from scrutiny.registry import DATASETS

CLASSES = ("disk", "ring", "square", "frame", "triangle", "plus", "cross", "diamond", "hbars", "vbars")
_SPLIT_IDS = {"train": 0, "val": 1}


@functools.lru_cache(maxsize=1024)
def _mask(kind: str, n: int) -> np.ndarray:
    """Boolean ``(n, n)`` mask of one shape filling an ``n`` × ``n`` box; every mask equals its horizontal mirror."""
    c = (n - 1) / 2.0
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    dx, dy = xx - c, yy - c
    r = n / 2.0
    t = max(1.5, n / 6.0)  # stroke thickness
    if kind == "disk":
        return dx**2 + dy**2 <= r**2
    if kind == "ring":
        d = np.sqrt(dx**2 + dy**2)
        return (d <= r) & (d >= r - t)
    if kind == "square":
        return np.ones((n, n), dtype=bool)
    if kind == "frame":
        return (np.abs(dx) > c - t) | (np.abs(dy) > c - t)
    if kind == "triangle":
        return (yy >= np.abs(dx) * 2 * (n - 1) / n - 0.5) & (yy <= n - 1)
    if kind == "plus":
        return (np.abs(dx) <= t / 2) | (np.abs(dy) <= t / 2)
    if kind == "cross":
        return (np.abs(dx - dy) <= t / math.sqrt(2)) | (np.abs(dx + dy) <= t / math.sqrt(2))
    if kind == "diamond":
        return np.abs(dx) + np.abs(dy) <= r
    if kind == "hbars":
        return (np.abs(np.abs(dy) - r / 2) <= t / 2) & (np.abs(dx) <= r * 0.9)
    if kind == "vbars":
        return (np.abs(np.abs(dx) - r / 2) <= t / 2) & (np.abs(dy) <= r * 0.9)
    raise ValueError(kind)


def render(
    rng: np.random.Generator,
    label: int,
    min_side: int,
    max_side: int,
    noise: float,
    clutter: int,
    obj_min: float,
    obj_max: float,
) -> np.ndarray:
    """One image of class ``label`` drawn with ``rng``: uint8 ``(3, H, W)``, shorter side in [min_side, max_side].

    The object's box side is a fraction in [obj_min, obj_max] of the shorter side, at a uniform random position.
    """
    short = int(rng.integers(min_side, max_side + 1))
    aspect = float(np.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3))))
    if aspect >= 1:
        h, w = short, max(short, round(short * aspect))
    else:
        h, w = max(short, round(short / aspect)), short
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    background = rng.uniform(0.15, 0.85, size=3)
    slope = rng.normal(0, 0.15, size=(2, 3))
    img = background + yy[..., None] * slope[0] + xx[..., None] * slope[1]
    for _ in range(clutter):  # thin lines and small blobs in random colours
        colour = rng.uniform(0, 1, size=3)
        if rng.random() < 0.5:
            x0, y0, x1, y1 = rng.uniform(0, 1, size=4) * [w, h, w, h]
            length = max(1.0, math.hypot(x1 - x0, y1 - y0))
            s = np.linspace(0, 1, int(length * 2))
            ys = np.clip(np.round(y0 + s * (y1 - y0)).astype(int), 0, h - 1)
            xs = np.clip(np.round(x0 + s * (x1 - x0)).astype(int), 0, w - 1)
            img[ys, xs] = colour
        else:
            d = int(rng.integers(2, max(3, short // 8)))
            y, x = int(rng.integers(0, h - d)), int(rng.integers(0, w - d))
            img[y : y + d, x : x + d] = colour
    side = int(round(short * rng.uniform(obj_min, obj_max)))
    top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    colour = rng.uniform(0, 1, size=3)
    while np.abs(colour - background).max() < 0.3:  # keep the object visible against its background
        colour = rng.uniform(0, 1, size=3)
    mask = _mask(CLASSES[label], side)
    patch = img[top : top + side, left : left + side]
    patch[mask] = colour
    img = img + rng.normal(0, noise, size=img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8).transpose(2, 0, 1).copy()


class RawImages(Dataset):
    """``(uint8 image (3, H, W), label)`` pairs of varied sizes, held in memory."""

    def __init__(self, images: list[torch.Tensor], labels: list[int]) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], self.labels[index]


class EvalView(Dataset):
    """The evaluation view of raw images: shorter side to ``resize`` (bilinear, antialiased), centre ``size`` crop."""

    def __init__(self, raw: RawImages, size: int, resize: int) -> None:
        self.raw = raw
        self.transform = eval_view(size, resize)

    def __len__(self) -> int:
        return len(self.raw)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, label = self.raw[index]
        return self.transform(image), label


class _Look(NamedTuple):
    """The arguments of :func:`render` after ``rng`` and ``label``, in its order (hashable, for the cache)."""

    min_side: int
    max_side: int
    noise: float
    clutter: int
    obj_min: float
    obj_max: float


@functools.lru_cache(maxsize=8)
def _generate(split: str, n: int, data_seed: int, look: _Look) -> RawImages:
    """The raw images of a split (cached per process: a worker that runs several trials generates them once)."""
    images, labels = [], []
    for i in range(n):
        rng = np.random.default_rng([data_seed, _SPLIT_IDS[split], i])
        label = i % len(CLASSES)
        images.append(torch.from_numpy(render(rng, label, *look)))
        labels.append(label)
    return RawImages(images, labels)


@DATASETS.register("shapes")
def shapes(
    *,
    root: str | None = None,
    n_train: int = 2000,
    n_val: int = 500,
    min_side: int = 40,
    max_side: int = 64,
    noise: float = 0.06,
    clutter: int = 4,
    obj_min: float = 0.45,
    obj_max: float = 0.85,
    data_seed: int = 0,
    size: int = 28,
    resize: int = 32,
    train_aug: TrainAug = "scale_jitter",
    scale_range: tuple[int, int] = (32, 60),
    area_range: tuple[float, float] = (0.08, 1.0),
    ratio_range: tuple[float, float] = (3 / 4, 4 / 3),
    flip: bool = True,
    color_jitter: float = 0.0,
    lighting_std: float = 0.0,
    train_interpolation: Interpolation = "bilinear",
) -> DataBundle:
    """Ten mirror-symmetric shapes on cluttered backgrounds, raw images of varied sizes (a CPU-sized ImageNet).

    The defaults are the ImageNet geometry of He et al. 2015 divided by 8: 28-pixel crops (224), evaluation resize 32
    (256), training shorter side in [32, 60] ([256, 480]). Classes are balanced (example ``i`` has label ``i % 10``).

    Args:
        root: Unused (the images are generated); accepted so that ``--data-root`` overrides do not fail.
        n_train: Training images.
        n_val: Validation images (the evaluated split).
        min_side: Smallest shorter side of a raw image, in pixels.
        max_side: Largest shorter side of a raw image.
        noise: Standard deviation of the Gaussian pixel noise, in [0, 1] units.
        clutter: Distractor lines and blobs per image.
        obj_min: Smallest object side, as a fraction of the image's shorter side.
        obj_max: Largest object side, as a fraction of the shorter side.
        data_seed: Seed of the images; the trial seed never changes them.
        size: Side of the square network input (training crop and evaluation view).
        resize: Shorter side of the evaluation view before its centre crop.
        train_aug: ``"scale_jitter"`` (He et al.), ``"scale_aspect"`` (fb.resnet.torch) or ``"none"``.
        scale_range: Shorter-side range of ``scale_jitter``.
        area_range: Area fractions of ``scale_aspect``.
        ratio_range: Aspect ratios of ``scale_aspect``.
        flip: Random horizontal flip while training.
        color_jitter: Brightness/contrast/saturation strength (fb.resnet.torch: 0.4).
        lighting_std: σ of AlexNet's PCA lighting.
        train_interpolation: Resize kernel of the training geometry.
    """
    del root
    if not 0 < min_side <= max_side:
        raise DataError(f"data.min_side/max_side: expected 0 < min_side <= max_side, got {min_side}, {max_side}")
    if min_side < size:
        raise DataError(f"data.min_side: {min_side} is smaller than the crop size {size}")
    if n_train < 1 or n_val < 1:
        raise DataError(f"data.n_train/n_val: expected positive counts, got {n_train}, {n_val}")
    augment = train_augment(
        train_aug,
        size,
        resize,
        scale_range,
        area_range,
        ratio_range,
        flip,
        color_jitter,
        lighting_std,
        train_interpolation,
    )
    if not 0 < obj_min <= obj_max <= 1:
        raise DataError(f"data.obj_min/obj_max: expected 0 < obj_min <= obj_max <= 1, got {obj_min}, {obj_max}")
    look = _Look(min_side, max_side, noise, clutter, obj_min, obj_max)
    train_raw = _generate("train", n_train, data_seed, look)
    val_raw = _generate("val", n_val, data_seed, look)
    splits = {
        "train": EvalView(train_raw, size, resize),
        "val": EvalView(val_raw, size, resize),
        "train_raw": train_raw,
        "val_raw": val_raw,
    }
    return DataBundle(
        splits=splits,
        num_classes=len(CLASSES),
        in_channels=3,
        image_size=(size, size),
        augment=augment,
        train_split="train_raw",
        info={"n_train": n_train, "n_val": n_val, "classes": list(CLASSES), "source": "generated (data_seed)"},
    )
