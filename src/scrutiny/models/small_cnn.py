"""A small convolutional network for small images (scikit-learn digits, MNIST-sized inputs).

Not from a paper: the workhorse of scrutiny's tests and demo. Two 3×3 conv-BN-ReLU stages with max pooling,
global average pooling, and a linear head.
"""

from __future__ import annotations

from torch import nn

from scrutiny.registry import MODELS


class SmallCNN(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, width: int = 32, dropout: float = 0.0) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x):
        return self.head(self.dropout(self.features(x)))


@MODELS.register("small_cnn")
def small_cnn(*, in_channels: int = 1, num_classes: int = 10, width: int = 32, dropout: float = 0.0) -> nn.Module:
    """Three 3×3 conv-BN-ReLU layers, max pool, global average pool, linear head (about 28k parameters at width 32)."""
    return SmallCNN(in_channels, num_classes, width, dropout)
