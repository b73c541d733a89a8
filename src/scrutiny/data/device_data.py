"""Device-resident data: an in-memory split held on the training device, compactly, batched without a DataLoader.

``data.on_device`` decides (:func:`place_splits`): ``true`` puts the training and evaluation splits on the trial's
device or fails in one line naming the key; ``false`` keeps the per-example path (``DataLoader``, or slices of a
``TensorDataset``, with :class:`~scrutiny.data.augment.AugmentedDataset` for augmentation); ``auto`` (the default)
puts them there on a CUDA device when they fit in a quarter of its free memory, and never on the CPU, where the
per-example path costs little and keeps the numbers of earlier runs.

What can go there: a ``TensorDataset`` of ``(x, y)``, a split with a ``device_tensors()`` method (CIFAR keeps its
images as uint8 and normalises per batch), and a ``Subset`` of either. Image folders keep the ``DataLoader`` path.
Storage is compact and exact: uint8 where the dataset holds bytes, fp16 where a float split survives the round
trip to fp16 bit for bit (the digits do), its own dtype otherwise. A batch is normalised as the per-example path
normalises one example (the same operations in the same order), so the numbers agree; the augmentation, where
there is one, is the batched form of the dataset's (:mod:`scrutiny.data.batch_augment`), drawn per epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from scrutiny.data._bundle import DataBundle, Split
from scrutiny.data.batch_augment import BatchCropFlip
from scrutiny.errors import DataError

#: Share of a CUDA device's free memory that ``on_device: auto`` may fill with data.
AUTO_MEMORY_SHARE = 0.25


@dataclass(frozen=True)
class CompactImages:
    """A split's examples as stored tensors and the exact way back to the float view.

    The float view of ``x`` is ``x.float()``, divided by ``divisor`` where set, then ``(x - mean) / std`` where set
    (``mean``, ``std`` broadcast over ``(N, C, H, W)``, e.g. ``(1, C, 1, 1)``).
    """

    x: torch.Tensor
    y: torch.Tensor
    divisor: float | None = None
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None


def compact_images(split: Split) -> CompactImages | None:
    """The compact tensors of an in-memory split, or ``None`` where the split is not held in memory."""
    if isinstance(split, TensorDataset) and len(split.tensors) == 2:
        x, y = split.tensors
        if x.is_floating_point() and x.dtype != torch.float16 and torch.equal(x.half().to(x.dtype), x):
            x = x.half()  # exact: every value survives the round trip
        return CompactImages(x, y)
    own = getattr(split, "device_tensors", None)
    if callable(own):
        result = own()
        return result if isinstance(result, CompactImages) else None
    if isinstance(split, Subset):
        inner = compact_images(split.dataset)
        if inner is None:
            return None
        index = torch.as_tensor(list(split.indices), dtype=torch.long)
        return CompactImages(inner.x[index], inner.y[index], inner.divisor, inner.mean, inner.std)
    return None


def _nbytes(images: CompactImages) -> int:
    return images.x.numel() * images.x.element_size() + images.y.numel() * images.y.element_size()


class DeviceSplit(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """One split on a device: stored tensors, the float view per batch, and the batched augmentation's draws.

    Args:
        images: The split's compact tensors.
        device: Where they are held and batches are made.
        augment: The batched training augmentation (``None``: none, and for every evaluation split).
        seed: The trial's augmentation seed; the draws of an epoch come from ``(seed, epoch)``.

    Call :meth:`set_epoch` before each training epoch; indexing (``split[i]``) gives the evaluation view of one
    example, for code that reads a split example by example.
    """

    def __init__(
        self, images: CompactImages, device: torch.device, augment: BatchCropFlip | None = None, seed: int = 0
    ) -> None:
        self.x = images.x.to(device)
        self.y = images.y.to(device)
        self.divisor = images.divisor
        self.mean = images.mean.to(device) if images.mean is not None else None
        self.std = images.std.to(device) if images.std is not None else None
        self.device, self.augment, self.seed = device, augment, seed
        self.epoch = 0
        self._draws: dict[str, torch.Tensor] | None = None

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.view(self.x[index : index + 1])[0], self.y[index]

    @property
    def labels(self) -> torch.Tensor:
        """Labels ``(N,)`` on the CPU."""
        return self.y.cpu()

    def set_epoch(self, epoch: int) -> None:
        """Draw the augmentation of every example for ``epoch`` (on the CPU) and move the draws to the device."""
        self.epoch = epoch
        if self.augment is not None:
            drawn = self.augment.draw(self.seed, epoch, len(self))
            self._draws = {k: v.to(self.device) for k, v in drawn.items()}

    def view(self, stored: torch.Tensor) -> torch.Tensor:
        """Stored examples as the float tensors the model sees (the same operations as the per-example path)."""
        x = stored.float()
        if self.divisor is not None:
            x = x / self.divisor
        if self.mean is not None:
            x = x - self.mean
        if self.std is not None:
            x = x / self.std
        return x

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The training batch of the examples at ``index`` ``(B,)``: float view, augmented with this epoch's draws."""
        index = index.to(self.device, non_blocking=True)
        x = self.view(self.x[index])
        if self.augment is not None:
            if self._draws is None:
                raise RuntimeError("DeviceSplit.batch: set_epoch was not called before the first training batch")
            x = self.augment.apply(x, {k: v[index] for k, v in self._draws.items()})
        return x, self.y[index]

    def batches(
        self, order: torch.Tensor, batch_size: int, drop_last: bool
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Training batches in ``order`` ``(n,)`` (shuffled or sampled by the caller)."""
        stop = len(order) - len(order) % batch_size if drop_last else len(order)
        order = order.to(self.device)
        for start in range(0, stop, batch_size):
            yield self.batch(order[start : start + batch_size])

    def eval_batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Every example in order, without augmentation (the last batch may be smaller)."""
        for start in range(0, len(self), batch_size):
            yield self.view(self.x[start : start + batch_size]), self.y[start : start + batch_size]


def place_splits(
    on_device: bool | str,
    bundle: DataBundle,
    train_split: Split,
    eval_split: Split,
    device: torch.device,
    seed: int,
) -> tuple[DeviceSplit, DeviceSplit, dict[str, Any]] | None:
    """The training and evaluation splits on ``device``, with what was decided, or ``None`` to keep them where they are.

    Args:
        on_device: ``data.on_device``: ``True``, ``False`` or ``"auto"``.
        bundle: The dataset (its ``augment`` is made batched).
        train_split, eval_split: The two splits as the bundle gives them.
        device: The trial's device.
        seed: The augmentation seed.

    Raises:
        DataError: ``on_device: true`` for a split that is not held in memory or an augmentation without a batched
            form.
    """
    if on_device is False or (on_device == "auto" and device.type != "cuda"):
        return None
    forced = on_device is True
    augment = None
    if bundle.augment is not None:
        batched = getattr(bundle.augment, "batched", None)
        if not callable(batched):
            if forced:
                raise DataError(
                    f"data.on_device: the augmentation of this dataset ({type(bundle.augment).__name__}) has no "
                    "batched form; set data.on_device: false"
                )
            return None
        augment = batched()
    train, evaluation = compact_images(train_split), compact_images(eval_split)
    if train is None or evaluation is None:
        if forced:
            which = "training" if train is None else "evaluation"
            raise DataError(
                f"data.on_device: the {which} split ({type(train_split if train is None else eval_split).__name__}) "
                "is not held in memory (an image folder keeps the DataLoader path); set data.on_device: false"
            )
        return None
    need = _nbytes(train) + _nbytes(evaluation)
    if not forced:
        free, _ = torch.cuda.mem_get_info(device)
        if need > AUTO_MEMORY_SHARE * free:
            return None
    record = {
        "on_device": True,
        "device": str(device),
        "storage": str(train.x.dtype).removeprefix("torch."),
        "bytes": need,
        "augment": augment.describe() if augment is not None else None,
        "augment_draws": "batched per (seed, epoch)" if augment is not None else None,
    }
    return DeviceSplit(train, device, augment, seed), DeviceSplit(evaluation, device), record
