"""Training orders for long-tailed data: uniform (ERM), class-balanced, and deferred re-sampling (DRS).

Each function returns the indices of one epoch, drawn from an explicit ``torch.Generator``:

- ``uniform``: ``torch.randperm(n, generator=g)``, exactly the order of
  :func:`scrutiny.trials.batches.train_batches` (each example once per epoch).
- ``class_balanced``: each position draws a class uniformly among the classes present, then an example of that
  class uniformly (with replacement), so every class is drawn ``n / K`` times in expectation (Kang et al. 2020,
  "class-balanced sampling").
- ``drs``: deferred re-sampling (Cao et al., NeurIPS 2019): ``uniform`` before ``drs_start_epoch``, then
  ``class_balanced``. Epochs are counted from 1, as the trial loop counts them.
"""

from __future__ import annotations

import torch

from scrutiny.errors import ScrutinyError

SAMPLERS = ("uniform", "class_balanced", "drs")


def _as_labels(labels: torch.Tensor) -> torch.Tensor:
    labels = torch.as_tensor(labels)
    if labels.ndim != 1 or labels.numel() == 0 or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"labels must be a non-empty 1-D integer tensor, got {labels.dtype} {tuple(labels.shape)}")
    if int(labels.min()) < 0:
        raise ValueError("labels must be non-negative")
    return labels.long()


def class_balanced_order(labels: torch.Tensor, generator: torch.Generator, n: int | None = None) -> torch.Tensor:
    """Indices of a class-balanced epoch: a class uniformly among those present, then an example of it uniformly.

    Args:
        labels: Integer class labels ``(N,)``.
        generator: Source of randomness; advanced by exactly two draws of ``n`` values.
        n: Length of the epoch; default ``N`` (as many draws as examples).

    Returns:
        Indices ``(n,)`` into ``labels`` (int64); every present class has expected frequency ``n / K``.
    """
    labels = _as_labels(labels)
    n = labels.numel() if n is None else int(n)
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    by_class = torch.argsort(labels, stable=True)  # indices grouped by class, ascending within each class
    counts = torch.bincount(labels)
    present = torch.nonzero(counts).squeeze(1)
    sizes = counts[present]
    starts = torch.cumsum(sizes, 0) - sizes
    which = torch.randint(0, present.numel(), (n,), generator=generator)
    within = (torch.rand(n, generator=generator, dtype=torch.float64) * sizes[which]).long()
    within = torch.minimum(within, sizes[which] - 1)  # guard against u * size rounding up to size
    return by_class[starts[which] + within]


def sampler_order(
    labels: torch.Tensor,
    generator: torch.Generator,
    epoch: int,
    kind: str = "uniform",
    drs_start_epoch: int | None = None,
) -> torch.Tensor:
    """The training order of one epoch under the sampler ``kind``.

    Args:
        labels: Integer class labels of the training split ``(N,)``.
        generator: The trial's data-order generator; advanced by the draws of this epoch only.
        epoch: The epoch, counted from 1 as in the trial loop.
        kind: ``"uniform"`` (ERM), ``"class_balanced"`` or ``"drs"``.
        drs_start_epoch: For ``"drs"``: the first epoch (from 1) that samples class-balanced.

    Returns:
        Indices ``(N,)`` into the training split.
    """
    if kind not in SAMPLERS:
        raise ScrutinyError(f"sampler: unknown kind '{kind}'; expected one of {list(SAMPLERS)}")
    labels = _as_labels(labels)
    if kind == "drs":
        if drs_start_epoch is None or int(drs_start_epoch) < 1:
            raise ScrutinyError(f"sampler.drs_start_epoch: expected an epoch >= 1 for 'drs', got {drs_start_epoch}")
        kind = "class_balanced" if epoch >= int(drs_start_epoch) else "uniform"
    if kind == "uniform":
        return torch.randperm(labels.numel(), generator=generator)
    return class_balanced_order(labels, generator)
