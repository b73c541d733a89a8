"""CoordConv's coordinate-task models: deconv and CoordConv painters, conv and CoordConv regressors.

Paper: Liu, Lehman, Molino, Petroski Such, Frank, Sergeev, Yosinski, "An Intriguing Failing of Convolutional Neural
Networks and the CoordConv Solution", NeurIPS 2018 (arXiv 1807.03247).
Original code: ``uber-research/CoordConv`` ``model_builders.py`` (TensorFlow 1, NHWC): ``DeconvPainter``,
``CoordConvPainter``, ``CoordConvImagePainter`` (+ ``build_working_conv_onehot2image``) and ``ConvRegressor``
(types ``conv_uniform`` = ``big_conv``, ``conv_quarant`` = ``big_conv2``, ``coordconv``).

Parameter counts (trainable, BN γ/β included; checked in ``tests/models/test_coordconv_models.py`` against the
reference notes): deconv painter 103,585 (mul 1, fs 3) and 46,465 … 1,632,001 over fs {2,3,4} × mul {1,2,3};
CoordConv painter 7,553; CoordConv image painter 8,074 (fs 1) / 11,850 (fs 3); conv regressors 72,850 (``big_conv``)
and 12,914 (``big_conv2``); CoordConv regressor 906.

Deviations and choices:

- NCHW instead of NHWC. TF ``'same'`` padding is reproduced exactly, including its asymmetric split (the extra pixel
  at the bottom/right) for strided convolutions and transposed convolutions (:class:`Conv2dSame`,
  :class:`ConvTranspose2dSame`), so the pixel alignment is the official one.
- 1×1 convolutions that act on a whole map are :class:`~scrutiny.layers.coordconv.PointwiseConv` over channels-last
  pixels: the same parameters (shape ``(out, in, 1, 1)``) and outputs up to float rounding, about 2× faster on CPU.
  The CoordConv regressor keeps ``nn.Conv2d`` for its 1×1 layers because they feed 3×3 convolutions in NCHW.
- ``AddCoords`` is scrutiny's (per-axis scaling, which equals the official one on the square canvases used here).
- Initialisation ``init="tf"`` (default) follows TF 1.x: ``he_normal`` (truncated normal, ±2σ, σ = sqrt(2 / fan_in),
  no variance correction) for every conv, with the fan-in of a transposed conv counted as TF does
  (``k² · out_channels``); Glorot-uniform for dense layers; zero biases. Which TF 1.x release (and so whether its
  truncated normal carried the 0.8796 correction) is not verified. ``init="torch"`` keeps PyTorch's defaults.
- L2 regularisation (``kernel_regularizer``) belongs to the optimiser spec, not to the model.
- Keras flattens NHWC and this code flattens NCHW before ``big_conv``'s dense layer: a fixed permutation of that
  layer's input, with no effect on what the model can learn.
- Other canvases than 64: the deconv painter needs a power of two and uses ``log2(canvas)`` doublings with channels
  ``[64m] * (n - 3) + [32m, 32m]`` (the official list at n = 6); ``big_conv`` needs a multiple of 8; the other
  models take any size. Only the 64×64 counts come from the paper's setup.
- The classifiers return flat logits ``(B, H * W)`` whose index is ``y * W + x`` (the Not-so-Clevr class index);
  the painters for rendering return per-pixel logits ``(B, 1, H, W)`` (sigmoid applied by the loss).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from scrutiny.layers.coordconv import AddCoords, PointwiseConv, coord_channels
from scrutiny.registry import MODELS

Init = Literal["tf", "torch"]


# ------------------------------------------------------------------------------------------------ blocks


def _tf_same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF ``'same'`` padding of one axis: ``(before, after)``, the extra pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Conv2dSame(nn.Conv2d):
    """``nn.Conv2d`` with TF ``'same'`` padding (output ``ceil(n / stride)``, asymmetric split like TF).

    Shape:
        Input ``(B, C, H, W)``; output ``(B, out_channels, ceil(H / s), ceil(W / s))``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = _tf_same_pad(x.shape[-2], self.kernel_size[0], self.stride[0])
        left, right = _tf_same_pad(x.shape[-1], self.kernel_size[1], self.stride[1])
        return super().forward(F.pad(x, (left, right, top, bottom)))


