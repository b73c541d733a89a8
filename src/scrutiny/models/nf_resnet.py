"""Normalizer-free ResNets (NF-ResNets): ``h_{i+1} = h_i + α · f_i(h_i / β_i)`` with Scaled WS.

Paper: Brock, De, Smith, "Characterizing signal propagation to close the performance gap in unnormalized ResNets",
ICLR 2021 (arXiv 2101.08692), Section 4. Original code: ``google-deepmind/deepmind-research`` ``nfnets/nf_resnet.py``
(``NF_ResNet``, ``NFResBlock``) and ``nfnets/base.py`` (``WSConv2D``, ``nonlinearities``, ``StochDepth``).

Layout as in the original code: a Scaled-WS stem conv 7×7/2 with bias and max-pool 3×3/2; four stages of bottleneck
blocks (1×1, 3×3 with the stride, 1×1) with output widths ``4·width·[1, 2, 4, 8]`` and strides ``[1, 2, 2, 2]``; a
projection shortcut (Scaled-WS 1×1 conv, strided) in the first block of each stage; a final activation, global
average pool and linear head (no final conv). γ multiplies the activation (``γ·relu``, γ from the published table,
:data:`scrutiny.layers.activations.GAMMA_TABLE`); convs are Scaled WS with γ = 1 and ``eps = 1e-4``.

β schedule (``β_i`` is the analytically expected std of the block input ``h_i``): ``β_0 = 1``; after each block the
expected variance grows by α²; after the first block of a stage it is reset to ``1 + α²``, because that block's
shortcut takes the scaled input. The first block of a stage still divides by the previous stage's β.
:attr:`NFResNet.betas` and :attr:`NFResNet.expected_vars` hold the schedule.

Notation: this module stores the paper's β (an std) and divides by it; DeepMind's ``beta`` is its reciprocal.
As in the original code, the block computes ``act(h) / β`` (the activation first), which equals ``act(h / β)`` for
ReLU. The residual ``f_i(·)`` seen by SPPs is the branch output before stochastic depth, the skip gain and α.

Deviations:

- ``skip_gain`` is the initial value of DeepMind's scalar SkipInit gain on the residual branch: 0 (default, as in
  the original code; every block is then the identity on its shortcut at init) or 1 (shows the variance growth of the
  paper's SPPs).
- ``scaled_ws=False`` gives the paper's "NF, He init" model of Fig. 2: plain He-initialised convs with zero bias and
  no γ.
- Padding is ``k // 2`` instead of TF "SAME"; the head is initialised ``N(0, 0.01²)``.
- The optional squeeze-excite (``se_ratio > 0``) uses plain linear layers with a ReLU and, with ``se_rescale``,
  multiplies its output by 2 (as DeepMind's NFNets); its output is part of the residual.
- ``stochdepth_rate`` defaults to 0 (DeepMind: 0.1); block ``i`` of ``n`` drops with rate ``rate · i / n``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from scrutiny.layers.activations import ACTIVATIONS, published_gamma
from scrutiny.layers.scaled_ws import ScaledStdConv2d
from scrutiny.models.preact_resnet import BOTTLENECK_DEPTHS, resolve_depth
from scrutiny.registry import MODELS


class GammaAct(nn.Module):
    """``γ · g(x)`` for an element-wise activation ``g`` named in :data:`scrutiny.layers.activations.ACTIVATIONS`."""

    def __init__(self, activation: str = "relu", gamma: float = 1.0) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation '{activation}'; expected one of {sorted(ACTIVATIONS)}")
        self.activation, self.gamma = activation, float(gamma)
        self._fn = ACTIVATIONS[activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fn(x) * self.gamma if self.gamma != 1.0 else self._fn(x)

    def extra_repr(self) -> str:
        return f"{self.activation}, gamma={self.gamma:.10g}"


class SqueezeExcite(nn.Module):
    """``rescale · sigmoid(fc2(relu(fc1(mean_hw(x))))) · x``.

    Shapes:
        Input and output ``(N, C, H, W)``.
    """

    def __init__(self, channels: int, se_ratio: float = 0.25, rescale: float = 2.0) -> None:
        super().__init__()
        hidden = max(1, int(channels * se_ratio))
        self.fc1, self.fc2, self.rescale = nn.Linear(channels, hidden), nn.Linear(hidden, channels), float(rescale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3))))))
        return self.rescale * h[:, :, None, None] * x


class StochasticDepth(nn.Module):
    """Drop the residual per example with probability ``rate`` in training; scale kept ones by ``1 / (1 - rate)``."""

    def __init__(self, rate: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"stochastic depth rate must be in [0, 1), got {rate}")
        self.rate = float(rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = torch.empty((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * mask / keep


class NFBottleneck(nn.Module):
    """``out = α · skip_gain · drop(branch(a)) + shortcut``, ``a = γ·act(x) / β``, ``shortcut = conv(a)`` or ``x``.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        stride: Stride of the 3×3 conv and the shortcut.
        beta: Expected std of the input (the block divides by it).
        alpha: Residual scale α.
        activation: Activation name.
        gamma: Its gain γ (1 for the "He init" variant).
        scaled_ws: Scaled-WS convs (else He-initialised plain convs).
        skip_gain: Initial value of the learnable scalar SkipInit gain.
        se_ratio: Squeeze-excite hidden ratio; 0 for none.
        se_rescale: Multiply the squeeze-excite output by 2.
        stochdepth_rate: Stochastic depth rate of this block.
        bottle_ratio: Bottleneck width over output width.

    Shapes:
        Input ``(N, C_in, H, W)``; output ``(N, C_out, H / stride, W / stride)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        *,
        beta: float = 1.0,
        alpha: float = 0.2,
        activation: str = "relu",
        gamma: float = 1.0,
        scaled_ws: bool = True,
        skip_gain: float = 0.0,
        se_ratio: float = 0.0,
        se_rescale: bool = True,
        stochdepth_rate: float = 0.0,
        bottle_ratio: float = 0.25,
    ) -> None:
        super().__init__()
        mid = max(1, int(out_channels * bottle_ratio))
        self.beta, self.alpha = float(beta), float(alpha)
        self.act = GammaAct(activation, gamma)
        conv = _conv_factory(scaled_ws)
        self.shortcut = (
            conv(in_channels, out_channels, 1, stride) if stride != 1 or in_channels != out_channels else None
        )
        layers = [
            conv(in_channels, mid, 1),
            GammaAct(activation, gamma),
            conv(mid, mid, 3, stride),
            GammaAct(activation, gamma),
            conv(mid, out_channels, 1),
        ]
        if se_ratio > 0:
            layers.append(SqueezeExcite(out_channels, se_ratio, 2.0 if se_rescale else 1.0))
        self.branch = nn.Sequential(*layers)
        self.drop = StochasticDepth(stochdepth_rate)
        self.skip_gain = nn.Parameter(torch.tensor(float(skip_gain)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(x) / self.beta
        shortcut = x if self.shortcut is None else self.shortcut(out)
        return self.drop(self.branch(out)) * (self.skip_gain * self.alpha) + shortcut

    def extra_repr(self) -> str:
        return f"beta={self.beta:.6f}, alpha={self.alpha:g}"


def _conv_factory(scaled_ws: bool):
    def conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Conv2d:
        if scaled_ws:
            return ScaledStdConv2d(cin, cout, k, stride=stride, padding=k // 2, bias=True, gamma=1.0, eps=1e-4)
        layer = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=True)
        nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
        assert layer.bias is not None  # built with bias=True
        nn.init.zeros_(layer.bias)
        return layer

    return conv


def beta_schedule(stage_depths: tuple[int, ...], alpha: float = 0.2) -> tuple[list[float], list[float]]:
    """The analytic β schedule of the original code.

    Args:
        stage_depths: Blocks per stage.
        alpha: Residual scale α.

    Returns:
        ``(betas, expected_vars)``, each of length ``sum(stage_depths)``: ``betas[i]`` is the expected std of block
        ``i``'s input, ``expected_vars[i]`` the expected variance of its output (ResNet-50, α = 0.2:
        ``1/β² = 1, 1.04, 1.08 | 1.12, 1.04, ...``).
    """
    betas, expected_vars, var = [], [], 1.0
    for depth in stage_depths:
        for i in range(depth):
            betas.append(math.sqrt(var))
            if i == 0:
                var = 1.0
            var += alpha**2
            expected_vars.append(var)
    return betas, expected_vars


class NFResNet(nn.Module):
    """A normalizer-free ResNet.

    Args:
        stage_depths: Blocks per stage.
        width: Stem channels and bottleneck width of the first stage (stage widths ``4·width·2^s``).
        alpha: Residual scale α.
        activation: Activation name (γ from the published table).
        scaled_ws: Scaled WS and γ (else plain He-initialised convs and γ = 1: the paper's "NF, He init").
        skip_gain: Initial SkipInit gain of every block: 0 (original code) or 1.
        se_ratio: Squeeze-excite ratio; 0 for none.
        se_rescale: Multiply the squeeze-excite output by 2.
        stochdepth_rate: Maximal stochastic depth rate (last block).
        drop_rate: Dropout before the head.
        in_channels: Image channels.
        num_classes: Classes of the linear head.

    Shapes:
        Input ``(N, in_channels, H, W)``; output ``(N, num_classes)``.
    """

    def __init__(
        self,
        stage_depths: tuple[int, ...],
        *,
        width: int = 64,
        alpha: float = 0.2,
        activation: str = "relu",
        scaled_ws: bool = True,
        skip_gain: float = 0.0,
        se_ratio: float = 0.0,
        se_rescale: bool = True,
        stochdepth_rate: float = 0.0,
        drop_rate: float = 0.0,
        in_channels: int = 3,
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        if not stage_depths or any(int(d) < 1 for d in stage_depths):
            raise ValueError(f"stage_depths must be positive integers, got {stage_depths}")
        gamma = published_gamma(activation) if scaled_ws else 1.0
        self.betas, self.expected_vars = beta_schedule(tuple(stage_depths), alpha)
        self.stem = nn.Sequential(_conv_factory(scaled_ws)(in_channels, width, 7, 2), nn.MaxPool2d(3, 2, padding=1))
        n_blocks, index, cin, stages = sum(stage_depths), 0, width, []
        for s, depth in enumerate(stage_depths):
            cout, blocks = width * 4 * 2**s, []
            for i in range(int(depth)):
                blocks.append(
                    NFBottleneck(
                        cin,
                        cout,
                        2 if (s > 0 and i == 0) else 1,
                        beta=self.betas[index],
                        alpha=alpha,
                        activation=activation,
                        gamma=gamma,
                        scaled_ws=scaled_ws,
                        skip_gain=skip_gain,
                        se_ratio=se_ratio,
                        se_rescale=se_rescale,
                        stochdepth_rate=stochdepth_rate * index / n_blocks,
                    )
                )
                cin, index = cout, index + 1
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.final_act = GammaAct(activation, gamma)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(drop_rate)
        self.fc = nn.Linear(cin, num_classes)
        nn.init.normal_(self.fc.weight, 0.0, 0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.final_act(self.stages(self.stem(x)))
        return self.fc(self.dropout(self.pool(out).flatten(1)))

    def spp_blocks(self) -> list[tuple[str, int, nn.Module, nn.Module]]:
        """``(name, stage, block, residual branch)`` per block, in forward order (the SPP protocol)."""
        return [
            (f"stages.{s}.{i}", s, blk, blk.get_submodule("branch"))
            for s, stage in enumerate(self.stages.children())
            for i, blk in enumerate(stage.children())
        ]


@MODELS.register("nf_resnet")
def nf_resnet(
    *,
    depth: int = 50,
    stage_depths: tuple[int, ...] | None = None,
    width: int = 64,
    alpha: float = 0.2,
    activation: str = "relu",
    scaled_ws: bool = True,
    skip_gain: float = 0.0,
    se_ratio: float = 0.0,
    se_rescale: bool = True,
    stochdepth_rate: float = 0.0,
    drop_rate: float = 0.0,
    in_channels: int = 3,
    num_classes: int = 1000,
) -> nn.Module:
    """NF-ResNet (Brock et al. 2021): Scaled WS, γ·act, α = 0.2, analytic β; skip_gain 0 (SkipInit) or 1."""
    if stage_depths is None and depth not in BOTTLENECK_DEPTHS:
        raise ValueError(f"depth must be one of {sorted(BOTTLENECK_DEPTHS)}, got {depth}; or set stage_depths")
    return NFResNet(
        resolve_depth(depth, stage_depths, "bottleneck"),
        width=width,
        alpha=alpha,
        activation=activation,
        scaled_ws=scaled_ws,
        skip_gain=skip_gain,
        se_ratio=se_ratio,
        se_rescale=se_rescale,
        stochdepth_rate=stochdepth_rate,
        drop_rate=drop_rate,
        in_channels=in_channels,
        num_classes=num_classes,
    )
