"""ImageNet ResNets (18/34/50/101/152) with the bottleneck's stride placed as an argument.

Paper: He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016 (arXiv 1512.03385), Table 1:
stem conv 7×7/2 (64) + BN + ReLU, max pool 3×3/2; four stages of basic blocks (3×3, 3×3) for depths 18 and 34 or
bottleneck blocks (1×1, 3×3, 1×1 with 4× expansion) for 50/101/152, widths 64·[1, 2, 4, 8] and strides [1, 2, 2, 2];
global average pool and a 1000-way fc. BN after each convolution and before the activation; projection shortcuts
(1×1 conv + BN) only where the shape changes, the paper's option B.

Original code: ``KaimingHe/deep-residual-networks`` (Caffe prototxts, MSRA): the stride-2 of a downsampling
bottleneck sits in its first 1×1 convolution (``stride_in="1x1"``). ``facebookarchive/fb.resnet.torch``
(``models/resnet.lua``) and torchvision (``models/resnet.py``, the "ResNet V1.5" comment) put it in the 3×3
(``stride_in="3x3"``). Both placements have the same parameters and output shapes; only the computation differs (a
strided 1×1 discards three of every four input positions before the 3×3 sees them).

Module and parameter names are torchvision's (``conv1, bn1, relu, maxpool, layer1..layer4, avgpool, fc``; blocks
``conv1..conv3, bn1..bn3, downsample.0/1``), so a torchvision ``state_dict`` loads with ``strict=True``; with
``stride_in="3x3"`` the outputs are identical. The last two children are ``avgpool`` (``AdaptiveAvgPool2d(1)``)
and ``fc``, so :func:`scrutiny.protocols.fully_convolutional` and multi-scale evaluation accept the model as it is.

Deviations:

- Initialisation is torchvision's (He normal, fan-out, for convolutions; BN weight 1, bias 0; PyTorch's default for
  the fc), which is also fb.resnet.torch's MSR init apart from the fc bias (zero there).
- The max pool pads by 1 and rounds down (PyTorch); Caffe's pooling rounds up without padding instead. Both give
  56×56 maps for 224×224 inputs but the windows are shifted by one pixel (inferred, not checked against the
  prototxts). Caffe's BN + Scale layers are one ``BatchNorm2d`` here.
- Only shortcut option B. The paper's option A (zero-padded identity, Table 2's ResNet-18/34) and option C
  (projections everywhere) are not implemented.
- fb.resnet.torch's released ResNet-50 has its BN after the addition (pretrained/README.md); not implemented.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from scrutiny.registry import MODELS

StrideIn = Literal["1x1", "3x3"]
Depth = Literal[18, 34, 50, 101, 152]

STAGES: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}


def _projection(in_planes: int, out_planes: int, stride: int) -> nn.Sequential | None:
    """Option-B shortcut: a 1×1 conv + BN where the shape changes, else ``None`` (identity)."""
    if stride == 1 and in_planes == out_planes:
        return None
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False), nn.BatchNorm2d(out_planes))


class BasicBlock(nn.Module):
    """conv3×3(stride)-BN-ReLU-conv3×3-BN, plus the shortcut, then ReLU; ``(N, C, H, W) -> (N, P, H/s, W/s)``."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = _projection(in_planes, planes, stride)
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """conv1×1-BN-ReLU-conv3×3-BN-ReLU-conv1×1(4×)-BN, plus the shortcut, then ReLU.

    Args:
        in_planes: Input channels.
        planes: Width of the 3×3; the block outputs ``4 * planes`` channels.
        stride: 1, or 2 in the first block of stages 2-4.
        stride_in: ``"1x1"`` puts the stride in the first 1×1 (the paper's Caffe models), ``"3x3"`` in the 3×3
            (fb.resnet.torch, torchvision). The shortcut projection is strided either way.
    """

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1, stride_in: StrideIn = "3x3") -> None:
        super().__init__()
        s1, s3 = (stride, 1) if stride_in == "1x1" else (1, stride)
        self.conv1 = nn.Conv2d(in_planes, planes, 1, stride=s1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=s3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _projection(in_planes, planes * 4, stride)
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """Stem, four stages, global average pool, fc; ``(N, C, H, W) -> (N, num_classes)`` for any ``H, W >= 32``.

    Args:
        depth: 18, 34 (basic blocks) or 50, 101, 152 (bottlenecks).
        num_classes: Outputs of the fc.
        in_channels: Image channels.
        stride_in: Where a downsampling bottleneck strides (see :class:`Bottleneck`); basic blocks always stride in
            their first 3×3, so depths 18 and 34 accept only ``"3x3"``.
        zero_init_residual: Zero the last BN weight of every block (Goyal et al. 2017; torchvision's option), so each
            block starts as the identity. Neither the paper nor fb.resnet.torch does this.
    """

    layer1: nn.Sequential  # set by name in __init__, one per stage
    layer2: nn.Sequential
    layer3: nn.Sequential
    layer4: nn.Sequential

    def __init__(
        self,
        depth: int = 50,
        num_classes: int = 1000,
        in_channels: int = 3,
        stride_in: StrideIn = "3x3",
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        if depth not in STAGES:
            raise ValueError(f"model.depth: expected one of {sorted(STAGES)}, got {depth!r}")
        if stride_in not in ("1x1", "3x3"):
            raise ValueError(f"model.stride_in: expected '1x1' or '3x3', got {stride_in!r}")
        kind, blocks = STAGES[depth]
        if kind == "basic" and stride_in != "3x3":
            raise ValueError(
                f"model.stride_in: '{stride_in}' applies to bottleneck blocks (depth 50/101/152); "
                f"ResNet-{depth}'s basic blocks stride in their first 3×3, so use '3x3'"
            )
        self.depth, self.stride_in = depth, stride_in
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_planes = 64
        for stage, n in enumerate(blocks):
            planes = 64 * 2**stage
            layers: list[nn.Module] = []
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                if kind == "basic":
                    layers.append(BasicBlock(in_planes, planes, stride))
                    in_planes = planes
                else:
                    layers.append(Bottleneck(in_planes, planes, stride, stride_in))
                    in_planes = planes * 4
            setattr(self, f"layer{stage + 1}", nn.Sequential(*layers))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)`` of images ``x`` ``(N, C, H, W)``."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


@MODELS.register("resnet")
def resnet(
    *,
    depth: Depth = 50,
    num_classes: int = 1000,
    in_channels: int = 3,
    stride_in: StrideIn = "3x3",
    zero_init_residual: bool = False,
) -> ResNet:
    """ImageNet ResNet-18/34/50/101/152 (He et al. 2015), torchvision's names; ``stride_in`` '1x1' (paper) or '3x3'."""
    return ResNet(depth, num_classes, in_channels, stride_in, zero_init_residual)
