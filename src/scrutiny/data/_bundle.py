"""What a dataset builder returns: the splits and the facts a model builder needs."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch.utils.data import Dataset

from scrutiny.data.augment import Augment


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

    splits: dict[str, Dataset]
    num_classes: int
    in_channels: int
    image_size: tuple[int, int] | None
    augment: Augment | None = None
    train_split: str = "train"
    info: dict = field(default_factory=dict)
    task: str = "classification"
    task_args: dict = field(default_factory=dict)

    def split(self, name: str) -> Dataset:
        from scrutiny.errors import DataError

        if name not in self.splits:
            raise DataError(f"data: split '{name}' does not exist; this dataset has {sorted(self.splits)}")
        return self.splits[name]
