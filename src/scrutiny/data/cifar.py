"""CIFAR-10 and CIFAR-100 through torchvision, from a local ``root``; nothing is downloaded unless asked.

Normalisation uses the per-channel train-set mean and standard deviation commonly quoted for each dataset.
The training augmentation (``augment: true``) is the standard pad-4 random crop and horizontal flip, drawn per
example and epoch by the trial's augmentation stream.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from scrutiny.data._bundle import DataBundle
from scrutiny.data.augment import RandomCropFlip
from scrutiny.errors import DataError
from scrutiny.registry import DATASETS

_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
_FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}


class _Normalised(Dataset):
    """A torchvision CIFAR dataset as normalised float tensors ``(3, 32, 32)``."""

    def __init__(self, base, mean, std) -> None:
        self.data = torch.from_numpy(base.data).permute(0, 3, 1, 2).contiguous()  # uint8 (N, 3, 32, 32)
        self.targets = list(base.targets)
        self.mean = torch.tensor(mean).view(3, 1, 1)
        self.std = torch.tensor(std).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        return (self.data[i].float() / 255.0 - self.mean) / self.std, self.targets[i]


def _build(which: str, root: str | None, download: bool, augment: bool) -> DataBundle:
    import torchvision

    if root is None:
        raise DataError(f"data.root: required for {which} (a folder that holds '{_FOLDERS[which]}')")
    cls = torchvision.datasets.CIFAR10 if which == "cifar10" else torchvision.datasets.CIFAR100
    path = Path(root).expanduser()
    try:
        train = cls(str(path), train=True, download=download)
        test = cls(str(path), train=False, download=download)
    except RuntimeError as exc:
        raise DataError(
            f"data.root: {which} not found in '{path}' ({exc}); put the python version of {which} there "
            f"(folder '{_FOLDERS[which]}') or set data.download=true to fetch it"
        ) from None
    mean, std = _STATS[which]
    splits = {"train": _Normalised(train, mean, std), "test": _Normalised(test, mean, std)}
    return DataBundle(
        splits=splits,
        num_classes=10 if which == "cifar10" else 100,
        in_channels=3,
        image_size=(32, 32),
        augment=RandomCropFlip(padding=4) if augment else None,
        info={"n_train": len(train), "n_test": len(test), "root": str(path)},
    )


@DATASETS.register("cifar10")
def cifar10(*, root: str | None = None, download: bool = False, augment: bool = True) -> DataBundle:
    """CIFAR-10 (torchvision layout) from ``root``; pad-4 crop + flip augmentation."""
    return _build("cifar10", root, download, augment)


@DATASETS.register("cifar100")
def cifar100(*, root: str | None = None, download: bool = False, augment: bool = True) -> DataBundle:
    """CIFAR-100 (torchvision layout) from ``root``; pad-4 crop + flip augmentation."""
    return _build("cifar100", root, download, augment)
