"""The perturbation layer of Perturbative Neural Networks (Juefei-Xu, Boddeti, Savvides, CVPR 2018).

A perturbation layer replaces a k×k convolution by fixed additive noise masks, an activation and a learnable 1×1
convolution: ``y_t = Σ_i V_{t,i} · σ(x + N_i)``. Two codes implement it, with different compositions:

- ``order="authors"``: the authors' ``NoiseLayer`` (``juefeix/pnn.pytorch models/naiveresnet.py@d060c85``):
  ``x + N -> ReLU -> BN(C_in·m) -> Conv1x1(C_in·m -> C_out, bias)``. The original has ``m = 1`` only.
- ``order="klachko"``: Michael Klachko's ``PerturbLayer`` (``michaelklachko/pnn.pytorch models.py@08865db``):
  ``x + N -> [act if use_act] -> Conv1x1(C_in·m -> C_out, bias, groups=C_in if m > 1) -> BN(C_out) -> act``.
- ``order="authors_first"``: the authors' update's ``PerturbLayerFirst`` (``juefeix/pnn.pytorch.update``, the
  changes marked "Felix"): ``x + N -> BN(C_in·m) -> act -> Conv1x1(grouped as above, bias) -> BN(C_out) -> act``,
  used with ``act="sigmoid"``, many masks per input channel and an amplified noise level (see
  :func:`scrutiny.models.pnn.pnn_resnet18`, ``first_layer="perturb_update"``).

``use_act`` switches the activation between the perturbation and the 1×1 convolution in every order (the authors'
codes always apply it; Klachko applies it in the residual blocks but not in the first layer by default).

The masks. Each layer holds ``nmasks`` (``m``, the paper's "fan-out") masks per input channel, of shape
``(1, C_in or 1, m, H, W)``: one set per input channel when ``unique_masks`` (both codes' default), else one set
shared by all channels. They are drawn once, uniform on [-1, 1) or standard normal, from an explicit generator
(:func:`draw_masks`), and multiplied by ``level`` in the forward pass, as in Klachko's code; the authors' original
draws ``(2U - 1)·level`` (the same distribution). The masks are fixed across samples and batches (broadcast over the
batch) and tied to the input size ``H × W``: a forward pass at another size raises.

Storage. The masks are a persistent buffer named ``masks``, so they are saved in ``state_dict`` and a save/load
round-trip reproduces the outputs exactly; with ``train_masks=True`` they are an ``nn.Parameter`` of the same name
instead (Klachko's ``--train_masks``). The authors' original code lost them: it created the noise as
``nn.Parameter(...).to(device)``, which on CUDA returns a plain tensor, so the masks were not in ``state_dict`` and a
reloaded checkpoint drew new random masks (inferred from the code, see the reference notes, Topic A.2). Another
deviation: the authors drew the masks lazily from the first batch's shape; here they are drawn at construction
from ``input_size``.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

Order = Literal["authors", "klachko", "authors_first"]
Noise = Literal["uniform", "normal"]

ORDERS: tuple[str, ...] = ("authors", "klachko", "authors_first")
NOISES: tuple[str, ...] = ("uniform", "normal")
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "lrelu": nn.LeakyReLU,
}


def make_act(name: str) -> nn.Module:
    """A parameter-free activation module by the name the PNN codes use (``relu``, ``sigmoid``, ``lrelu``, ...)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"act must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()


