"""Hand-built, untrained solutions of CoordConv's coordinate tasks.

Critique: F. Piekniewski, "Autopsy of a deep learning paper" (2018), https://blog.piekniewski.info/2018/07/14/autopsy-dl-paper/
Paper: Liu et al., "An Intriguing Failing of Convolutional Neural Networks and the CoordConv Solution", NeurIPS 2018.

:class:`PiekniewskiLocator` is Piekniewski's network: one-hot image -> exact ``(x, y)``, built only from a fixed
1×1 ``Conv2d`` over ``[A, X, Y]`` (the image and its unnormalised column and row indices), a ReLU, a sum over the
image and a bias. Before the ReLU, ``W·A − X`` is ``W − x >= 1`` at the lit pixel and ``−X <= 0`` elsewhere, so
``W − sum(ReLU(W·A − X)) = x`` exactly, borders included (the blog's own test harness, ``randint(0, W-1)``, never drew
the last row or column; the construction is exact there too). Deviation: none in the arithmetic; the blog's 3×3
kernels with only the centre non-zero are written as 1×1 kernels.

It is only right for a single pixel of value 1 (an empty image gives ``(W, H)``, two pixels or other values give
numbers out of range). :meth:`PiekniewskiLocator.forward` therefore checks its input and raises when ``strict``;
:func:`is_one_hot` gives the validity flag for callers that disable the check.

:func:`handset_coordconv_classifier` returns the paper's 7,553-parameter CoordConv classifier
(:class:`~scrutiny.models.coordconv.CoordConvPainter`) with hand-set weights that put the argmax at ``y * W + x`` for
every position: four first-layer ReLU units compute ``|x − col|`` and ``|y − row|`` (as positive and negative parts),
the next layers pass them on, and the logit is minus their sum (0 at the right pixel, <= −1 elsewhere).
"""

from __future__ import annotations

import torch
from torch import nn

from scrutiny.layers.coordconv import PointwiseConv
from scrutiny.models.coordconv import CoordConvPainter


def is_one_hot(images: torch.Tensor) -> torch.Tensor:
    """Validity flag: True where an image is exactly one pixel of value 1 and zeros elsewhere.

    Args:
        images: ``(B, 1, H, W)``.

    Returns:
        bool ``(B,)``.
    """
    flat = images.flatten(1)
    return ((flat == 1).sum(1) == 1) & ((flat == 0).sum(1) == flat.shape[1] - 1)


class PiekniewskiLocator(nn.Module):
    """Piekniewski's fixed network: one-hot ``(B, 1, H, W)`` -> ``(B, 2)`` holding ``(x, y)`` (column, row).

    Args:
        height: Image height ``H``.
        width: Image width ``W``.
        strict: Raise ``ValueError`` on any image that is not a single pixel of value 1 (default). With
            ``strict=False`` the raw network output is returned; check :func:`is_one_hot` yourself.

    Exact in float32 for every position while ``H, W < 2**24``.
    """

    coords: torch.Tensor  # buffers, registered in __init__
    bias: torch.Tensor

    def __init__(self, height: int, width: int, strict: bool = True) -> None:
        super().__init__()
        if height < 1 or width < 1:
            raise ValueError(f"PiekniewskiLocator: height and width must be >= 1, got {(height, width)}")
        self.height, self.width, self.strict = height, width, strict
        cols = torch.arange(width, dtype=torch.float32).view(1, width).expand(height, width)
        rows = torch.arange(height, dtype=torch.float32).view(height, 1).expand(height, width)
        self.register_buffer("coords", torch.stack([cols, rows]).unsqueeze(0), persistent=False)  # (1, 2, H, W)
        self.conv = nn.Conv2d(3, 2, 1, bias=False)  # [A, X, Y] -> [W·A − X, H·A − Y]
        self.register_buffer("bias", torch.tensor([float(width), float(height)]))
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([[width, -1.0, 0.0], [height, 0.0, -1.0]]).view(2, 3, 1, 1))
        self.conv.weight.requires_grad_(False)
        self.relu = nn.ReLU()

    def forward(self, onehot: torch.Tensor) -> torch.Tensor:
        if onehot.dim() != 4 or onehot.shape[1:] != (1, self.height, self.width):
            raise ValueError(
                f"PiekniewskiLocator: expected (B, 1, {self.height}, {self.width}), got {tuple(onehot.shape)}"
            )
        if self.strict:
            bad = (~is_one_hot(onehot)).nonzero().flatten()
            if len(bad):
                raise ValueError(
                    f"PiekniewskiLocator: images {bad[:10].tolist()} are not a single pixel of value 1; "
                    "the construction is only exact on one-hot input"
                )
        x = torch.cat([onehot.to(self.coords.dtype), self.coords.expand(onehot.shape[0], -1, -1, -1)], dim=1)
        return self.bias - self.relu(self.conv(x)).sum(dim=(2, 3))


@torch.no_grad()
def handset_coordconv_classifier(height: int = 64, width: int = 64) -> CoordConvPainter:
    """The CoordConv classifier (7,553 parameters at 64×64) with weights that classify every position exactly.

    Returns:
        A :class:`CoordConvPainter`: input ``(B, 2)`` pixel coordinates ``(x, y)``, output ``(B, H * W)`` logits whose
        argmax is ``y * W + x`` for every ``0 <= x < W``, ``0 <= y < H``.
    """
    model = CoordConvPainter(height, width)
    layers = [m for m in model.layers if isinstance(m, PointwiseConv)]
    biases = [_bias(layer) for layer in layers]
    for layer, bias in zip(layers, biases, strict=True):
        layer.weight.zero_()
        bias.zero_()
    # Pixel features [x, y, xx, yy]; col = (xx + 1)(W − 1)/2, row = (yy + 1)(H − 1)/2.
    sx, sy = (width - 1) / 2, (height - 1) / 2
    first, first_bias = layers[0].weight[:, :, 0, 0], biases[0]
    first[0, 0], first[0, 2], first_bias[0] = 1.0, -sx, -sx  # ReLU(x − col)
    first[1, 0], first[1, 2], first_bias[1] = -1.0, sx, sx  # ReLU(col − x)
    first[2, 1], first[2, 3], first_bias[2] = 1.0, -sy, -sy  # ReLU(y − row)
    first[3, 1], first[3, 3], first_bias[3] = -1.0, sy, sy  # ReLU(row − y)
    for layer in layers[1:-1]:  # pass the four non-negative units on through the ReLUs
        layer.weight[:4, :4, 0, 0] = torch.eye(4)
    layers[-1].weight[0, :4, 0, 0] = -1.0  # logit = −(|x − col| + |y − row|)
    return model


def _bias(layer: PointwiseConv) -> nn.Parameter:
    if layer.bias is None:
        raise ValueError("handset_coordconv_classifier: every pointwise layer of the painter needs a bias")
    return layer.bias
