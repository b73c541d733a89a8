"""Helpers for the protocol tests: random images of odd sizes and small random-weight models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn


def random_image(width: int, height: int, seed: int) -> Image.Image:
    """A "real-looking" RGB image: a smooth colour gradient plus noise, ``width`` × ``height``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([xx / width, yy / height, (xx + yy) / (width + height)], axis=-1) * rng.uniform(80, 200, size=3)
    pixels = np.clip(base + rng.normal(0, 30, size=(height, width, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, mode="RGB")


def write_images(folder: Path, sizes: list[tuple[int, int]], seed: int = 0) -> list[Path]:
    """Save PNGs (lossless) of the given ``(width, height)`` sizes; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (w, h) in enumerate(sizes):
        path = folder / f"img{i}_{w}x{h}.png"
        random_image(w, h, seed + i).save(path)
        paths.append(path)
    return paths


class SmallCNN(nn.Module):
    """Strided convs, global average pool, fc: accepts any input size >= 8."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 5, stride=4, padding=2), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU()
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.features(x)).flatten(1))


class ChannelMean(nn.Module):
    """Position-invariant: the mean of each channel, then a linear layer."""

    def __init__(self, num_classes: int = 6) -> None:
        super().__init__()
        self.fc = nn.Linear(3, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3)))
