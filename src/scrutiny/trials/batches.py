"""Batches for training and evaluation.

Training order comes from a dedicated generator: ``torch.randperm(n, generator=g)`` per epoch, which is the order
``RandomSampler`` would produce with the same generator. Device-resident splits
(:class:`~scrutiny.data.device_data.DeviceSplit`) and in-memory ``TensorDataset``s without augmentation are sliced
directly (no per-example ``__getitem__`` and collate), in the same order; everything else goes through a
``DataLoader``.
Evaluation batches are sequential and never drop or pad an example.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized
from typing import TypeGuard

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, TensorDataset

from scrutiny.data.device_data import DeviceSplit


def _is_tensor_dataset(ds: Dataset) -> TypeGuard[TensorDataset]:
    return isinstance(ds, TensorDataset) and len(ds.tensors) == 2


def train_batches(
    ds: Dataset,
    batch_size: int,
    generator: torch.Generator,
    *,
    drop_last: bool,
    num_workers: int,
    order: torch.Tensor | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of training batches: shuffled from ``generator`` (which it advances), or in the given ``order``
    (indices ``(n,)``, e.g. a class-balanced epoch from :func:`scrutiny.data.samplers.sampler_order`)."""
    if isinstance(ds, DeviceSplit):
        yield from ds.batches(
            torch.randperm(len(ds), generator=generator) if order is None else order, batch_size, drop_last
        )
        return
    if order is None and _is_tensor_dataset(ds) and num_workers == 0:
        order = torch.randperm(len(ds), generator=generator)  # the order RandomSampler gives with this generator
    if order is not None:
        stop = len(order) - len(order) % batch_size if drop_last else len(order)
        if _is_tensor_dataset(ds) and num_workers == 0:
            x, y = ds.tensors
            for start in range(0, stop, batch_size):
                idx = order[start : start + batch_size]
                yield x[idx], y[idx]
            return
        yield from DataLoader(
            ds, batch_size=batch_size, sampler=order[:stop].tolist(), num_workers=num_workers, generator=generator
        )
        return
    if not isinstance(ds, Sized):
        raise TypeError(f"train_batches: {type(ds).__name__} has no length; a shuffled epoch needs one")
    sampler = RandomSampler(ds, generator=generator)
    yield from DataLoader(
        ds, batch_size=batch_size, sampler=sampler, drop_last=drop_last, num_workers=num_workers, generator=generator
    )


def eval_batches(ds: Dataset, batch_size: int, *, num_workers: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """All examples of ``ds`` in order, in batches of ``batch_size`` (the last one may be smaller)."""
    if isinstance(ds, DeviceSplit):
        yield from ds.eval_batches(batch_size)
        return
    if _is_tensor_dataset(ds) and num_workers == 0:
        x, y = ds.tensors
        for start in range(0, len(x), batch_size):
            yield x[start : start + batch_size], y[start : start + batch_size]
        return
    yield from DataLoader(ds, batch_size=batch_size, shuffle=False, drop_last=False, num_workers=num_workers)


def steps_per_epoch(n: int, batch_size: int, drop_last: bool) -> int:
    return n // batch_size if drop_last else -(-n // batch_size)


def training_length(epochs: int, n_steps: int, max_steps: int | None) -> tuple[int, int]:
    """``(epochs that train, training steps in all)`` for ``epochs`` epochs of ``n_steps`` steps, cut at
    ``max_steps`` (``train.max_steps``) where it is set: then the last epoch may be fractional and the later ones
    are not run."""
    total = epochs * n_steps
    if max_steps is None or n_steps == 0:
        return epochs, total
    total = min(total, max_steps)
    return -(-total // n_steps), total


def batch_sizes(seen: int, batch_size: int, n_steps: int) -> torch.Tensor:
    """Size of each of the ``n_steps`` training batches ``(n_steps,)`` that held ``seen`` examples in all (the last
    one may be partial)."""
    sizes = torch.full((n_steps,), batch_size, dtype=torch.float64)
    if n_steps:
        sizes[-1] = seen - batch_size * (n_steps - 1)
    return sizes


def labels_of(ds: Dataset) -> torch.Tensor:
    """Integer labels ``(N,)`` of a classification dataset: its tensors, its targets, or example by example."""
    if isinstance(ds, DeviceSplit):
        return ds.labels.long()
    base = getattr(ds, "base", ds)  # an AugmentedDataset's labels are its base's
    if _is_tensor_dataset(base):
        return base.tensors[1].long()
    if hasattr(base, "targets"):
        return torch.as_tensor(base.targets).long()
    return torch.tensor([int(base[i][1]) for i in range(len(base))])  # type: ignore[arg-type]
