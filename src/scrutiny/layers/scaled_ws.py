"""Scaled Weight Standardization: :class:`ScaledStdConv2d`.

Paper: Brock, De, Smith, "Characterizing signal propagation to close the performance gap in unnormalized ResNets",
ICLR 2021 (arXiv 2101.08692), Section 4: ``Ŵ_ij = γ · (W_ij − μ_i) / (σ_i · sqrt(N))`` with ``N`` the fan-in.
Original code: ``google-deepmind/deepmind-research`` ``nfnets/base.py`` ``WSConv2D.standardize_weight``.

Semantics:

- Statistics per output channel over the fan-in ``N = in_channels / groups · kH · kW``; the variance is the
  population variance.
- ``eps_mode="max"`` (default, DeepMind): ``Ŵ = gain · γ · (W − μ) / sqrt(max(N · σ², eps))`` with ``eps = 1e-4``.
  ``eps_mode="add"`` (timm ``ScaledStdConv2d``): ``Ŵ = gain · γ · (W − μ) / (sqrt(σ² + eps) · sqrt(N))``; timm's
  nf_* models use ``eps = 1e-5``.
- ``gain`` is learnable, one per output channel, initialised to ``gain_init`` (1 by default).
- DeepMind applies γ in the activation and builds its convs with ``γ = 1``; timm folds γ into the conv. Both are
  expressible: the ``gamma`` argument multiplies the standardized weight.
- Weights are initialised ``N(0, 1/N)`` (DeepMind's ``VarianceScaling(1.0, 'fan_in', 'normal')``; the standardization
  makes the scale irrelevant) and the bias, always present by default, to 0.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn


class ScaledStdConv2d(nn.Conv2d):
    """A 2-d convolution whose weight is re-standardized at every forward.

    Args:
        in_channels: Input channels ``C_in``.
        out_channels: Output channels ``C_out``.
        kernel_size: Kernel size (int or pair).
        stride: Stride.
        padding: Padding (int, pair, ``"same"`` or ``"valid"``).
        dilation: Dilation.
        groups: Groups.
        bias: Add a learnable bias (initialised to 0).
        gamma: Fixed activation gain γ multiplied into the standardized weight.
        eps: Floor (``"max"``) or offset (``"add"``) of the variance; see the module docstring.
        gain_init: Initial value of the learnable per-channel gain.
        eps_mode: ``"max"`` (DeepMind) or ``"add"`` (timm).

    Shapes:
        Input ``(N, C_in, H, W)``; output ``(N, C_out, H', W')``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        gamma: float = 1.0,
        eps: float = 1e-4,
        gain_init: float = 1.0,
        eps_mode: Literal["max", "add"] = "max",
    ) -> None:
        if eps_mode not in ("max", "add"):
            raise ValueError(f"eps_mode must be 'max' or 'add', got '{eps_mode}'")
        if eps < 0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)
        self.gamma = float(gamma)
        self.eps = float(eps)
        self.eps_mode = eps_mode
        self.fan_in = self.weight[0].numel()
        self.gain = nn.Parameter(torch.full((out_channels,), float(gain_init)))

    def reset_parameters(self) -> None:
        """Weight ``N(0, 1/fan_in)``, bias 0 (the gain is set in ``__init__``)."""
        nn.init.normal_(self.weight, 0.0, self.weight[0].numel() ** -0.5)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def standardized_weight(self) -> torch.Tensor:
        """The weight used in the forward pass.

        Returns:
            Tensor ``(C_out, C_in / groups, kH, kW)``: per output channel zero mean and
            ``sum(Ŵ²) = (gain · γ)²`` (when ``N · σ²`` exceeds ``eps``).
        """
        w = self.weight
        mean = w.mean(dim=(1, 2, 3), keepdim=True)
        var = w.var(dim=(1, 2, 3), keepdim=True, correction=0)
        if self.eps_mode == "max":
            inv = torch.rsqrt(torch.clamp(var * self.fan_in, min=self.eps))
        else:
            inv = torch.rsqrt((var + self.eps) * self.fan_in)
        scale = inv * (self.gain * self.gamma).view(-1, 1, 1, 1)
        return (w - mean) * scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve ``x`` ``(N, C_in, H, W)`` with :meth:`standardized_weight`."""
        return self._conv_forward(x, self.standardized_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, gamma={self.gamma:g}, eps={self.eps:g}, eps_mode={self.eps_mode}"
