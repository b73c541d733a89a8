"""CoordConv layers: :class:`AddCoords`, :class:`CoordConv2d`, and :class:`PointwiseConv` (a 1×1 conv over
channels-last pixels).

Paper: Liu et al., "An Intriguing Failing of Convolutional Neural Networks and the CoordConv Solution",
NeurIPS 2018 (arXiv 1807.03247). Original code: ``uber-research/CoordConv`` ``CoordConv.py`` (TensorFlow, NHWC).

Semantics (NCHW here):

- Channel order follows the official code: the input channels, then ``xx`` (the **column** index, varying along W),
  then ``yy`` (the **row** index, varying along H), then optionally ``r``. The PyTorch/Keras ports put the row first.
- Each axis is scaled by its own length: ``xx = j / (W - 1) * 2 - 1`` and ``yy = i / (H - 1) * 2 - 1``, so both span
  exactly [-1, 1] (-1 at index 0, +1 at the last index) on square and non-square maps alike. The official code divides
  each axis by the *other* axis' length, which leaves [-1, 1] on non-square maps; that error is **not** reproduced.
- A dimension of size 1 has the single coordinate 0 (the centre of [-1, 1]) instead of the official 0/0 = NaN.
- ``r = sqrt(xx² + yy²)`` (official: distance from the image centre, √2 at the corners). With ``centered_r=True``,
  the ports' variant ``r = sqrt((xx - 0.5)² + (yy - 0.5)²)`` is used instead: it is centred at normalised (0.5, 0.5),
  three quarters of the way to the bottom-right corner, not at the image centre.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]
"""The ``padding_mode`` values of :class:`torch.nn.Conv2d`."""


def axis_coords(n: int, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> torch.Tensor:
    """Coordinates of ``n`` positions scaled linearly to [-1, 1]: ``k / (n - 1) * 2 - 1``, or ``[0.]`` when ``n == 1``.

    Returns:
        Tensor ``(n,)``; the first value is exactly -1 and the last exactly +1 for ``n >= 2``.
    """
    if n < 1:
        raise ValueError(f"axis_coords: n must be >= 1, got {n}")
    if n == 1:
        return torch.zeros(1, dtype=dtype, device=device)
    return torch.arange(n, dtype=dtype, device=device) / (n - 1) * 2 - 1


def coord_channels(
    height: int,
    width: int,
    with_r: bool = False,
    centered_r: bool = False,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The channels that :class:`AddCoords` appends, without a batch dimension.

    Returns:
        Tensor ``(2, H, W)`` holding ``[xx, yy]``, or ``(3, H, W)`` holding ``[xx, yy, r]`` when ``with_r``.
    """
    xx = axis_coords(width, dtype, device).view(1, width).expand(height, width)
    yy = axis_coords(height, dtype, device).view(height, 1).expand(height, width)
    channels = [xx, yy]
    if with_r:
        offset = 0.5 if centered_r else 0.0
        channels.append(torch.sqrt((xx - offset) ** 2 + (yy - offset) ** 2))
    return torch.stack(channels)


class AddCoords(nn.Module):
    """Append coordinate channels ``[xx, yy]`` (and ``r``) after the input channels. No parameters.

    Args:
        with_r: Also append the radius channel.
        centered_r: Use the ports' off-centre radius ``sqrt((xx-0.5)² + (yy-0.5)²)`` instead of the official
            ``sqrt(xx² + yy²)``. Only meaningful with ``with_r``.

    Shape:
        Input ``(B, C, H, W)``; output ``(B, C + 2, H, W)``, or ``(B, C + 3, H, W)`` with ``with_r``.
    """

    def __init__(self, with_r: bool = False, centered_r: bool = False) -> None:
        super().__init__()
        if centered_r and not with_r:
            raise ValueError("AddCoords: centered_r=True has no effect without with_r=True")
        self.with_r = with_r
        self.centered_r = centered_r

    @property
    def extra_channels(self) -> int:
        return 3 if self.with_r else 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"AddCoords: expected a (B, C, H, W) tensor, got shape {tuple(x.shape)}")
        b, _, h, w = x.shape
        coords = coord_channels(h, w, self.with_r, self.centered_r, x.dtype, x.device)
        return torch.cat([x, coords.unsqueeze(0).expand(b, -1, -1, -1)], dim=1)

    def extra_repr(self) -> str:
        return f"with_r={self.with_r}, centered_r={self.centered_r}"


class CoordConv2d(nn.Module):
    """:class:`AddCoords` followed by an ``nn.Conv2d`` over ``in_channels + 2`` (or ``+ 3``) channels.

    Takes the arguments of ``nn.Conv2d`` plus ``with_r`` and ``centered_r``. ``in_channels`` counts the input's own
    channels only. ``groups`` must be 1: with groups the coordinate channels would reach only the last group.
    The convolution is held as ``self.conv``, so the parameters are ``conv.weight`` ``(out, in + 2|3, kH, kW)`` and
    ``conv.bias``.

    Shape:
        Input ``(B, in_channels, H, W)``; output ``(B, out_channels, H', W')`` as for ``nn.Conv2d``.
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
        padding_mode: PaddingMode = "zeros",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        with_r: bool = False,
        centered_r: bool = False,
    ) -> None:
        super().__init__()
        if groups != 1:
            raise ValueError(f"CoordConv2d: groups must be 1 (coordinates would reach one group only), got {groups}")
        self.addcoords = AddCoords(with_r=with_r, centered_r=centered_r)
        self.in_channels = in_channels
        self.conv = nn.Conv2d(
            in_channels + self.addcoords.extra_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            bias=bias,
            padding_mode=padding_mode,
            device=device,
            dtype=dtype,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.in_channels:
            raise ValueError(f"CoordConv2d: expected {self.in_channels} input channels, got {x.shape[1]}")
        return self.conv(self.addcoords(x))


class PointwiseConv(nn.Module):
    """A 1×1 convolution applied to channels-last pixels with ``F.linear``.

    The parameters have the shapes of ``nn.Conv2d(in, out, 1)`` (``weight (out, in, 1, 1)``, ``bias (out,)``) and
    its default initialisation, so a state_dict moves between the two forms unchanged. On CPU a stack of these over
    ``(B, H, W, C)`` runs faster than the NCHW ``nn.Conv2d`` stack (see ``benchmarks/coordconv_layers.py``).

    Shape:
        Input ``(..., in_channels)``; output ``(..., out_channels)``.
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # The same as nn.Conv2d.reset_parameters.
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_channels)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight.view(self.out_channels, self.in_channels), self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, bias={self.bias is not None}"
