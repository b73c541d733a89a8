"""Perturbative Neural Networks: ResNet-18 with perturbation layers in place of 3×3 convolutions.

Paper: Juefei-Xu, Boddeti, Savvides, "Perturbative Neural Networks", CVPR 2018 (arXiv 1806.01817).
Original code:

- the authors' ``juefeix/pnn.pytorch`` (``models/naiveresnet.py@d060c85``): ``noiseresnet18``: a learnable 7×7/s2
  conv stem with max-pool, then basic blocks ``NoiseLayer -> MaxPool(stride) -> BN -> ReLU -> NoiseLayer -> BN``
  plus the shortcut, then ReLU; one mask per input channel; noise U(-0.1, 0.1).
- Michael Klachko's re-implementation ``michaelklachko/pnn.pytorch`` (``models.py@08865db``): ``perturb_resnet18``:
  a perturbation layer (or a k×k conv) as the first layer, blocks
  ``PerturbLayer -> pool(stride) -> PerturbLayer`` plus the shortcut, then ReLU, where each ``PerturbLayer`` ends in
  ``BN -> act``; ``nmasks`` masks per channel with a grouped 1×1 conv; noise level 0.5 by default.
- the authors' response ``juefeix/pnn.pytorch.update`` (Klachko's code plus changes marked "Felix", ``f1fc626``):
  a first layer with ``5·nfilters`` masks per input channel, a 20× noise level and sigmoid activations followed by
  ``Conv1x1(C_in·nfilters -> nfilters) -> BN -> act`` (``first_layer="perturb_update"``), and a ``noiseresnet18``
  whose first conv (3×3/s1 or 7×7/s2) is frozen at its random initialisation (``freeze_first=True``).

One template serves both codes: :class:`PNNResNet` with ``order="authors"`` builds the authors' blocks and with
``order="klachko"`` Klachko's; :func:`noiseresnet18` is ``order="authors"`` with a conv stem. Weights are initialised
as both codes' ``weights_init`` does: conv weights N(0, 2/(k·k·C_out)), BN γ=1 and β=0, PyTorch defaults for conv
biases and the linear head.

Deviations from the original code:

- Noise masks are drawn at construction, from ``image_size`` and an optional ``mask_seed`` generator, and stored in
  ``state_dict`` (see :mod:`scrutiny.layers.perturb`); the authors' original drew them lazily from the first batch
  and lost them on checkpoint reload.
- Each layer's masks are sized to the feature map it actually sees. Klachko's code sized them from ``input_size``
  assuming a stride-1 stem, so perturbation blocks after a 7×7/s2 stem (or 5×5 with his padding 1) failed there.
- The head averages over the whole final map (``AvgPool2d`` with the final map's size, stride 1): 4 for CIFAR with a
  stride-1 stem, 1 for the 7×7/s2 stem, as both codes' ``--avgpool`` settings. Klachko's MNIST settings (14 or 7)
  are marked TODO in his code and do not fit the maps; here any image size works.
- The block's downsampling pool uses ``ceil_mode=True`` so that odd map sizes (28×28 -> 7 -> 4) match the strided
  1×1 shortcut; for even sizes, every CIFAR configuration, this is identical to the original.
- ``in_channels`` is taken from the dataset; the update hard-codes 3 (``3·nfilters`` in the first layer).
- Invalid settings (an unknown pool type or activation, ``nfilters`` not a multiple of ``in_channels`` with grouped
  masks) raise instead of printing a warning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, TypedDict, TypeGuard

import torch
import torch.nn.functional as F
from torch import nn

from scrutiny.layers.perturb import NOISES, Noise, PerturbLayer, make_act
from scrutiny.registry import MODELS

FIRST_LAYERS = ("perturb", "perturb_update", "conv", "random_conv")
BLOCK_ORDERS = ("authors", "klachko")
BlockOrder = Literal["authors", "klachko"]
POOLS: dict[str, type[nn.MaxPool2d] | type[nn.AvgPool2d]] = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}
# Klachko's k×k first-layer conv: kernel -> (padding, stride, bias); 7×7 adds MaxPool2d(3, 2, 1).
_STEM_CONV = {1: (0, 1, True), 3: (1, 1, False), 5: (1, 1, False), 7: (3, 2, False)}


def _hw(size: int | Sequence[int] | None) -> tuple[int, int]:
    if size is None:
        raise ValueError("image_size is required: the noise masks have a fixed spatial size (the dataset has none)")
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    return int(h), int(w)


def _out(size: tuple[int, int], kernel: int, stride: int, padding: int, ceil: bool = False) -> tuple[int, int]:
    rnd = math.ceil if ceil else math.floor
    h, w = (int(rnd((s + 2 * padding - kernel) / stride)) + 1 for s in size)
    return h, w


def _is_block_order(order: str) -> TypeGuard[BlockOrder]:
    return order in BLOCK_ORDERS


def _is_noise(noise: str) -> TypeGuard[Noise]:
    return noise in NOISES


class _MaskArgs(TypedDict):
    """The :class:`PerturbLayer` arguments that every perturbation layer of a PNN shares."""

    noise: Noise
    unique_masks: bool
    train_masks: bool
    mix_maps: bool
    generator: torch.Generator | None


class PNNBasicBlock(nn.Module):
    """A PNN basic block: two perturbation layers around a downsampling pool, plus the shortcut, then ReLU.

    ``order="authors"``: ``PL -> pool -> BN -> act -> PL -> BN``, PL in the authors' order (ending in the 1×1 conv).
    ``order="klachko"``: ``PL -> pool -> PL``, each PL in Klachko's order (ending in ``BN -> act``).
    The shortcut is ``Conv1x1(stride, no bias) -> BN`` when the shape changes, else the identity.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        stride: Downsampling factor of the pool (``pool(stride, stride)``) and of the shortcut.
        input_size: ``(H, W)`` of the input map; the second layer's masks are ``ceil(H/stride) × ceil(W/stride)``.
        order: ``"authors"`` or ``"klachko"``.
        pool_type: ``"max"`` or ``"avg"``.
        act: Activation name, used inside the perturbation layers and, for the authors' order, after the mid BN.
        layer_kwargs: Further :class:`PerturbLayer` arguments (``nmasks``, ``level``, ``noise``, ...).

    Shapes:
        ``(B, C_in, H, W)`` -> ``(B, C_out, ceil(H/stride), ceil(W/stride))``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        input_size: tuple[int, int],
        *,
        order: BlockOrder,
        pool_type: str,
        act: str,
        **layer_kwargs: Any,
    ) -> None:
        super().__init__()
        self.order = order
        mid = _out(input_size, stride, stride, 0, ceil=True)
        self.out_size = mid
        self.perturb1 = PerturbLayer(
            in_channels, out_channels, order=order, act=act, input_size=input_size, **layer_kwargs
        )
        self.pool = POOLS[pool_type](stride, stride, ceil_mode=True)
        self.bn1 = nn.BatchNorm2d(out_channels) if order == "authors" else None
        self.act1 = make_act(act) if order == "authors" else None
        self.perturb2 = PerturbLayer(out_channels, out_channels, order=order, act=act, input_size=mid, **layer_kwargs)
        self.bn2 = nn.BatchNorm2d(out_channels) if order == "authors" else None
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pool(self.perturb1(x))
        if self.bn1 is not None and self.act1 is not None:
            y = self.act1(self.bn1(y))
        y = self.perturb2(y)
        if self.bn2 is not None:
            y = self.bn2(y)
        residual = x if self.shortcut is None else self.shortcut(x)
        return F.relu(y + residual)


