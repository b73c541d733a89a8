"""Images in class folders: ``root/train/<class>/*`` and ``root/val/<class>/*`` (torchvision's ImageFolder).

Training examples are resized and centre-cropped to ``size``, like evaluation ones; a random training transform
for ImageNet-style recipes is future work. Evaluation under the published protocols (1-crop, 10-crop,
multi-scale) belongs to :mod:`scrutiny.protocols`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from scrutiny.data._bundle import DataBundle
from scrutiny.errors import DataError
from scrutiny.registry import DATASETS

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@DATASETS.register("imagefolder")
def imagefolder(*, root: str | None = None, size: int = 224, resize: int = 256) -> DataBundle:
    """Class-folder images under root/train and root/val, resized to ``resize`` and centre-cropped to ``size``."""
    import torchvision
    from torchvision.transforms import v2

    if root is None:
        raise DataError("data.root: required for imagefolder (a folder with train/ and val/ class folders)")
    base = Path(root).expanduser()
    transform = v2.Compose(
        [
            v2.PILToTensor(),
            v2.Resize(resize, antialias=True),
            v2.CenterCrop(size),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )
    splits = {}
    for split in ("train", "val"):
        folder = base / split
        if not folder.is_dir():
            raise DataError(f"data.root: '{folder}' does not exist (imagefolder expects {base}/train and {base}/val)")
        try:
            splits[split] = torchvision.datasets.ImageFolder(str(folder), transform=transform)
        except (FileNotFoundError, RuntimeError) as exc:
            raise DataError(f"data.root: '{folder}': {exc}") from None
    classes = splits["train"].classes
    if splits["val"].classes != classes:
        raise DataError(f"data.root: class folders of '{base}/train' and '{base}/val' differ")
    return DataBundle(
        splits=splits,
        num_classes=len(classes),
        in_channels=3,
        image_size=(size, size),
        info={"n_train": len(splits["train"]), "n_val": len(splits["val"]), "root": str(base)},
    )
