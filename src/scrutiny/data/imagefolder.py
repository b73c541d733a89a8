"""Images in class folders: ``root/train/<class>/*`` and ``root/val/<class>/*`` (torchvision's ImageFolder).

Every split holds the evaluation view of its examples: shorter side resized to ``resize``, centre crop ``size``,
normalised with the ImageNet mean and std. Evaluation under the published protocols (1-crop, 10-crop, multi-scale)
belongs to :mod:`scrutiny.protocols`.

ImageNet-style training augmentation (:mod:`scrutiny.data.imagenet_aug`) needs the whole decoded image, not the
evaluation view. When any of ``train_aug``, ``color_jitter`` or ``lighting_std`` is on, the bundle also holds a
``train_raw`` split of uint8 images ``(3, H, W)`` of their own sizes, makes it the ``train_split``, and sets
``augment`` to an :class:`~scrutiny.data.imagenet_aug.ImageNetTrainAugment`; the trial loop's
:class:`~scrutiny.data.augment.AugmentedDataset` then draws per (epoch, example) and applies, which yields
``(3, size, size)`` float crops that batch as usual. ``train_raw`` cannot be evaluated or batched by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrutiny.data._bundle import DataBundle, Split
from scrutiny.data.imagenet_aug import Interpolation, TrainAug, eval_view, train_augment
from scrutiny.errors import DataError
from scrutiny.registry import DATASETS

if TYPE_CHECKING:
    from torchvision.datasets import ImageFolder


def _folder(path: Path, transform: Callable[[Any], Any]) -> ImageFolder:
    import torchvision

    try:
        return torchvision.datasets.ImageFolder(str(path), transform=transform)
    except (FileNotFoundError, RuntimeError) as exc:
        raise DataError(f"data.root: '{path}': {exc}") from None


@DATASETS.register("imagefolder")
def imagefolder(
    *,
    root: str | None = None,
    size: int = 224,
    resize: int = 256,
    train_aug: TrainAug = "none",
    scale_range: tuple[int, int] = (256, 480),
    area_range: tuple[float, float] = (0.08, 1.0),
    ratio_range: tuple[float, float] = (3 / 4, 4 / 3),
    flip: bool = True,
    color_jitter: float = 0.0,
    lighting_std: float = 0.0,
    train_interpolation: Interpolation = "bilinear",
    val_only: bool = False,
) -> DataBundle:
    """Class-folder images under root/train and root/val, resized to ``resize`` and centre-cropped to ``size``.

    Args:
        root: Folder holding ``train/`` and ``val/`` class folders.
        size: Side of the (square) network input.
        resize: Shorter side before the centre crop of the evaluation view.
        train_aug: Training geometry: ``"none"``, ``"scale_jitter"`` (He et al. 2015: shorter side in
            ``scale_range``, random crop) or ``"scale_aspect"`` (fb.resnet.torch's Inception-style crop).
        scale_range: Shorter-side range of ``scale_jitter`` (inclusive).
        area_range: Area fractions of ``scale_aspect``.
        ratio_range: Aspect ratios of ``scale_aspect``.
        flip: Random horizontal flip while training (only when augmentation is on).
        color_jitter: Brightness/contrast/saturation strength (fb.resnet.torch: 0.4; 0 = off).
        lighting_std: σ of AlexNet's PCA lighting (0.1 in both recipes; 0 = off).
        train_interpolation: Resize kernel of the training geometry (fb.resnet.torch: bicubic).
        val_only: Read only ``root/val`` (for evaluating published weights with ``train.epochs: 0``: no scan of the
            training images, and a copy of the validation set is all that is needed); ``val`` then also stands in
            as the training split, so training on it is refused.
    """
    from torchvision.transforms import v2

    if root is None:
        raise DataError("data.root: required for imagefolder (a folder with train/ and val/ class folders)")
    base = Path(root).expanduser()
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
    transform = v2.Compose([v2.PILToTensor(), eval_view(size, resize)])
    augmenting = train_aug != "none" or color_jitter > 0 or lighting_std > 0
    if val_only:
        if augmenting:
            raise DataError(
                "data.val_only: for evaluation only; training augmentation (train_aug, color_jitter, "
                "lighting_std) needs train/"
            )
        folder = base / "val"
        if not folder.is_dir():
            raise DataError(f"data.root: '{folder}' does not exist (imagefolder with val_only expects {base}/val)")
        val = _folder(folder, transform)
        return DataBundle(
            splits={"val": val},
            num_classes=len(val.classes),
            in_channels=3,
            image_size=(size, size),
            train_split="val",
            info={"n_val": len(val), "root": str(base), "val_only": True},
        )
    folders: dict[str, ImageFolder] = {}
    for split in ("train", "val"):
        folder = base / split
        if not folder.is_dir():
            raise DataError(f"data.root: '{folder}' does not exist (imagefolder expects {base}/train and {base}/val)")
        folders[split] = _folder(folder, transform)
    classes = folders["train"].classes
    if folders["val"].classes != classes:
        raise DataError(f"data.root: class folders of '{base}/train' and '{base}/val' differ")
    splits: dict[str, Split] = dict(folders)
    if augmenting:
        splits["train_raw"] = _folder(base / "train", v2.PILToTensor())
    return DataBundle(
        splits=splits,
        num_classes=len(classes),
        in_channels=3,
        image_size=(size, size),
        augment=augment if augmenting else None,
        train_split="train_raw" if augmenting else "train",
        info={"n_train": len(folders["train"]), "n_val": len(folders["val"]), "root": str(base)},
    )
