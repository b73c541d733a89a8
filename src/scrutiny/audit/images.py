"""The decoded pixels of a dataset's splits, read in chunks, for hashing and for showing pairs.

Which pixels are hashed depends on what a split holds (the split's order is kept, so index ``i`` here is example
``i`` of the split, the same ``i`` as in a trial's per-example outputs):

* image files (torchvision ``ImageFolder``, e.g. ``imagefolder``): each file decoded to RGB with Pillow, one at a
  time, so that folders of any size stream; an unreadable or truncated file is named, counted and skipped.
* uint8 arrays (``data`` of ``(N, C, H, W)`` or ``(N, H, W, C)``, e.g. torchvision's CIFAR format): used as they are.
* float tensors (``TensorDataset`` or any map-style dataset of ``(x, y)``, e.g. ``digits`` and ``synthetic``): the
  exact digest is taken of the float values; for the perceptual hash and the montage they are mapped to 0..255 by
  one affine map shared by every audited split (the smallest value to 0, the largest to 255), so that an image
  and its copy in another split map alike. For ``digits`` this gives ``round(255 * v / 16)`` of the raw 0..16 pixels.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_UNREADABLE = (OSError, SyntaxError, ValueError)


def digest(pixels: np.ndarray) -> bytes:
    """16-byte BLAKE2b digest of an array's shape, dtype and values."""
    a = np.ascontiguousarray(pixels)
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.digest()


@dataclass
class PixelSource:
    """One split's images, in the split's order.

    Attributes:
        split: The split's name.
        n: Number of examples.
        labels: Integer labels ``(n,)`` where the split has them, else ``None``.
    """

    split: str
    n: int
    labels: np.ndarray | None = None

    def name(self, i: int) -> str:
        """How a person finds example ``i`` (a file path, or ``split[i]``)."""
        return f"{self.split}[{i}]"

    def read(self, i: int) -> tuple[np.ndarray, bytes]:
        """Example ``i``: uint8 pixels ``(H, W)`` or ``(H, W, 3)`` and the digest of its decoded values.

        Raises:
            OSError, SyntaxError, ValueError: An image file that cannot be decoded.
        """
        raise NotImplementedError

    def chunks(self, size: int) -> Iterator[list[int]]:
        for start in range(0, self.n, size):
            yield list(range(start, min(start + size, self.n)))


@dataclass
class ArraySource(PixelSource):
    """Images held in memory: ``pixels`` uint8 ``(n, H, W)`` or ``(n, H, W, 3)``; ``native`` what is digested."""

    pixels: np.ndarray = field(default_factory=lambda: np.zeros((0, 1, 1), np.uint8))
    native: np.ndarray | None = None

    def read(self, i: int) -> tuple[np.ndarray, bytes]:
        values = self.native[i] if self.native is not None else self.pixels[i]
        return self.pixels[i], digest(values)


@dataclass
class FileSource(PixelSource):
    """Image files decoded one at a time (RGB); ``paths`` in the split's order."""

    paths: list[str] = field(default_factory=list)

    def name(self, i: int) -> str:
        return self.paths[i]

    def read(self, i: int) -> tuple[np.ndarray, bytes]:
        from PIL import Image

        with Image.open(self.paths[i]) as img:
            img.load()
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
        return rgb, digest(rgb)


def _hwc(x: np.ndarray) -> np.ndarray:
    """``(N, C, H, W)`` with C in {1, 3} -> ``(N, H, W)`` or ``(N, H, W, 3)``; ``(N, H, W[, 3])`` unchanged."""
    if x.ndim == 4 and x.shape[1] in (1, 3) and x.shape[-1] not in (1, 3):
        x = np.moveaxis(x, 1, -1)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] != 3):
        raise ValueError(f"expected images (N, C, H, W) or (N, H, W[, C]) with 1 or 3 channels, got {x.shape}")
    return np.ascontiguousarray(x)


def _labels(values) -> np.ndarray | None:
    try:
        out = np.asarray([int(v) for v in values], dtype=np.int64)
    except (TypeError, ValueError):
        return None
    return out


def _float_tensors(ds) -> tuple[np.ndarray, np.ndarray | None]:
    """``(x (N, C, H, W) float32, labels)`` of a map-style dataset of ``(x, y)`` pairs."""
    import torch

    tensors = getattr(ds, "tensors", None)
    if tensors is not None and len(tensors) >= 2 and tensors[0].ndim in (3, 4):
        x, y = tensors[0], tensors[1]
        return x.detach().cpu().float().numpy(), (_labels(y.tolist()) if y.ndim == 1 else None)
    xs, ys = [], []
    for i in range(len(ds)):
        x, y = ds[i]
        xs.append(torch.as_tensor(x).detach().cpu().float().numpy())
        ys.append(y)
    return np.stack(xs) if xs else np.zeros((0, 1, 1, 1), np.float32), _labels(ys)


def sources_from_splits(splits: dict[str, object]) -> dict[str, PixelSource]:
    """A :class:`PixelSource` for each named map-style dataset (see the module docstring for what is read)."""
    import torch

    out: dict[str, PixelSource] = {}
    floats: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for name, ds in splits.items():
        samples = getattr(ds, "samples", None)
        data = getattr(ds, "data", None)
        if isinstance(samples, list) and samples and isinstance(samples[0], tuple):
            paths = [str(Path(s[0])) for s in samples]
            out[name] = FileSource(name, len(paths), _labels([s[1] for s in samples]), paths=paths)
        elif isinstance(data, torch.Tensor | np.ndarray) and np.asarray(data[:1]).dtype == np.uint8:
            pixels = _hwc(data.numpy() if isinstance(data, torch.Tensor) else np.asarray(data))
            targets = getattr(ds, "targets", None)
            out[name] = ArraySource(name, len(pixels), _labels(targets) if targets is not None else None, pixels=pixels)
        else:
            floats[name] = _float_tensors(ds)
    if floats:
        finite = [x[np.isfinite(x)] for x, _ in floats.values() if x.size]
        lo = min((float(v.min()) for v in finite if v.size), default=0.0)
        hi = max((float(v.max()) for v in finite if v.size), default=1.0)
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        for name, (x, labels) in floats.items():
            pixels = np.clip(np.rint((np.nan_to_num(x) - lo) * scale), 0, 255).astype(np.uint8)
            out[name] = ArraySource(name, len(x), labels, pixels=_hwc(pixels), native=x)
    return out
