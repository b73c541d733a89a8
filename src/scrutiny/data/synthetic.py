"""Random tensors of a given shape and class count, for throughput work (labels carry no signal)."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from scrutiny.data._bundle import DataBundle
from scrutiny.registry import DATASETS


@DATASETS.register("synthetic")
def synthetic(
    *,
    root: str | None = None,
    num_classes: int = 10,
    channels: int = 3,
    size: int = 32,
    n_train: int = 1024,
    n_test: int = 256,
    data_seed: int = 0,
) -> DataBundle:
    """Unit Gaussian images and uniform labels of a given shape; fixed by ``data_seed``, not the trial seed."""
    g = torch.Generator().manual_seed(data_seed)

    def make(n: int) -> TensorDataset:
        x = torch.randn(n, channels, size, size, generator=g)
        y = torch.randint(0, num_classes, (n,), generator=g)
        return TensorDataset(x, y)

    splits = {"train": make(n_train), "test": make(n_test)}
    return DataBundle(
        splits=splits,
        num_classes=num_classes,
        in_channels=channels,
        image_size=(size, size),
        info={"n_train": n_train, "n_test": n_test},
    )
