"""Pre-activation (v2) ResNets with the layer order as an argument, for signal propagation plots (SPPs).

Paper: He, Zhang, Ren, Sun, "Identity Mappings in Deep Residual Networks", ECCV 2016 (arXiv 1603.05027). SPP use:
Brock, De, Smith, "Characterizing signal propagation to close the performance gap in unnormalized ResNets",
ICLR 2021 (arXiv 2101.08692), Fig. 1 (a ResNetV2-600 at initialisation, BN-ReLU-Conv vs ReLU-BN-Conv).
Original code: ``google-deepmind/deepmind-research`` ``nfnets/resnet.py`` (``ResNet``, ``ResBlockV2``).

Layout as in the original code: stem conv 7×7/2 and max-pool 3×3/2; four stages of bottleneck blocks (1×1, 3×3
with the stride, 1×1) with output widths ``4·width·[1, 2, 4, 8]`` and strides ``[1, 2, 2, 2]``; a projection
shortcut (1×1 conv) only in the first block of each stage, taking the *pre-activated* input, which is what resets
the variance at each stage; a final norm-activation, global average pool and linear head. Depths:
``{26, 50, 101, 152, 200, 288, 600}`` for bottlenecks (600 = four stages of 50 blocks) and ``{18, 34}`` for basic
blocks, or any ``stage_depths``.

Deviations:

- Every conv is He-initialised (``kaiming_normal_``, fan-in, ReLU), as the paper's Fig. 1 states; the released
  ``resnet.py`` uses Haiku's default truncated normal with std ``1/sqrt(fan_in)``.
- Padding is ``k // 2`` instead of TF "SAME" (stride-2 convs see a slightly shifted window).
- ``order="relu_bn_conv"`` (the swapped order of Fig. 1) and ``order="relu_conv"`` (no normalisation at all) are
  not in the released code. In every order the transition shortcut takes the output of the block's pre-activation.
- The head is initialised ``N(0, 0.01²)`` with zero bias; a ``"3x3"`` stem (conv 3×3/1, no pool) is added for
  small images; basic blocks (3×3, 3×3) are added.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from scrutiny.registry import MODELS

Order = Literal["bn_relu_conv", "relu_bn_conv", "relu_conv"]
ORDERS = ("bn_relu_conv", "relu_bn_conv", "relu_conv")

BOTTLENECK_DEPTHS: dict[int, tuple[int, ...]] = {
    26: (2, 2, 2, 2),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
    200: (3, 24, 36, 3),
    288: (24, 24, 24, 24),
    600: (50, 50, 50, 50),
}
BASIC_DEPTHS: dict[int, tuple[int, ...]] = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


def preact(order: Order, channels: int) -> nn.Module:
    """The pre-activation for ``order``: BN-ReLU, ReLU-BN or ReLU (no normalisation)."""
    if order == "bn_relu_conv":
        return nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU())
    if order == "relu_bn_conv":
        return nn.Sequential(nn.ReLU(), nn.BatchNorm2d(channels))
    if order == "relu_conv":
        return nn.ReLU()
    raise ValueError(f"order must be one of {ORDERS}, got '{order}'")


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)


class PreActBottleneck(nn.Module):
    """``out = branch(a) + shortcut``, with ``a = preact(x)`` and ``shortcut = conv1×1(a)`` or ``x``.

    The branch is conv1×1 → preact → conv3×3 (stride) → preact → conv1×1; its output, before the addition, is the
    SPP residual.

    Shapes:
        Input ``(N, C_in, H, W)``; output ``(N, C_out, H / stride, W / stride)``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, order: Order = "bn_relu_conv", bottle_ratio=0.25
    ) -> None:
        super().__init__()
        mid = max(1, int(out_channels * bottle_ratio))
        self.preact = preact(order, in_channels)
        self.shortcut = (
            _conv(in_channels, out_channels, 1, stride) if stride != 1 or in_channels != out_channels else None
        )
        self.branch = nn.Sequential(
            _conv(in_channels, mid, 1),
            preact(order, mid),
            _conv(mid, mid, 3, stride),
            preact(order, mid),
            _conv(mid, out_channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.preact(x)
        shortcut = x if self.shortcut is None else self.shortcut(out)
        return self.branch(out) + shortcut


class PreActBasic(nn.Module):
    """``out = branch(a) + shortcut`` with the branch conv3×3 (stride) → preact → conv3×3."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, order: Order = "bn_relu_conv") -> None:
        super().__init__()
        self.preact = preact(order, in_channels)
        self.shortcut = (
            _conv(in_channels, out_channels, 1, stride) if stride != 1 or in_channels != out_channels else None
        )
        self.branch = nn.Sequential(
            _conv(in_channels, out_channels, 3, stride),
            preact(order, out_channels),
            _conv(out_channels, out_channels, 3),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.preact(x)
        shortcut = x if self.shortcut is None else self.shortcut(out)
        return self.branch(out) + shortcut


class PreActResNet(nn.Module):
    """A pre-activation ResNet.

    Args:
        stage_depths: Blocks per stage, e.g. ``(50, 50, 50, 50)``.
        block: ``"bottleneck"`` (stage widths ``4·width·2^s``) or ``"basic"`` (stage widths ``width·2^s``).
        order: ``"bn_relu_conv"``, ``"relu_bn_conv"`` or ``"relu_conv"`` (no normalisation).
        width: Stem channels, and the bottleneck width of the first stage.
        in_channels: Image channels.
        num_classes: Classes of the linear head.
        stem: ``"7x7_pool"`` (ImageNet: conv 7×7/2, max-pool 3×3/2) or ``"3x3"`` (conv 3×3/1, no pool).

    Shapes:
        Input ``(N, in_channels, H, W)``; output ``(N, num_classes)``.
    """

    def __init__(
        self,
        stage_depths: tuple[int, ...],
        *,
        block: Literal["bottleneck", "basic"] = "bottleneck",
        order: Order = "bn_relu_conv",
        width: int = 64,
        in_channels: int = 3,
        num_classes: int = 1000,
        stem: Literal["7x7_pool", "3x3"] = "7x7_pool",
    ) -> None:
        super().__init__()
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got '{order}'")
        if block not in ("bottleneck", "basic"):
            raise ValueError(f"block must be 'bottleneck' or 'basic', got '{block}'")
        if not stage_depths or any(int(d) < 1 for d in stage_depths):
            raise ValueError(f"stage_depths must be positive integers, got {stage_depths}")
        self.stem: nn.Module
        if stem == "7x7_pool":
            self.stem = nn.Sequential(_conv(in_channels, width, 7, 2), nn.MaxPool2d(3, 2, padding=1))
        elif stem == "3x3":
            self.stem = _conv(in_channels, width, 3)
        else:
            raise ValueError(f"stem must be '7x7_pool' or '3x3', got '{stem}'")
        expansion = 4 if block == "bottleneck" else 1
        stages: list[nn.Sequential] = []
        cin = width
        for s, depth in enumerate(stage_depths):
            cout = width * expansion * 2**s
            blocks: list[nn.Module] = []
            for i in range(int(depth)):
                stride = 2 if (s > 0 and i == 0) else 1
                if block == "bottleneck":
                    blocks.append(PreActBottleneck(cin, cout, stride, order))
                else:
                    blocks.append(PreActBasic(cin, cout, stride, order))
                cin = cout
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.final_act = preact(order, cin)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
        nn.init.normal_(self.fc.weight, 0.0, 0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.final_act(self.stages(self.stem(x)))
        return self.fc(self.pool(out).flatten(1))

    def spp_blocks(self) -> list[tuple[str, int, nn.Module, nn.Module]]:
        """``(name, stage, block, residual branch)`` per block, in forward order (the SPP protocol)."""
        return [
            (f"stages.{s}.{i}", s, blk, blk.get_submodule("branch"))
            for s, stage in enumerate(self.stages.children())
            for i, blk in enumerate(stage.children())
        ]


def resolve_depth(depth: int, stage_depths: tuple[int, ...] | list[int] | None, block: str) -> tuple[int, ...]:
    """Stage depths from an explicit ``stage_depths`` or from a named ``depth``."""
    if stage_depths is not None:
        return tuple(int(d) for d in stage_depths)
    table = BOTTLENECK_DEPTHS if block == "bottleneck" else BASIC_DEPTHS
    if depth not in table:
        raise ValueError(f"depth must be one of {sorted(table)} for {block} blocks, got {depth}; or set stage_depths")
    return table[depth]


@MODELS.register("preact_resnet")
def preact_resnet(
    *,
    depth: int = 50,
    stage_depths: tuple[int, ...] | None = None,
    block: Literal["bottleneck", "basic"] = "bottleneck",
    order: Order = "bn_relu_conv",
    width: int = 64,
    stem: Literal["7x7_pool", "3x3"] = "7x7_pool",
    in_channels: int = 3,
    num_classes: int = 1000,
) -> nn.Module:
    """Pre-activation ResNet (v2), BN-ReLU-Conv / ReLU-BN-Conv / no norm, He init; depth 600 = 4×50 bottlenecks."""
    return PreActResNet(
        resolve_depth(depth, stage_depths, block),
        block=block,
        order=order,
        width=width,
        in_channels=in_channels,
        num_classes=num_classes,
        stem=stem,
    )
