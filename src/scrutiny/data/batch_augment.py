"""Batched augmentation: a whole epoch's parameters drawn at once on the CPU, applied to batches on any device.

:class:`BatchCropFlip` is the batched form of :class:`~scrutiny.data.augment.RandomCropFlip`. For an epoch it draws
the parameters of every example of the dataset at once (:meth:`BatchCropFlip.draw`) from a CPU generator seeded by
``(augment seed, epoch)`` alone, indexed by the example's position in the dataset. So the draws do not depend on
the device, the batch size, the shuffle order or the number of batches, and the transform of example ``index`` in
``epoch`` is replayed by drawing that epoch again and taking row ``index``. :meth:`BatchCropFlip.apply` then crops
and flips a batch ``(B, C, H, W)`` with one gather on the batch's device.

The per-example path (:class:`~scrutiny.data.augment.AugmentedDataset`, one generator per example seeded by
``(seed, epoch, index)``) draws other numbers: both are replayable, and a trial records which one it used
(``data.json``: ``loading``). :meth:`BatchCropFlip.example_params` turns one row of a batched draw into the
per-example parameters, and ``RandomCropFlip.apply`` of those gives the same image as the batched path (tested).

Flip modes: ``random`` flips each example with probability 0.5 in every epoch; ``alternating`` draws one random
mask for the run (from the seed alone) and flips every example the other way on every other epoch, so that an
example is seen both ways in any two consecutive epochs (the "alternating flip" of airbench; Jordan 2024, section
3.6; ``legacy/airbench94.py``, ``CifarLoader.__iter__``: pre-flipped at random once, all flipped on odd epochs
counted from 0); ``none`` never flips.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import torch
import torch.nn.functional as F

PadMode = Literal["zeros", "reflect"]
FlipMode = Literal["random", "alternating", "none"]
_TORCH_PAD = {"zeros": "constant", "reflect": "reflect"}


def epoch_seed(seed: int, epoch: int, stream: str = "batch") -> int:
    """A 63-bit seed for one epoch's batched draws, independent of every other (seed, epoch, stream)."""
    digest = hashlib.sha256(f"{seed}:{epoch}:{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def pad(x: torch.Tensor, padding: int, mode: PadMode) -> torch.Tensor:
    """``x`` ``(..., H, W)`` padded by ``padding`` on every side, with zeros or by reflection (edge not repeated)."""
    return F.pad(x, (padding,) * 4, mode=_TORCH_PAD[mode]) if padding else x


class BatchCropFlip:
    """Pad by ``padding`` (zeros or reflection), crop back at a random offset, flip horizontally; batch at a time.

    Args:
        padding: Pixels of padding on each side; the crop offset is uniform in ``0..2*padding`` on each axis
            (a translation by up to ``padding`` pixels).
        pad_mode: ``zeros`` (the standard CIFAR augmentation, He et al. 2016, section 4.2) or ``reflect`` (airbench's
            translate, ``legacy/airbench94.py``: ``F.pad(images, (pad,)*4, 'reflect')``).
        flip: ``random``, ``alternating`` or ``none`` (see the module docstring).
    """

    def __init__(self, padding: int = 4, pad_mode: PadMode = "zeros", flip: FlipMode = "random") -> None:
        self.padding, self.pad_mode, self.flip = padding, pad_mode, flip

    def describe(self) -> dict[str, Any]:
        return {"name": "crop_flip", "padding": self.padding, "pad_mode": self.pad_mode, "flip": self.flip}

    def draw(self, seed: int, epoch: int, n: int) -> dict[str, torch.Tensor]:
        """The parameters of all ``n`` examples in ``epoch``: ``top``, ``left`` (int64) and ``flip`` (bool), ``(n,)``.

        Drawn on the CPU from ``(seed, epoch)`` only, in the order top, left, flip.
        """
        generator = torch.Generator().manual_seed(epoch_seed(seed, epoch))
        span = 2 * self.padding + 1
        top = torch.randint(0, span, (n,), generator=generator)
        left = torch.randint(0, span, (n,), generator=generator)
        if self.flip == "random":
            flip = torch.rand(n, generator=generator) < 0.5
        elif self.flip == "alternating":
            mask = torch.rand(n, generator=torch.Generator().manual_seed(epoch_seed(seed, 0, "flip_mask"))) < 0.5
            flip = mask ^ (epoch % 2 == 0)  # epochs count from 1: epoch 1 takes the mask, epoch 2 its opposite, ...
        else:
            flip = torch.zeros(n, dtype=torch.bool)
        return {"top": top, "left": left, "flip": flip}

    @staticmethod
    def example_params(draws: dict[str, torch.Tensor], index: int) -> dict[str, Any]:
        """Row ``index`` of a batched draw as the per-example parameters of ``RandomCropFlip.apply``."""
        return {"top": int(draws["top"][index]), "left": int(draws["left"][index]), "flip": bool(draws["flip"][index])}

    def apply(self, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Crop and flip a batch ``x`` ``(B, C, H, W)`` with the rows of a draw for its examples (``(B,)`` each).

        One gather over the flattened padded images: output pixel ``(i, j)`` of example ``b`` is padded pixel
        ``(top[b] + i, left[b] + j)``, or ``left[b] + W - 1 - j`` where ``flip[b]``. The parameters are moved to
        ``x``'s device here.
        """
        b, c, h, w = x.shape
        device = x.device
        top, left, flip = (params[k].to(device, non_blocking=True) for k in ("top", "left", "flip"))
        padded = pad(x, self.padding, self.pad_mode)
        ahead = torch.arange(w, device=device)
        rows = top[:, None] + torch.arange(h, device=device)  # (B, H)
        cols = left[:, None] + torch.where(flip[:, None], w - 1 - ahead, ahead)  # (B, W)
        flat = (rows[:, :, None] * padded.shape[-1] + cols[:, None, :]).reshape(b, 1, h * w).expand(b, c, h * w)
        return torch.gather(padded.reshape(b, c, -1), 2, flat).reshape(b, c, h, w)