class PNNResNet(nn.Module):
    """ResNet with PNN basic blocks: a first layer (``pre_layers``), four stages, global average pool, linear head.

    Args:
        blocks: Blocks per stage, ``(2, 2, 2, 2)`` for ResNet-18.
        in_channels: Image channels.
        num_classes: Classes of the linear head.
        image_size: ``(H, W)`` of the input images; fixes the size of every layer's masks.
        nfilters: Width of the first stage; the stages have ``nfilters·{1, 2, 4, 8}`` channels.
        order: Block and layer composition, ``"authors"`` or ``"klachko"``.
        first_layer: ``"perturb"`` (Klachko's perturbation layer, ``nmasks`` masks, level ``level·scale_noise``),
            ``"perturb_update"`` (the authors' update, see :func:`pnn_resnet18`), ``"conv"`` (learnable k×k conv,
            BN, act) or ``"random_conv"`` (the same with the conv weight frozen at its random initialisation).
        first_filter_size: Kernel of the conv first layers: 1, 3, 5 or 7 (7×7 is stride 2 followed by a max-pool).
        first_use_act: Activation between the perturbation and the 1×1 conv in a ``"perturb"`` first layer.
        nmasks: Masks per input channel in the perturbation layers (and a ``"perturb"`` first layer).
        level: Noise level of the blocks' perturbation layers.
        scale_noise: Multiplies ``level`` in the first layer.
        noise: ``"uniform"`` or ``"normal"``.
        unique_masks: One mask set per input channel (True) or one shared set.
        train_masks: Train the masks as parameters.
        mix_maps: Append Klachko's ``Conv1x1 -> BN -> act`` to every perturbation layer.
        act: Activation name.
        pool_type: Downsampling pool of the blocks: ``"max"`` or ``"avg"``.
        first_masks_per_filter: ``"perturb_update"``: masks per input channel = this × ``nfilters`` (5 in the update).
        first_level_scale: ``"perturb_update"``: extra factor on the first layer's level (20 in the update).
        generator: Generator the masks are drawn from, in construction order; ``None`` uses torch's default.

    Shapes:
        ``(B, in_channels, H, W)`` -> logits ``(B, num_classes)``.
    """

    def __init__(
        self,
        blocks: Sequence[int],
        *,
        in_channels: int,
        num_classes: int,
        image_size: tuple[int, int],
        nfilters: int,
        order: str,
        first_layer: str,
        first_filter_size: int,
        first_use_act: bool,
        nmasks: int,
        level: float,
        scale_noise: float,
        noise: str,
        unique_masks: bool,
        train_masks: bool,
        mix_maps: bool,
        act: str,
        pool_type: str,
        first_masks_per_filter: int = 5,
        first_level_scale: float = 20.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if not _is_block_order(order):
            raise ValueError(f"order must be one of {BLOCK_ORDERS}, got {order!r}")
        if first_layer not in FIRST_LAYERS:
            raise ValueError(f"first_layer must be one of {FIRST_LAYERS}, got {first_layer!r}")
        if pool_type not in POOLS:
            raise ValueError(f"pool_type must be one of {sorted(POOLS)}, got {pool_type!r}")
        if not _is_noise(noise):
            raise ValueError(f"noise must be one of {NOISES}, got {noise!r}")
        masks: _MaskArgs = {
            "noise": noise,
            "unique_masks": unique_masks,
            "train_masks": train_masks,
            "mix_maps": mix_maps,
            "generator": generator,
        }
        size = image_size
        if first_layer == "perturb":
            self.pre_layers = nn.Sequential(
                PerturbLayer(
                    in_channels,
                    nfilters,
                    nmasks,
                    level * scale_noise,
                    input_size=size,
                    order="klachko",
                    use_act=first_use_act,
                    act=act,
                    **masks,
                )
            )
        elif first_layer == "perturb_update":
            wide = in_channels * nfilters
            self.pre_layers = nn.Sequential(
                PerturbLayer(
                    in_channels,
                    wide,
                    first_masks_per_filter * nfilters,
                    level * scale_noise * first_level_scale,
                    input_size=size,
                    order="authors_first",
                    use_act=True,
                    act="sigmoid",
                    **masks,
                ),
                nn.Conv2d(wide, nfilters, 1, bias=False),
                nn.BatchNorm2d(nfilters),
                make_act(act),
            )
        else:
            if first_filter_size not in _STEM_CONV:
                raise ValueError(f"first_filter_size must be one of {sorted(_STEM_CONV)}, got {first_filter_size}")
            pad, stride, bias = _STEM_CONV[first_filter_size]
            stem = [
                nn.Conv2d(in_channels, nfilters, first_filter_size, stride=stride, padding=pad, bias=bias),
                nn.BatchNorm2d(nfilters),
                make_act(act),
            ]
            size = _out(size, first_filter_size, stride, pad)
            if first_filter_size == 7:
                stem.append(nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
                size = _out(size, 3, 2, 1)
            self.pre_layers = nn.Sequential(*stem)

        layer_kwargs = dict(nmasks=nmasks, level=level, **masks)
        stages, channels = [], nfilters
        for i, n in enumerate(blocks):
            width = nfilters * 2**i
            stage = []
            for j in range(n):
                if min(size) < 1:
                    raise ValueError(f"image_size {image_size} is too small: the feature map vanishes in stage {i + 1}")
                stride = 2 if (i > 0 and j == 0) else 1
                block = PNNBasicBlock(
                    channels, width, stride, size, order=order, pool_type=pool_type, act=act, **layer_kwargs
                )
                stage.append(block)
                channels, size = width, block.out_size
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.final_size = size
        self.avgpool = nn.AvgPool2d(size, stride=1)
        self.linear = nn.Linear(channels, num_classes)
        self._init_weights()
        if first_layer == "random_conv":
            self.pre_layers[0].weight.requires_grad_(False)

    def _init_weights(self) -> None:
        # Both codes' utils.weights_init: conv N(0, 2/(k·k·C_out)), BN weight 1 and bias 0.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, C, H, W)``. Returns logits ``(B, num_classes)``."""
        x = self.pre_layers(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.linear(self.avgpool(x).flatten(1))


def _generator(mask_seed: int | None) -> torch.Generator | None:
    return None if mask_seed is None else torch.Generator().manual_seed(mask_seed)


@MODELS.register("pnn_resnet18")
def pnn_resnet18(
    *,
    in_channels: int = 3,
    num_classes: int = 10,
    image_size: int | Sequence[int] | None = (32, 32),
    nfilters: int = 64,
    order: str = "klachko",
    first_layer: str = "perturb",
    first_filter_size: int = 3,
    first_use_act: bool = False,
    nmasks: int = 1,
    level: float = 0.5,
    scale_noise: float = 1.0,
    noise: str = "uniform",
    unique_masks: bool = True,
    train_masks: bool = False,
    mix_maps: bool = False,
    act: str = "relu",
    pool_type: str = "max",
    first_masks_per_filter: int = 5,
    first_level_scale: float = 20.0,
    mask_seed: int | None = None,
    dropout: float | None = None,
) -> nn.Module:
    """PNN ResNet-18 (Klachko's ``perturb_resnet18``; the authors' first layer and block order as options).

    Defaults are Klachko's (``main.py@08865db``): level 0.5, one unique mask per channel, a perturbation first layer
    without the pre-conv activation, max-pool downsampling. The authors' all-layer-noise rerun is
    ``first_layer="perturb_update", nfilters=256, level=0.1``: a first layer with ``first_masks_per_filter·nfilters``
    masks per input channel at level ``level·scale_noise·first_level_scale``, ``BN -> sigmoid -> grouped Conv1x1 ->
    BN -> sigmoid``, then ``Conv1x1(in_channels·nfilters -> nfilters, no bias) -> BN -> act``.

    Args:
        in_channels: Image channels (filled from the dataset).
        num_classes: Classes (filled from the dataset).
        image_size: ``(H, W)`` or ``H`` of the images (filled from the dataset); sizes the masks and the head.
        nfilters: Width of the first stage.
        order: ``"klachko"`` or ``"authors"`` composition of the blocks' perturbation layers and blocks.
        first_layer: ``"perturb"``, ``"perturb_update"``, ``"conv"`` or ``"random_conv"`` (frozen random conv).
        first_filter_size: Kernel of a conv first layer: 1, 3, 5 or 7 (7: stride 2 and a max-pool).
        first_use_act: Klachko's ``--use_act``: activation before the 1×1 conv in a ``"perturb"`` first layer.
        nmasks: Masks per input channel (fan-out); > 1 makes the 1×1 convs grouped by input channel.
        level: Noise level of the blocks.
        scale_noise: Factor on the first layer's noise level.
        noise: ``"uniform"`` or ``"normal"``.
        unique_masks: One mask set per input channel.
        train_masks: Train the masks (Klachko's ``--train_masks``).
        mix_maps: Klachko's ``--mix_maps``.
        act: Activation: ``relu``, ``sigmoid``, ``tanh``, ``elu``, ``selu``, ``lrelu``.
        pool_type: ``"max"`` or ``"avg"`` downsampling in the blocks.
        first_masks_per_filter: ``"perturb_update"`` only (5 in the update).
        first_level_scale: ``"perturb_update"`` only (20 in the update).
        mask_seed: Seed of the generator that draws every mask, in construction order; ``None`` draws them from
            torch's default generator, like the weights.
        dropout: Ignored (see below).

    ``dropout`` is accepted and ignored: in both codes the ResNet-18 builders take ``--dropout`` and never pass it to
    the model (only LeNet and CifarNet use it), so the 0.5-vs-None difference does not apply to ResNet-18.
    """
    del dropout
    return PNNResNet(
        (2, 2, 2, 2),
        in_channels=in_channels,
        num_classes=num_classes,
        image_size=_hw(image_size),
        nfilters=nfilters,
        order=order,
        first_layer=first_layer,
        first_filter_size=first_filter_size,
        first_use_act=first_use_act,
        nmasks=nmasks,
        level=level,
        scale_noise=scale_noise,
        noise=noise,
        unique_masks=unique_masks,
        train_masks=train_masks,
        mix_maps=mix_maps,
        act=act,
        pool_type=pool_type,
        first_masks_per_filter=first_masks_per_filter,
        first_level_scale=first_level_scale,
        generator=_generator(mask_seed),
    )


@MODELS.register("noiseresnet18")
def noiseresnet18(
    *,
    in_channels: int = 3,
    num_classes: int = 10,
    image_size: int | Sequence[int] | None = (32, 32),
    nfilters: int = 64,
    level: float = 0.1,
    first_filter_size: int = 7,
    freeze_first: bool = False,
    mask_seed: int | None = None,
    dropout: float | None = None,
) -> nn.Module:
    """The authors' original ``noiseresnet18``: conv stem, then PNN blocks in the authors' order, one mask per channel.

    Defaults are the original code's (``juefeix/pnn.pytorch@d060c85``): learnable 7×7/s2 conv, BN, ReLU and
    max-pool stem; noise U(-0.1, 0.1); max-pool downsampling. The authors' rerun (update, 90.35%) is
    ``first_filter_size=3, freeze_first=True, nfilters=128``: a 3×3/s1 conv stem without max-pool, frozen at its
    random initialisation.

    Args:
        in_channels: Image channels (filled from the dataset).
        num_classes: Classes (filled from the dataset).
        image_size: ``(H, W)`` or ``H`` of the images (filled from the dataset).
        nfilters: Width of the first stage.
        level: Noise level.
        first_filter_size: 7 (original: stride 2 and max-pool) or 3 (the update and the README fix: stride 1).
        freeze_first: Freeze the first conv at its random initialisation (the update's "first layer rand conv").
        mask_seed: Seed of the generator that draws every mask; ``None`` uses torch's default generator.
        dropout: Ignored (see below).

    ``dropout`` is accepted and ignored: in both codes the ResNet-18 builders take ``--dropout`` and never pass it to
    the model (only LeNet and CifarNet use it), so the 0.5-vs-None difference does not apply to ResNet-18.
    """
    del dropout
    if first_filter_size not in (3, 7):
        raise ValueError(
            f"first_filter_size must be 3 or 7 for noiseresnet18 (as in the code), got {first_filter_size}"
        )
    return PNNResNet(
        (2, 2, 2, 2),
        in_channels=in_channels,
        num_classes=num_classes,
        image_size=_hw(image_size),
        nfilters=nfilters,
        order="authors",
        first_layer="random_conv" if freeze_first else "conv",
        first_filter_size=first_filter_size,
        first_use_act=True,
        nmasks=1,
        level=level,
        scale_noise=1.0,
        noise="uniform",
        unique_masks=True,
        train_masks=False,
        mix_maps=False,
        act="relu",
        pool_type="max",
        generator=_generator(mask_seed),
    )
