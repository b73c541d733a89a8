"""Per-channel mean and population variance of activations, pooled over batches, for signal propagation plots."""

from __future__ import annotations

import torch

SMALL_MAP = 64  # H·W up to which ChannelStats reduces a channel-major copy


class ChannelStats:
    """Per-channel mean and population variance pooled over batches (Chan et al.'s parallel update, float64).

    Each batch's statistics are computed in its own precision (float32 at least) with a two-pass algorithm.
    """

    def __init__(self) -> None:
        self.n = 0
        self.mean: torch.Tensor | None = None
        self.m2: torch.Tensor | None = None

    def update(self, x: torch.Tensor) -> None:
        """Add an activation ``(N, C, H, W)`` or ``(N, C)``."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"SPP expects a tensor output, got {type(x).__name__}")
        if x.ndim == 4:
            dims: tuple[int, ...] = (0, 2, 3)
        elif x.ndim == 2:
            dims = (0,)
        else:
            raise ValueError(f"SPP expects (N, C, H, W) or (N, C) activations, got shape {tuple(x.shape)}")
        x = x.detach()
        if x.dtype not in (torch.float32, torch.float64):
            x = x.float()
        n_b = x.numel() // x.shape[1]
        if x.ndim == 4 and x.shape[2] * x.shape[3] <= SMALL_MAP:
            # a reduction over (0, 2, 3) with a tiny inner extent is slow; one (C, N·H·W) copy is cheaper
            x, dims = x.transpose(0, 1).reshape(x.shape[1], -1), (1,)
        # Two passes (mean, then the centred sum of squares) in the activation's precision, pooled in float64:
        # several times faster on the CPU than ``Tensor.var`` and as accurate for SPPs.
        mean = x.mean(dim=dims, keepdim=True)
        m2_b = (x - mean).square_().sum(dim=dims).to(torch.float64)
        mean_b = mean.reshape(-1).to(torch.float64)
        if self.mean is None or self.m2 is None:
            self.n, self.mean, self.m2 = n_b, mean_b, m2_b
            return
        if mean_b.shape != self.mean.shape:
            raise ValueError(f"channel count changed between batches: {self.mean.shape[0]} -> {mean_b.shape[0]}")
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / n)
        self.m2 = self.m2 + m2_b + delta**2 * (self.n * n_b / n)
        self.n = n

    def _pooled(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mean is None or self.m2 is None:
            raise ValueError("ChannelStats: no batch was added")
        return self.mean, self.m2

    def avg_sq_mean(self) -> float:
        mean, _ = self._pooled()
        return float((mean**2).mean())

    def avg_var(self) -> float:
        _, m2 = self._pooled()
        return float((m2 / self.n).mean())


def signal_metrics(x: torch.Tensor) -> tuple[float, float]:
    """``(average channel squared mean, average channel variance)`` of one activation ``(N, C, H, W)`` or ``(N, C)``."""
    stats = ChannelStats()
    stats.update(x)
    return stats.avg_sq_mean(), stats.avg_var()
