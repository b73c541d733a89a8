"""Training augmentations with their randomness drawn apart from its application.

An :class:`Augment` draws the parameters of one example from a ``torch.Generator`` and then applies them
deterministically. :class:`AugmentedDataset` seeds that generator from ``(augment seed, epoch, index)``, so the
transform of any example in any epoch can be replayed exactly, whatever the loader's worker count or order.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

import torch
from torch.utils.data import Dataset

from scrutiny.data._bundle import Split, n_examples
from scrutiny.data.batch_augment import BatchCropFlip, FlipMode, PadMode, pad


class Augment(Protocol):
    """A random transform of one example ``(C, H, W)``, split into draw and apply."""

    def draw(self, generator: torch.Generator, shape: tuple[int, ...]) -> dict[str, Any]: ...

    def apply(self, x: torch.Tensor, params: dict[str, Any]) -> torch.Tensor: ...


class RandomCropFlip:
    """Pad by ``padding``, crop back to the original size at a random offset, flip horizontally with p=0.5.

    The standard CIFAR augmentation (He et al. 2016, section 4.2) with zero padding; ``pad_mode="reflect"`` pads
    by reflection (airbench's translate). ``flip``: ``True``/``"random"``, ``False``/``"none"``, or
    ``"alternating"``, which only the batched form draws (it needs the epoch; :mod:`scrutiny.data.batch_augment`).
    :meth:`batched` gives that form for device-resident data; it draws per epoch rather than per example.
    """

    def __init__(self, padding: int = 4, flip: bool | FlipMode = True, pad_mode: PadMode = "zeros") -> None:
        self.padding, self.pad_mode = padding, pad_mode
        self.flip_mode: FlipMode = "random" if flip is True else "none" if flip is False else flip
        self.flip = self.flip_mode != "none"

    def describe(self) -> dict[str, Any]:
        return self.batched().describe()  # the same parameters

    @property
    def per_example(self) -> bool:
        """Whether the per-example path can draw it (the alternating flip cannot)."""
        return self.flip_mode != "alternating"

    def batched(self) -> BatchCropFlip:
        """The batched form, with the same padding and flip."""
        return BatchCropFlip(self.padding, self.pad_mode, self.flip_mode)

    def draw(self, generator: torch.Generator, shape: tuple[int, ...]) -> dict[str, Any]:
        top, left = torch.randint(0, 2 * self.padding + 1, (2,), generator=generator).tolist()
        flip = bool(torch.rand((), generator=generator) < 0.5) if self.flip else False
        return {"top": top, "left": left, "flip": flip}

    def apply(self, x: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        h, w = x.shape[-2:]
        padded = pad(x, self.padding, self.pad_mode)
        out = padded[..., params["top"] : params["top"] + h, params["left"] : params["left"] + w]
        return out.flip(-1) if params["flip"] else out


def example_seed(seed: int, epoch: int, index: int) -> int:
    """A 63-bit seed for one example in one epoch, independent of every other (seed, epoch, index)."""
    digest = hashlib.sha256(f"{seed}:{epoch}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


class AugmentedDataset(Dataset[tuple[torch.Tensor, int | torch.Tensor]]):
    """Wraps a dataset of ``(x, y)`` and applies ``augment`` with parameters seeded per (epoch, index).

    Call :meth:`set_epoch` before each epoch; loader workers receive the value when they are started.
    """

    def __init__(self, base: Split, augment: Augment, seed: int) -> None:
        self.base, self.augment, self.seed = base, augment, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Seed the next epoch's draws with ``epoch``; an augmentation with its own ``set_epoch`` hears it too."""
        self.epoch = epoch
        hook = getattr(self.augment, "set_epoch", None)
        if callable(hook):
            hook(epoch)

    def params(self, index: int, shape: tuple[int, ...]) -> dict[str, Any]:
        generator = torch.Generator().manual_seed(example_seed(self.seed, self.epoch, index))
        return self.augment.draw(generator, shape)

    def __len__(self) -> int:
        return n_examples(self.base)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int | torch.Tensor]:
        x, y = self.base[index]
        return self.augment.apply(x, self.params(index, tuple(x.shape))), y
