"""A class-agnostic, MUNIT-style content/style generator of nuisance transformations (GIT).

Paper: Zhou, Tajwar, Robey, Knowles, Pappas, Hassani, Finn, "Do Deep Networks Transfer Invariances Across Classes?",
ICLR 2022 (Generative Invariance Transfer). The paper trains MUNIT (Huang et al., ECCV 2018; NVlabs/MUNIT) on the
whole long-tailed training set, without labels, and uses ``decode(content(x), s)`` with a random style code
``s ~ N(0, I)`` as a transformed copy of ``x`` of the same class.

Read for this file: ``AllanYangZhou/generative-invariance-transfer`` at commit a4047f39 (``core/munit/networks.py``,
``core/munit/trainer.py``, ``core/munit/configs/k49bglt-2.0.yaml``, ``core/train_baselines.py``). No code is copied;
the blocks below are written from the architecture those files describe.

What is kept from MUNIT (``AdaINGen``, ``MsImageDis``, ``MUNIT_Trainer.gen_update``/``dis_update``):
content encoder (7×7 conv, ``n_down`` stride-2 4×4 convs, ``n_res`` residual blocks, instance norm, reflect
padding); style encoder (7×7 conv, stride-2 4×4 convs without normalisation, global average pool, 1×1 conv to
``style_dim``); decoder (``n_res`` residual blocks with AdaIN whose scales and shifts an MLP computes from the style,
then nearest ×2 upsampling with 5×5 conv and layer norm); L1 reconstruction of the image, of the content and of the
style code of a decoded random style; an LSGAN term (``gan_w``) with a PatchGAN-like discriminator; the k49 config's
weights ``recon_x_w = 10``, ``recon_c_w = recon_s_w = gan_w = 1`` and ``style_dim = 8`` are the defaults.

Deviations (each one a choice of scrutiny, not of the paper):

- **One domain.** MUNIT has two autoencoders and two discriminators (domains a and b) and GIT keeps that code, trains
  both on the same data and uses only ``gen_a``. Here one autoencoder and one discriminator: the "cross-domain"
  image is ``decode(content(x), s)`` with ``s ~ N(0, I)`` within the single domain.
- **One optimiser, one backward.** MUNIT alternates a discriminator step and a generator step with two Adam
  optimisers. Here :meth:`GITGenerator.forward` returns the per-example loss terms, and their sum is minimised by
  the trial's single optimiser: the discriminator term sees the generated image detached, the generator's
  adversarial term sees the discriminator's parameters detached (``torch.func.functional_call``), so each network
  gets the gradient of its own loss in one simultaneous step.
- **No tanh output.** Inputs are the dataset's normalised images, not ``[-1, 1]``; the last conv is linear and the
  augmentation (:mod:`scrutiny.data.git_augment`) clamps generated images to the training images' value range.
- **Small by default** (``width 16``, ``mlp_dim 64``, ``n_res 2``, one discriminator scale with 3 layers) so the cpu
  scale trains in seconds; the paper's k49 config is ``dim 64, mlp_dim 256, n_res 4``, a 4-layer discriminator.
- No perceptual (VGG) loss and no cycle loss: both have weight 0 in the k49 configs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from scrutiny.registry import MODELS

#: Columns of :meth:`GITGenerator.forward`'s output, in order.
LOSS_TERMS = ("total", "recon_x", "recon_c", "recon_s", "gan_g", "gan_d", "baseline_x")


def _conv(c_in: int, c_out: int, k: int, stride: int = 1, norm: str = "none", act: bool = True) -> nn.Sequential:
    """Reflect-padded conv, then optional instance/layer norm, then optional ReLU (MUNIT's ``Conv2dBlock``)."""
    layers: list[nn.Module] = [nn.ReflectionPad2d(k // 2 if k % 2 else 1)]  # 7/5/3 keep the size, 4 s2 halves it
    layers.append(nn.Conv2d(c_in, c_out, k, stride))
    if norm == "in":
        layers.append(nn.InstanceNorm2d(c_out))
    elif norm == "ln":
        layers.append(nn.GroupNorm(1, c_out))  # layer norm over (C, H, W) with a per-channel affine
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class AdaIN(nn.Module):
    """Instance norm whose per-example scale and shift come from outside: ``x̂ · (1 + γ) + β``.

    Shapes: ``x`` ``(N, C, H, W)``, ``gamma`` and ``beta`` ``(N, C)``.
    """

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        x = F.instance_norm(x, eps=1e-5)
        return x * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]


class ResBlock(nn.Module):
    """Two 3×3 convs with instance norm (content encoder) or AdaIN (decoder), and an identity shortcut."""

    def __init__(self, dim: int, adain: bool = False) -> None:
        super().__init__()
        self.adain = adain
        norm = "none" if adain else "in"
        self.conv1, self.conv2 = _conv(dim, dim, 3, norm=norm, act=False), _conv(dim, dim, 3, norm=norm, act=False)
        self.norm = AdaIN() if adain else None

    def forward(self, x: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(x)
        if self.norm is not None:
            if params is None:
                raise ValueError("params: an AdaIN block needs its style parameters (N, 4 * dim)")
            g1, b1, g2, b2 = params.chunk(4, dim=1)
            h = self.norm(h, g1, b1)
        h = self.conv2(F.relu(h))
        if self.norm is not None:
            h = self.norm(h, g2, b2)
        return x + h


class GITGenerator(nn.Module):
    """Content encoder, style encoder, AdaIN decoder and discriminator of one image domain.

    Args:
        in_channels: Image channels.
        width: Channels of the first conv; doubled at each downsampling.
        style_dim: Length of the style code.
        mlp_dim: Hidden width of the MLP that maps a style code to AdaIN parameters.
        n_down: Stride-2 downsamplings in the content encoder (and upsamplings in the decoder).
        n_res: Residual blocks in the content encoder and in the decoder.
        dis_layers: Stride-2 convs of the discriminator.
        recon_x_w, recon_c_w, recon_s_w, gan_w: Weights of the loss terms (MUNIT's names).
    """

    def __init__(
        self,
        in_channels: int = 1,
        width: int = 16,
        style_dim: int = 8,
        mlp_dim: int = 64,
        n_down: int = 2,
        n_res: int = 2,
        dis_layers: int = 3,
        recon_x_w: float = 10.0,
        recon_c_w: float = 1.0,
        recon_s_w: float = 1.0,
        gan_w: float = 1.0,
    ) -> None:
        super().__init__()
        self.in_channels, self.style_dim = in_channels, style_dim
        self.weights = {"recon_x": recon_x_w, "recon_c": recon_c_w, "recon_s": recon_s_w, "gan": gan_w}
        dims = [width * 2**i for i in range(n_down + 1)]
        self.content = nn.Sequential(
            _conv(in_channels, width, 7, norm="in"),
            *[_conv(dims[i], dims[i + 1], 4, 2, norm="in") for i in range(n_down)],
            *[ResBlock(dims[-1]) for _ in range(n_res)],
        )
        self.style = nn.Sequential(
            _conv(in_channels, width, 7),
            *[_conv(dims[i], dims[i + 1], 4, 2) for i in range(n_down)],
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(dims[-1], style_dim, 1),
            nn.Flatten(),
        )
        self.dec_res = nn.ModuleList(ResBlock(dims[-1], adain=True) for _ in range(n_res))
        self.mlp = nn.Sequential(
            nn.Linear(style_dim, mlp_dim),
            nn.ReLU(inplace=True),
            nn.Linear(mlp_dim, mlp_dim),
            nn.ReLU(inplace=True),
            nn.Linear(mlp_dim, 4 * dims[-1] * n_res),
        )
        up: list[nn.Module] = []
        for i in range(n_down, 0, -1):
            up += [nn.Upsample(scale_factor=2, mode="nearest"), _conv(dims[i], dims[i - 1], 5, norm="ln")]
        self.up = nn.Sequential(*up, _conv(width, in_channels, 7, act=False))
        dis: list[nn.Module] = []
        c = in_channels
        for i in range(dis_layers):
            dis += [nn.Conv2d(c, width * 2**i, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
            c = width * 2**i
        self.dis = nn.Sequential(*dis, nn.Conv2d(c, 1, 1))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Content ``(N, C', H / 2^n_down, W / 2^n_down)`` and style ``(N, style_dim)`` of images ``(N, C, H, W)``."""
        return self.content(x), self.style(x)

    def decode(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """Images ``(N, C, H, W)`` from content codes and style codes ``(N, style_dim)``."""
        params = self.mlp(style).chunk(len(self.dec_res), dim=1)
        h = content
        for block, p in zip(self.dec_res, params, strict=True):
            h = block(h, p)
        return self.up(h)

    def transform(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """``decode(content(x), style)``: ``x`` ``(N, C, H, W)`` with new styles ``(N, style_dim)``, same shape."""
        return self.decode(self.content(x), style)

    def forward(self, x: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        """Per-example loss terms ``(N, 7)``, columns :data:`LOSS_TERMS`.

        ``total`` is the weighted sum that training minimises; ``recon_x`` the mean absolute error of the
        reconstruction ``decode(encode(x))``; ``recon_c`` and ``recon_s`` those of the content and of the random
        style ``style`` (default: drawn from ``N(0, I)`` with torch's global generator, the trial's dropout stream)
        re-encoded from ``decode(content(x), style)``; ``gan_g`` and ``gan_d`` the LSGAN terms of generator and
        discriminator; ``baseline_x`` the mean absolute difference of ``x`` and the previous image of the batch
        (rolled by one), the error of answering with another image (not part of the loss).
        """
        n = x.shape[0]
        if style is None:
            style = torch.randn(n, self.style_dim, device=x.device, dtype=x.dtype)
        content, own_style = self.encode(x)
        recon = self.decode(content, own_style)
        fake = self.decode(content, style)
        content_2, style_2 = self.encode(fake)
        frozen = {k: v.detach() for k, v in self.dis.named_parameters()}
        d_fake_g = functional_call(self.dis, frozen, (fake,))
        d_real, d_fake_d = self.dis(x), self.dis(fake.detach())
        terms = {
            "recon_x": (recon - x).abs().flatten(1).mean(1),
            "recon_c": (content_2 - content).abs().flatten(1).mean(1),
            "recon_s": (style_2 - style).abs().mean(1),
            "gan_g": (d_fake_g - 1).pow(2).flatten(1).mean(1),
            "gan_d": (d_real - 1).pow(2).flatten(1).mean(1) + d_fake_d.pow(2).flatten(1).mean(1),
        }
        w = self.weights
        total = (
            w["recon_x"] * terms["recon_x"]
            + w["recon_c"] * terms["recon_c"]
            + w["recon_s"] * terms["recon_s"]
            + w["gan"] * (terms["gan_g"] + terms["gan_d"])
        )
        baseline = (x.roll(1, 0) - x).abs().flatten(1).mean(1)
        cols = [total, *(terms[k] for k in LOSS_TERMS[1:6]), baseline.detach()]
        return torch.stack(cols, dim=1)


@MODELS.register("git_generator", example_input=lambda: torch.randn(2, 1, 16, 16), example_context={"in_channels": 1})
def git_generator(
    *,
    in_channels: int = 1,
    width: int = 16,
    style_dim: int = 8,
    mlp_dim: int = 64,
    n_down: int = 2,
    n_res: int = 2,
    dis_layers: int = 3,
    recon_x_w: float = 10.0,
    recon_c_w: float = 1.0,
    recon_s_w: float = 1.0,
    gan_w: float = 1.0,
) -> GITGenerator:
    """MUNIT-style content/style generator of one domain (GIT); trains with the ``transformation`` task."""
    return GITGenerator(
        in_channels, width, style_dim, mlp_dim, n_down, n_res, dis_layers, recon_x_w, recon_c_w, recon_s_w, gan_w
    )
