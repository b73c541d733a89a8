"""scikit-learn's 8×8 handwritten digits: 1,797 real images, shipped with scikit-learn, no download.

Split: a fixed stratified split with ``test_fraction`` of each class held out (default 0.25: 1,347 train and
450 test), drawn by ``sklearn.model_selection.train_test_split(..., stratify=y, random_state=split_seed)``
with ``split_seed=0``. The split never depends on the trial seed. Pixel values (0..16) are scaled to [0, 1],
then standardised with the train split's mean and standard deviation.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch.utils.data import TensorDataset

from scrutiny.data._bundle import DataBundle
from scrutiny.errors import DataError
from scrutiny.registry import DATASETS


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Images ``(1797, 8, 8)`` float64 in [0, 1] and labels ``(1797,)`` int64."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images / 16.0, bunch.target.astype(np.int64)


@DATASETS.register("digits")
def digits(
    *,
    root: str | None = None,
    size: Literal[8, 16, 32] = 8,
    channels: Literal[1, 3] = 1,
    test_fraction: float = 0.25,
    split_seed: int = 0,
) -> DataBundle:
    """scikit-learn digits (8×8, 10 classes), stratified fixed split; optional resize to 16 or 32 px."""
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"data.test_fraction: expected a number in (0, 1), got {test_fraction}")
    images, labels = load_digits_arrays()
    index = np.arange(len(labels))
    train_idx, test_idx = train_test_split(index, test_size=test_fraction, stratify=labels, random_state=split_seed)
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    x = torch.from_numpy(images).float().unsqueeze(1)
    if size != 8:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    mean, std = x[train_idx].mean(), x[train_idx].std()
    x = (x - mean) / std
    if channels == 3:
        x = x.expand(-1, 3, -1, -1).contiguous()
    y = torch.from_numpy(labels)
    splits = {
        "train": TensorDataset(x[train_idx], y[train_idx]),
        "test": TensorDataset(x[test_idx], y[test_idx]),
    }
    info = {"n_train": len(train_idx), "n_test": len(test_idx), "source": "sklearn.datasets.load_digits"}
    return DataBundle(splits=splits, num_classes=10, in_channels=channels, image_size=(size, size), info=info)
