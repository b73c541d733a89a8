"""ResNet-18 and ResNet-34 for 32×32 images, with a 3×3 stride-1 stem and no max pool.

Paper: He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016 (arXiv 1512.03385).
The CIFAR adaptation of the ImageNet basic-block ResNets follows the widely used kuangliu/pytorch-cifar layout
(four stages of 64, 128, 256, 512 channels; projection shortcuts where the shape changes). It is not the paper's
own 6n+2 CIFAR family, which has three stages of 16, 32 and 64 channels.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from scrutiny.registry import MODELS


class BasicBlock(nn.Module):
    """conv3×3-BN-ReLU-conv3×3-BN plus the shortcut, then ReLU."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def residual(self, x):
        return self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))

    def forward(self, x):
        return F.relu(self.residual(x) + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, blocks: tuple[int, ...], in_channels: int, num_classes: int, width: int = 64) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()
        )
        layers, in_planes = [], width
        for stage, n in enumerate(blocks):
            planes = width * 2**stage
            for i in range(n):
                layers.append(BasicBlock(in_planes, planes, stride=2 if (stage > 0 and i == 0) else 1))
                in_planes = planes
        self.blocks = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        return self.fc(self.pool(self.blocks(self.stem(x))).flatten(1))


@MODELS.register("resnet18_cifar")
def resnet18_cifar(*, in_channels: int = 3, num_classes: int = 10, width: int = 64) -> nn.Module:
    """ResNet-18 (basic blocks 2-2-2-2) with a 3×3 stem for 32×32 inputs."""
    return CifarResNet((2, 2, 2, 2), in_channels, num_classes, width)


@MODELS.register("resnet34_cifar")
def resnet34_cifar(*, in_channels: int = 3, num_classes: int = 10, width: int = 64) -> nn.Module:
    """ResNet-34 (basic blocks 3-4-6-3) with a 3×3 stem for 32×32 inputs."""
    return CifarResNet((3, 4, 6, 3), in_channels, num_classes, width)
