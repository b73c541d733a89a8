"""What a dataset builder returns: the splits and the facts a model builder needs."""

from __future__ import annotations

from collections.abc import Mapping, Sized
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

import torch
from torch.utils.data import Dataset

if TYPE_CHECKING:
    from scrutiny.data.augment import Augment

Example: TypeAlias = tuple[torch.Tensor, int | torch.Tensor] | tuple[torch.Tensor, ...]
"""One example of a split: ``(x, y)``, ``x`` a float tensor ``(C, H, W)``, ``y`` an int label or a target tensor.
The second form is what :class:`torch.utils.data.TensorDataset` declares."""

Split: TypeAlias = Dataset[Example]
"""A map-style dataset of examples; every split of a bundle also has a length (see :func:`n_examples`)."""


def n_examples(split: Dataset[Any]) -> int:
    """The number of examples of a map-style dataset; one without a length raises :class:`DataError`."""
    from scrutiny.errors import DataError

    if not isinstance(split, Sized):
        raise DataError(f"data: a split must be a map-style dataset with a length, not {type(split).__name__}")
    return len(split)


@dataclass(frozen=True)
class DataBundle:
    """The splits of one dataset.

    Attributes:
        splits: Split name -> map-style dataset of ``(x, y)`` pairs; ``x`` a float tensor ``(C, H, W)``, ``y`` an int.
            Every split holds the evaluation view of its examples (no random transform).
        num_classes: Number of classes.
        in_channels: Channels of ``x``.
        image_size: ``(H, W)`` of ``x``, or ``None`` where sizes vary.
        augment: Random training transform, drawn per example and epoch by the trial (see :mod:`scrutiny.data.augment`).
        train_split: Name of the split that is trained on.
        info: Free-form, JSON-serialisable facts recorded with the trial (split sizes, source files).
        task: What the targets are: ``classification`` (an int per example), ``regression`` or ``rendering``
            (see :mod:`scrutiny.trials.tasks`), with ``task_args`` (e.g. ``{"scale": 64}`` for regression).
    """

    splits: Mapping[str, Split]
    num_classes: int
    in_channels: int
    image_size: tuple[int, int] | None
    augment: Augment | None = None
    train_split: str = "train"
    info: dict[str, Any] = field(default_factory=dict)
    task: str = "classification"
    task_args: dict[str, Any] = field(default_factory=dict)

    def split(self, name: str) -> Split:
        from scrutiny.errors import DataError

        if name not in self.splits:
            raise DataError(f"data: split '{name}' does not exist; this dataset has {sorted(self.splits)}")
        return self.splits[name]
