"""Generated images with planted duplicates of known kinds, to measure detectors' recall and false positives.

The base images are smooth random colour fields (bicubic upsampling of 4×4 and 8×8 Gaussian noise) with a random
filled rectangle and ellipse and a little pixel noise: varied, with structure at several scales, but not
photographs, so rates measured here describe these images only. Each planted duplicate is a training image
changed in one of :data:`KINDS` and put into the test split; its source index is recorded.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SIDE = 32


def base_images(n: int, rng: np.random.Generator, side: int = SIDE) -> np.ndarray:
    """``n`` generated RGB images, uint8 ``(n, side, side, 3)``."""
    import torch
    import torch.nn.functional as F

    out = np.zeros((n, side, side, 3), dtype=np.float32)
    for coarse, weight in ((4, 70.0), (8, 35.0)):
        noise = torch.from_numpy(rng.normal(size=(n, 3, coarse, coarse)).astype(np.float32))
        up = F.interpolate(noise, size=(side, side), mode="bicubic", align_corners=False)
        out += weight * up.permute(0, 2, 3, 1).numpy()
    out += 128.0
    yy, xx = np.mgrid[0:side, 0:side]
    for k in range(n):
        y0, x0 = rng.integers(0, side - 8, 2)
        h, w = rng.integers(6, side // 2, 2)
        out[k, y0 : y0 + h, x0 : x0 + w] = rng.uniform(0, 255, 3)
        cy, cx, ry, rx = *rng.uniform(4, side - 4, 2), *rng.uniform(3, side / 3, 2)
        out[k, ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = rng.uniform(0, 255, 3)
    out += rng.normal(0, 4.0, size=out.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _pil(x: np.ndarray):
    from PIL import Image

    return Image.fromarray(x)


def _jpeg(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    _pil(x).save(buf, format="JPEG", quality=int(rng.integers(70, 91)))
    return np.asarray(Image.open(buf).convert("RGB"))


def _shift(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    dy, dx = rng.choice([-1, 1], 2) * rng.integers(1, 3, 2)
    padded = np.pad(x, ((2, 2), (2, 2), (0, 0)), mode="edge")
    return padded[2 + dy : 2 + dy + x.shape[0], 2 + dx : 2 + dx + x.shape[1]]


def _crop(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from PIL import Image

    side = x.shape[0]
    c = int(round(side * rng.uniform(0.85, 0.93)))
    y0, x0 = rng.integers(0, side - c + 1, 2)
    return np.asarray(_pil(x[y0 : y0 + c, x0 : x0 + c]).resize((side, side), Image.Resampling.BILINEAR))


def _brightness(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(x.astype(np.float32) + rng.choice([-1, 1]) * rng.uniform(15, 30), 0, 255).astype(np.uint8)


def _contrast(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    f = x.astype(np.float32)
    return np.clip((f - f.mean()) * rng.uniform(0.7, 1.3) + f.mean(), 0, 255).astype(np.uint8)


def _resize(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from PIL import Image

    side = x.shape[0]
    small = int(rng.integers(side // 2, 3 * side // 4 + 1))
    down = _pil(x).resize((small, small), Image.Resampling.BILINEAR)
    return np.asarray(down.resize((side, side), Image.Resampling.BILINEAR))


KINDS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "exact": lambda x, rng: x.copy(),
    "jpeg": _jpeg,
    "shift": _shift,
    "crop": _crop,
    "brightness": _brightness,
    "contrast": _contrast,
    "resize": _resize,
}


@dataclass
class PlantedSet:
    """Train and test images where ``test[planted_test[k]]`` is ``train[planted_train[k]]`` changed by
    ``kinds[k]``; every other test image is drawn independently.

    Attributes:
        train: uint8 ``(n_train, 32, 32, 3)``.
        test: uint8 ``(n_test, 32, 32, 3)``.
        planted_test, planted_train: int64 ``(n_planted,)``.
        kinds: Name of the change of each planted image.
    """

    train: np.ndarray
    test: np.ndarray
    planted_test: np.ndarray
    planted_train: np.ndarray
    kinds: list[str]


def planted_set(n_train: int, n_test: int, per_kind: int, seed: int = 0) -> PlantedSet:
    """Generate a set with ``per_kind`` planted duplicates of each kind of :data:`KINDS` in its test split."""
    rng = np.random.default_rng(seed)
    n_planted = per_kind * len(KINDS)
    if n_planted > min(n_train, n_test):
        raise ValueError(f"per_kind: {per_kind} x {len(KINDS)} kinds exceeds the split sizes")
    train = base_images(n_train, rng)
    test = base_images(n_test, rng)
    planted_test = rng.choice(n_test, n_planted, replace=False)
    planted_train = rng.choice(n_train, n_planted, replace=False)
    kinds = [k for k in KINDS for _ in range(per_kind)]
    for t, s, kind in zip(planted_test, planted_train, kinds, strict=True):
        test[t] = KINDS[kind](train[s], rng)
    return PlantedSet(train, test, planted_test.astype(np.int64), planted_train.astype(np.int64), kinds)