class ConvTranspose2dSame(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` with TF ``'same'`` padding: output ``n * stride``, cropped where TF crops.

    TF's transposed 'same' convolution is the gradient of a 'same' convolution, so the full output
    ``(n - 1) * s + k`` is cropped from ``pad_before = max(k - s, 0) // 2``.

    Shape:
        Input ``(B, C, H, W)``; output ``(B, out_channels, H * s, W * s)``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 2, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]  # no output_size: 'same' fixes it
        k, s = self.kernel_size[0], self.stride[0]
        extra = max(s - k, 0)  # a 1×1 kernel at stride 2 leaves the last pixel uncovered: bias only
        full = F.conv_transpose2d(x, self.weight, self.bias, self.stride, 0, output_padding=extra)
        before = max(k - s, 0) // 2
        h, w = x.shape[-2] * s, x.shape[-1] * s
        return full[..., before : before + h, before : before + w]


def _pointwise_stack(widths: list[int], final_relu: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (cin, cout) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layers.append(PointwiseConv(cin, cout))
        if i < len(widths) - 2 or final_relu:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _truncated_he_normal_(weight: torch.Tensor, fan_in: int) -> None:
    std = math.sqrt(2.0 / fan_in)
    nn.init.trunc_normal_(weight, 0.0, std, -2 * std, 2 * std)


@torch.no_grad()
def tf_init_(model: nn.Module) -> nn.Module:
    """Re-initialise ``model`` as the TF 1.x code does (see the module docstring); returns ``model``."""
    for m in model.modules():
        if isinstance(m, nn.ConvTranspose2d):
            _truncated_he_normal_(m.weight, m.out_channels * m.kernel_size[0] * m.kernel_size[1])
        elif isinstance(m, nn.Conv2d | PointwiseConv):
            _truncated_he_normal_(m.weight, m.weight[0].numel())
        elif isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
        else:
            continue
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    return model


def _check_square(image_size: tuple[int, int] | int, model: str) -> int:
    h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if h != w:
        raise ValueError(f"{model}: image_size must be square, got {(h, w)}")
    return h


def _check_coords_input(coords: torch.Tensor, model: str) -> torch.Tensor:
    if coords.dim() != 2 or coords.shape[1] != 2:
        raise ValueError(f"{model}: expected coordinates of shape (B, 2), got {tuple(coords.shape)}")
    return coords.float()


# ------------------------------------------------------------------------------------------------ models


class DeconvPainter(nn.Module):
    """The deconv baseline: ``(x, y)`` -> a ``canvas``×``canvas`` map by stride-2 transposed convs from 1×1.

    Args:
        canvas: Output side, a power of two >= 8 (64: six layers, as in the paper).
        mul: Width multiplier (channels 64m, 64m, 64m, 32m, 32m, then 1 at canvas 64).
        fs: Filter size of every transposed conv.
        flatten: Return flat logits ``(B, canvas²)`` (classification) instead of ``(B, 1, canvas, canvas)``.

    Shape:
        Input ``(B, 2)`` pixel coordinates ``(x, y)``; output as set by ``flatten``.
    """

    def __init__(self, canvas: int = 64, mul: int = 1, fs: int = 3, flatten: bool = True) -> None:
        super().__init__()
        n = int(round(math.log2(canvas))) if canvas > 0 else 0
        if canvas < 8 or 2**n != canvas:
            raise ValueError(f"DeconvPainter: canvas must be a power of two >= 8, got {canvas}")
        if mul < 1 or fs < 1:
            raise ValueError(f"DeconvPainter: mul and fs must be >= 1, got mul={mul}, fs={fs}")
        widths = [2] + [64 * mul] * (n - 3) + [32 * mul, 32 * mul]
        layers: list[nn.Module] = []
        for cin, cout in zip(widths[:-1], widths[1:], strict=True):
            layers += [ConvTranspose2dSame(cin, cout, fs), nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1), nn.ReLU()]
        layers.append(ConvTranspose2dSame(widths[-1], 1, fs))
        self.layers = nn.Sequential(*layers)
        self.canvas, self.flatten = canvas, flatten

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        x = _check_coords_input(coords, "DeconvPainter")
        out = self.layers(x.view(-1, 2, 1, 1))
        return out.flatten(1) if self.flatten else out


class CoordConvPainter(nn.Module):
    """The CoordConv classifier: tile ``(x, y)`` over the canvas, append ``[xx, yy]``, then a per-pixel MLP.

    Per pixel the input is ``[x, y, xx, yy]`` (raw ``x, y`` as in the official code, normalised ``xx, yy`` of the
    pixel); 1×1 layers 32m, 32m, 64m, 64m with ReLU, then 1. 7,553 parameters at mul 1.

    Args:
        height: Canvas height.
        width: Canvas width.
        mul: Width multiplier.
        with_r: Also append the radius channel.

    Shape:
        Input ``(B, 2)``; output flat logits ``(B, H * W)``, index ``y * W + x``.
    """

    def __init__(self, height: int = 64, width: int = 64, mul: int = 1, with_r: bool = False) -> None:
        super().__init__()
        self.height, self.width, self.with_r = height, width, with_r
        self.layers = _pointwise_stack([4 + with_r, 32 * mul, 32 * mul, 64 * mul, 64 * mul, 1])

    def pixel_features(self, coords: torch.Tensor) -> torch.Tensor:
        """``(B, 2)`` -> ``(B, H, W, 4 | 5)``: ``[x, y, xx, yy(, r)]`` per pixel, channels last."""
        x = _check_coords_input(coords, "CoordConvPainter")
        b, h, w = x.shape[0], self.height, self.width
        grid = coord_channels(h, w, self.with_r, dtype=x.dtype, device=x.device).permute(1, 2, 0)
        return torch.cat([x.view(b, 1, 1, 2).expand(b, h, w, 2), grid.unsqueeze(0).expand(b, -1, -1, -1)], dim=-1)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        return self.layers(self.pixel_features(coords)).flatten(1)


class CoordConvImagePainter(nn.Module):
    """The CoordConv renderer: :class:`CoordConvPainter` logits, a softmax over the canvas ("sharpen"), then
    ``fs``×``fs`` convs 8m, 8m, 16m, 16m with ReLU and a last conv to 1 channel (``build_working_conv_onehot2image``).

    The painter part is fixed at mul 1, as in the official ``CoordConvImagePainter``; ``mul`` widens the conv part.

    Args:
        height: Canvas height.
        width: Canvas width.
        mul: Width multiplier of the conv part.
        fs: Filter size of the conv part (the paper's runs use 1: the whole model is per pixel).
        softmax: Apply the sharpening softmax (the official ``--no_softmax`` is ``softmax=False``).

    Shape:
        Input ``(B, 2)``; output per-pixel logits ``(B, 1, H, W)``.
    """

    def __init__(self, height: int = 64, width: int = 64, mul: int = 1, fs: int = 1, softmax: bool = True) -> None:
        super().__init__()
        self.painter = CoordConvPainter(height, width)
        self.softmax, self.fs = softmax, fs
        widths = [1, 8 * mul, 8 * mul, 16 * mul, 16 * mul, 1]
        if fs == 1:
            self.head = _pointwise_stack(widths)
        else:
            layers: list[nn.Module] = []
            for i, (cin, cout) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
                layers.append(Conv2dSame(cin, cout, fs))
                if i < len(widths) - 2:
                    layers.append(nn.ReLU())
            self.head = nn.Sequential(*layers)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        centre = self.painter(coords)  # (B, H * W)
        if self.softmax:
            centre = centre.softmax(dim=1)
        b, h, w = centre.shape[0], self.painter.height, self.painter.width
        if self.fs == 1:
            return self.head(centre.view(b, h, w, 1)).view(b, 1, h, w)
        return self.head(centre.view(b, 1, h, w))


class CoordConvRegressor(nn.Module):
    """The CoordConv regressor: ``AddCoords`` on the one-hot, 1×1 convs 8, 8, 8 (no ReLU), 3×3 convs 8 and 2,
    then a global max pool, the only nonlinearity. 906 parameters.

    Shape:
        Input one-hot ``(B, 1, H, W)``; output ``(B, 2)``, trained towards ``(x / W, y / H)``.
    """

    def __init__(self, with_r: bool = False) -> None:
        super().__init__()
        self.addcoords = AddCoords(with_r=with_r)
        self.layers = nn.Sequential(
            nn.Conv2d(3 + with_r, 8, 1),
            nn.Conv2d(8, 8, 1),
            nn.Conv2d(8, 8, 1),
            Conv2dSame(8, 8, 3),
            Conv2dSame(8, 2, 3),
        )

    def forward(self, onehot: torch.Tensor) -> torch.Tensor:
        return self.layers(self.addcoords(onehot)).amax(dim=(2, 3))


class ConvRegressor(nn.Module):
    """The conv baselines of the regression task, one per split as in the official code.

    ``big_conv`` (uniform split): 4× [3×3 conv 16m + ReLU] with 2×2 max pools after the first three, flatten,
    dense 64 + ReLU, dense 2 (72,850 parameters at mul 1 on 64×64).
    ``big_conv2`` (quadrant split): strided 5×5 / 3×3 / 1×1 convs 16m with ReLU and two BN layers, a 3×3 conv to
    2 channels, ReLU, global average pool (12,914 parameters at mul 1).

    Shape:
        Input one-hot ``(B, 1, H, W)``; output ``(B, 2)``.
    """

    def __init__(self, variant: Literal["big_conv", "big_conv2"] = "big_conv", canvas: int = 64, mul: int = 1) -> None:
        super().__init__()
        c = 16 * mul
        self.variant = variant
        if variant == "big_conv":
            if canvas % 8:
                raise ValueError(f"ConvRegressor(big_conv): canvas must be a multiple of 8, got {canvas}")
            self.layers = nn.Sequential(
                Conv2dSame(1, c, 3), nn.ReLU(), nn.MaxPool2d(2),
                Conv2dSame(c, c, 3), nn.ReLU(), nn.MaxPool2d(2),
                Conv2dSame(c, c, 3), nn.ReLU(), nn.MaxPool2d(2),
                Conv2dSame(c, c, 3), nn.ReLU(),
                nn.Flatten(),
                nn.Linear(c * (canvas // 8) ** 2, 64), nn.ReLU(),
                nn.Linear(64, 2),
            )  # fmt: skip
        elif variant == "big_conv2":
            self.layers = nn.Sequential(
                Conv2dSame(1, c, 5, stride=2), nn.ReLU(),
                Conv2dSame(c, c, 1), nn.ReLU(),
                nn.BatchNorm2d(c, eps=1e-5, momentum=0.1),
                Conv2dSame(c, c, 3), nn.ReLU(),
                Conv2dSame(c, c, 3, stride=2), nn.ReLU(),
                Conv2dSame(c, c, 3, stride=2),
                nn.BatchNorm2d(c, eps=1e-5, momentum=0.1), nn.ReLU(),
                Conv2dSame(c, c, 3, stride=2), nn.ReLU(),
                Conv2dSame(c, c, 1), nn.ReLU(),
                Conv2dSame(c, c, 3, stride=2), nn.ReLU(),
                Conv2dSame(c, 2, 3), nn.ReLU(),
                nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            )  # fmt: skip
        else:
            raise ValueError(f"ConvRegressor: variant must be 'big_conv' or 'big_conv2', got '{variant}'")

    def forward(self, onehot: torch.Tensor) -> torch.Tensor:
        return self.layers(onehot)


# ------------------------------------------------------------------------------------------------ builders


_COORDS_CONTEXT = {"image_size": (64, 64), "num_classes": 64 * 64, "in_channels": 2}


def _example_coords() -> torch.Tensor:
    """Two centre coordinates ``(2, 2)`` in pixels, the input of the coordinate-input models (for registry tests)."""
    return torch.tensor([[4.0, 7.0], [59.0, 33.0]])


def _example_one_hot() -> torch.Tensor:
    """Two one-hot 64×64 images ``(2, 1, 64, 64)``, the input of the regressors (for registry tests)."""
    x = torch.zeros(2, 1, 64, 64)
    x[0, 0, 7, 4] = x[1, 0, 33, 59] = 1.0
    return x


def _finish(model: nn.Module, init: Init) -> nn.Module:
    if init == "tf":
        return tf_init_(model)
    if init != "torch":
        raise ValueError(f"model.init: expected 'tf' or 'torch', got '{init}'")
    return model


def _expect(name: str, key: str, got: int | None, expected: int) -> None:
    if got is not None and got != expected:
        raise ValueError(f"{name}: {key} must be {expected} for this model, got {got} (is the data task right?)")


@MODELS.register("deconv_classification", example_input=_example_coords, example_context=_COORDS_CONTEXT)
def deconv_classification(
    *,
    image_size: tuple[int, int] = (64, 64),
    mul: int = 1,
    fs: int = 3,
    num_classes: int | None = None,
    in_channels: int | None = None,
    init: Init = "tf",
) -> nn.Module:
    """Deconv painter baseline, (x, y) -> canvas² logits (103,585 parameters at mul 1, fs 3 on 64×64)."""
    canvas = _check_square(image_size, "deconv_classification")
    _expect("deconv_classification", "num_classes", num_classes, canvas * canvas)
    _expect("deconv_classification", "in_channels", in_channels, 2)
    return _finish(DeconvPainter(canvas, mul, fs, flatten=True), init)


@MODELS.register("deconv_rendering", example_input=_example_coords, example_context=_COORDS_CONTEXT)
def deconv_rendering(
    *,
    image_size: tuple[int, int] = (64, 64),
    mul: int = 1,
    fs: int = 3,
    in_channels: int | None = None,
    init: Init = "tf",
) -> nn.Module:
    """Deconv painter baseline, (x, y) -> (1, H, W) per-pixel logits (103,585 parameters at mul 1, fs 3)."""
    canvas = _check_square(image_size, "deconv_rendering")
    _expect("deconv_rendering", "in_channels", in_channels, 2)
    return _finish(DeconvPainter(canvas, mul, fs, flatten=False), init)


@MODELS.register("coordconv_classification", example_input=_example_coords, example_context=_COORDS_CONTEXT)
def coordconv_classification(
    *,
    image_size: tuple[int, int] = (64, 64),
    mul: int = 1,
    with_r: bool = False,
    num_classes: int | None = None,
    in_channels: int | None = None,
    init: Init = "tf",
) -> nn.Module:
    """CoordConv painter, (x, y) -> H*W logits through a per-pixel MLP (7,553 parameters at mul 1)."""
    h, w = image_size
    _expect("coordconv_classification", "num_classes", num_classes, h * w)
    _expect("coordconv_classification", "in_channels", in_channels, 2)
    return _finish(CoordConvPainter(h, w, mul, with_r), init)


@MODELS.register("coordconv_rendering", example_input=_example_coords, example_context=_COORDS_CONTEXT)
def coordconv_rendering(
    *,
    image_size: tuple[int, int] = (64, 64),
    mul: int = 1,
    fs: int = 1,
    softmax: bool = True,
    in_channels: int | None = None,
    init: Init = "tf",
) -> nn.Module:
    """CoordConv image painter, (x, y) -> (1, H, W) per-pixel logits (8,074 parameters at mul 1, fs 1)."""
    h, w = image_size
    _expect("coordconv_rendering", "in_channels", in_channels, 2)
    return _finish(CoordConvImagePainter(h, w, mul, fs, softmax), init)


@MODELS.register(
    "conv_regressor", example_input=_example_one_hot, example_context={"image_size": (64, 64), "in_channels": 1}
)
def conv_regressor(
    *,
    image_size: tuple[int, int] = (64, 64),
    variant: Literal["big_conv", "big_conv2"] = "big_conv",
    mul: int = 1,
    in_channels: int | None = None,
    init: Init = "tf",
) -> nn.Module:
    """Conv baseline, one-hot (1, H, W) -> 2 coordinates; big_conv (uniform, 72,850) or big_conv2 (quadrant, 12,914)."""
    canvas = _check_square(image_size, "conv_regressor")
    _expect("conv_regressor", "in_channels", in_channels, 1)
    return _finish(ConvRegressor(variant, canvas, mul), init)


@MODELS.register(
    "coordconv_regressor", example_input=_example_one_hot, example_context={"image_size": (64, 64), "in_channels": 1}
)
def coordconv_regressor(
    *,
    with_r: bool = False,
    in_channels: int | None = None,
    init: Init = "tf",
) -> nn.Module:
    """CoordConv regressor, one-hot (1, H, W) -> 2 coordinates; linear layers and a global max pool (906 parameters)."""
    _expect("coordconv_regressor", "in_channels", in_channels, 1)
    return _finish(CoordConvRegressor(with_r), init)
