"""CIFAR-10 and CIFAR-100 in torchvision's python format, from a local ``root``; nothing is downloaded unless asked.

Normalisation uses the per-channel train-set mean and standard deviation commonly quoted for each dataset.
The training augmentation (``augment: true``) is by default the standard pad-4 random crop and horizontal flip,
drawn per example and epoch by the trial's augmentation stream. ``crop_padding``, ``pad_mode`` (``zeros`` or
``reflect``) and ``flip`` (``random``, ``alternating`` or ``none``) change it; airbench's is ``crop_padding: 2,
pad_mode: reflect, flip: alternating`` (``legacy/airbench94.py``, ``hyp['aug']``). The images stay uint8 in
memory and are normalised when read, so that ``data.on_device`` can hold them on the GPU as bytes
(:mod:`scrutiny.data.device_data`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from scrutiny.data._bundle import DataBundle
from scrutiny.data.augment import RandomCropFlip
from scrutiny.data.batch_augment import FlipMode, PadMode
from scrutiny.data.cifar_files import read_cifar
from scrutiny.data.device_data import CompactImages
from scrutiny.errors import DataError
from scrutiny.registry import DATASETS

_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
_FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}


class _Normalised(Dataset):
    """A CIFAR split (uint8 ``data`` ``(N, 32, 32, 3)`` and ``targets``) as normalised float tensors ``(3, 32, 32)``."""

    def __init__(self, base, mean, std) -> None:
        self.data = torch.from_numpy(base.data).permute(0, 3, 1, 2).contiguous()  # uint8 (N, 3, 32, 32)
        self.targets = list(base.targets)
        self.mean = torch.tensor(mean).view(3, 1, 1)
        self.std = torch.tensor(std).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        return (self.data[i].float() / 255.0 - self.mean) / self.std, self.targets[i]

    def device_tensors(self) -> CompactImages:
        """The images as uint8 and the same normalisation, per batch (for device-resident data)."""
        return CompactImages(self.data, torch.tensor(self.targets), 255.0, self.mean[None], self.std[None])


def _build(
    which: str, root: str | None, download: bool, augment: bool, crop_padding: int, pad_mode: PadMode, flip: FlipMode
) -> DataBundle:
    if root is None:
        raise DataError(f"data.root: required for {which} (a folder that holds '{_FOLDERS[which]}')")
    if crop_padding < 0:
        raise DataError(f"data.crop_padding: expected a number of pixels >= 0, got {crop_padding}")
    if pad_mode not in ("zeros", "reflect"):
        raise DataError(f"data.pad_mode: expected zeros or reflect, got {pad_mode!r}")
    if flip not in ("random", "alternating", "none"):
        raise DataError(f"data.flip: expected random, alternating or none, got {flip!r}")
    path = Path(root).expanduser()
    if download:  # torchvision fetches and checks the archive; the files are then read like any other
        import torchvision

        cls = torchvision.datasets.CIFAR10 if which == "cifar10" else torchvision.datasets.CIFAR100
        try:
            cls(str(path), train=True, download=True)
        except (RuntimeError, OSError) as exc:
            raise DataError(f"data.download: {which} could not be fetched into '{path}' ({exc})") from None
    if not (path / _FOLDERS[which]).is_dir():
        raise DataError(
            f"data.root: {which} not found in '{path}'; put the python version of {which} there "
            f"(folder '{_FOLDERS[which]}') or set data.download=true to fetch it"
        )
    read = read_cifar(path, which)  # torchvision's files and order, without its checksum (a random folder reads too)
    train, test = read["train"], read["test"]
    mean, std = _STATS[which]
    splits = {"train": _Normalised(train, mean, std), "test": _Normalised(test, mean, std)}
    return DataBundle(
        splits=splits,
        num_classes=10 if which == "cifar10" else 100,
        in_channels=3,
        image_size=(32, 32),
        augment=RandomCropFlip(crop_padding, flip, pad_mode) if augment else None,
        info={"n_train": len(train), "n_test": len(test), "root": str(path)},
    )


@DATASETS.register("cifar10")
def cifar10(
    *,
    root: str | None = None,
    download: bool = False,
    augment: bool = True,
    crop_padding: int = 4,
    pad_mode: PadMode = "zeros",
    flip: FlipMode = "random",
) -> DataBundle:
    """CIFAR-10 (torchvision layout) from ``root``; crop (pad 4 by default) + flip augmentation."""
    return _build("cifar10", root, download, augment, crop_padding, pad_mode, flip)


@DATASETS.register("cifar100")
def cifar100(
    *,
    root: str | None = None,
    download: bool = False,
    augment: bool = True,
    crop_padding: int = 4,
    pad_mode: PadMode = "zeros",
    flip: FlipMode = "random",
) -> DataBundle:
    """CIFAR-100 (torchvision layout) from ``root``; crop (pad 4 by default) + flip augmentation."""
    return _build("cifar100", root, download, augment, crop_padding, pad_mode, flip)