def _size2(size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if h < 1 or w < 1:
        raise ValueError(f"input_size must be positive, got {size!r}")
    return int(h), int(w)


def draw_masks(
    shape: tuple[int, ...], noise: Noise = "uniform", generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw unit-scale noise masks (before multiplication by the noise level).

    Args:
        shape: Shape of the masks, ``(1, C, m, H, W)`` in :class:`PerturbLayer`.
        noise: ``"uniform"`` for U[-1, 1), ``"normal"`` for N(0, 1).
        generator: CPU generator to draw from; ``None`` uses torch's default generator (like weight initialisation).

    Returns:
        A float32 CPU tensor of ``shape``.
    """
    if noise == "uniform":
        return torch.empty(shape).uniform_(-1.0, 1.0, generator=generator)
    if noise == "normal":
        return torch.randn(shape, generator=generator)
    raise ValueError(f"noise must be one of {NOISES}, got {noise!r}")


class PerturbLayer(nn.Module):
    """Fixed additive noise masks, an activation and a learnable 1×1 convolution (see the module docstring).

    Args:
        in_channels: Input channels ``C_in``.
        out_channels: Output channels ``C_out``; a multiple of ``C_in`` when ``nmasks > 1`` (grouped convolution).
        nmasks: Masks per input channel ``m`` (fan-out); the 1×1 convolution sees ``C_in·m`` perturbed maps.
        level: Noise level: the masks are multiplied by it in the forward pass.
        input_size: Spatial size ``H`` or ``(H, W)`` of the input; the masks have this size.
        noise: ``"uniform"`` (U[-1, 1)·level) or ``"normal"`` (N(0, 1)·level).
        unique_masks: One set of ``m`` masks per input channel (True) or one set shared by all channels (False).
        order: ``"authors"``, ``"klachko"`` or ``"authors_first"``; the composition, see the module docstring.
        use_act: Apply the activation between the perturbation and the 1×1 convolution.
        act: Activation name (``relu``, ``sigmoid``, ``tanh``, ``elu``, ``selu``, ``lrelu``).
        train_masks: Make the masks an ``nn.Parameter`` that the optimizer trains; otherwise a buffer.
        mix_maps: Klachko's ``--mix_maps``: append ``Conv1x1(C_out -> C_out, bias) -> BN -> act``.
        generator: Generator to draw the masks from. At most one of ``generator`` and ``seed``.
        seed: Seed of a fresh CPU generator to draw the masks from. With neither, torch's default generator is used.

    Shapes:
        input ``(B, C_in, H, W)`` -> output ``(B, C_out, H, W)``; ``masks``: ``(1, C_in or 1, m, H, W)``.
    """

    masks: torch.Tensor

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        nmasks: int = 1,
        level: float = 0.1,
        *,
        input_size: int | tuple[int, int],
        noise: Noise = "uniform",
        unique_masks: bool = True,
        order: Order = "klachko",
        use_act: bool = True,
        act: str = "relu",
        train_masks: bool = False,
        mix_maps: bool = False,
        generator: torch.Generator | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
        if in_channels < 1 or out_channels < 1 or nmasks < 1:
            raise ValueError(
                f"in_channels, out_channels and nmasks must be >= 1, got {in_channels}, {out_channels}, {nmasks}"
            )
        if level < 0:
            raise ValueError(f"level must be >= 0, got {level}")
        groups = in_channels if nmasks > 1 else 1
        if out_channels % groups:
            raise ValueError(
                f"out_channels ({out_channels}) must be a multiple of in_channels ({in_channels}) when nmasks > 1: "
                "the 1×1 convolution is grouped by input channel"
            )
        if generator is not None and seed is not None:
            raise ValueError("pass at most one of generator and seed")
        if seed is not None:
            generator = torch.Generator().manual_seed(seed)

        self.in_channels, self.out_channels, self.nmasks = in_channels, out_channels, nmasks
        self.level, self.noise, self.order, self.use_act = float(level), noise, order, use_act
        self.unique_masks, self.train_masks = unique_masks, train_masks
        self.input_size = _size2(input_size)

        shape = (1, in_channels if unique_masks else 1, nmasks, *self.input_size)
        masks = draw_masks(shape, noise, generator)
        if train_masks:
            self.masks = nn.Parameter(masks)
        else:
            self.register_buffer("masks", masks, persistent=True)

        maps = in_channels * nmasks
        self.act = make_act(act)
        self.bn_in = nn.BatchNorm2d(maps) if order in ("authors", "authors_first") else None
        self.conv = nn.Conv2d(maps, out_channels, kernel_size=1, groups=groups, bias=True)
        self.bn_out = nn.BatchNorm2d(out_channels) if order in ("klachko", "authors_first") else None
        self.mix = (
            nn.Sequential(nn.Conv2d(out_channels, out_channels, 1), nn.BatchNorm2d(out_channels), make_act(act))
            if mix_maps
            else None
        )

    def perturb(self, x: torch.Tensor) -> torch.Tensor:
        """Add the scaled masks: ``(B, C_in, H, W)`` -> ``(B, C_in·m, H, W)``, the m maps of a channel adjacent."""
        if tuple(x.shape[-2:]) != self.input_size:
            raise ValueError(
                f"PerturbLayer masks are {self.input_size[0]}×{self.input_size[1]} but the input is "
                f"{x.shape[-2]}×{x.shape[-1]}; build the layer with input_size={tuple(x.shape[-2:])}"
            )
        y = torch.add(x.unsqueeze(2), self.masks * self.level)  # (B, C, 1, H, W) + (1, C|1, m, H, W)
        return y.flatten(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, C_in, H, W)``. Returns ``(B, C_out, H, W)``."""
        y = self.perturb(x)
        if self.order == "authors":
            assert self.bn_in is not None  # built for "authors" and "authors_first"
            if self.use_act:
                y = self.act(y)
            y = self.conv(self.bn_in(y))
        elif self.order == "klachko":
            assert self.bn_out is not None  # built for "klachko" and "authors_first"
            if self.use_act:
                y = self.act(y)
            y = self.act(self.bn_out(self.conv(y)))
        else:  # authors_first
            assert self.bn_in is not None and self.bn_out is not None  # both built for "authors_first"
            y = self.bn_in(y)
            if self.use_act:
                y = self.act(y)
            y = self.act(self.bn_out(self.conv(y)))
        if self.mix is not None:
            y = self.mix(y)
        return y

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, nmasks={self.nmasks}, level={self.level}, order={self.order!r}, "
            f"noise={self.noise!r}, unique_masks={self.unique_masks}, use_act={self.use_act}, "
            f"train_masks={self.train_masks}, input_size={self.input_size}"
        )
