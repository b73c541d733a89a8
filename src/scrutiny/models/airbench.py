"""airbench94: the 8-layer whitened convnet of "94% on CIFAR-10 in 3.29 seconds on a single GPU".

Source: Keller Jordan 2024, arXiv 2404.00498; code github.com/KellerJordan/cifar10-airbench, file
``legacy/airbench94.py`` (the paper's script; the repository moved it from ``airbench94.py`` into ``legacy/``).
Every published number below names the variable of that file it comes from (``hyp[...]``, a function or a class).

The network (``make_net``):

* a 2×2 convolution without padding whose weights are a fixed patch whitening (eigenvectors of the second-moment
  matrix of the 2×2 patches of the first 5000 training images, scaled by ``1/sqrt(eigenvalue + eps)``, and their
  negations), with a learnable bias that is trained for the first 3 epochs only, then GELU;
* three conv groups ``conv3×3 -> maxpool 2 -> BatchNorm -> GELU -> conv3×3 -> BatchNorm -> GELU`` of widths
  64, 256, 256; every 3×3 conv has no bias and starts as the identity on its first ``in`` channels (Dirac);
  BatchNorm has its weight frozen at 1, a trainable bias, eps 1e-12 and a running-average momentum of 0.4
  (airbench's 0.6 is the weight of the old average);
* a global max pool, a linear layer without bias and a fixed scale of 1/9 on the logits.

Contracts with the training loop (:mod:`scrutiny.trials.loop`):

* ``data_init_examples`` (int) and ``init_from_data(x)``: the loop calls ``init_from_data`` once after building
  the model, with the first ``data_init_examples`` training examples (evaluation view: normalised, unaugmented,
  ``(N, C, H, W)`` on the model's device). Until then the whitening weights are random.
* ``set_epoch(epoch)``: called at the start of every training epoch (from 1); the whitening bias has
  ``requires_grad`` set to ``epoch <= whiten_bias_epochs``, so the optimiser skips it afterwards (its gradient
  stays ``None``).

Differences from the published script, none of which changes the function computed: weights are kept in float32
(the trial's precision setting decides the compute dtype; airbench stores them in half precision), the whitening
matrix is computed in float64 (airbench: float32), and the final ``MaxPool2d(3)`` is an adaptive max pool to 1×1,
which is the same on the 3×3 map that a 32×32 input leaves and also accepts other input sizes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from scrutiny.registry import MODELS

# hyp['net']['widths'] = {'block1': 64, 'block2': 256, 'block3': 256}
WIDTHS = (64, 256, 256)
# hyp['net']['batchnorm_momentum'] = 0.6; airbench's BatchNorm passes momentum=1-0.6 to PyTorch
BATCHNORM_MOMENTUM = 0.6
# class BatchNorm: eps=1e-12
BATCHNORM_EPS = 1e-12
# hyp['net']['scaling_factor'] = 1/9
SCALING_FACTOR = 1 / 9
# make_net: whiten_kernel_size = 2 (whiten_width = 2 * 3 * 2**2 = 24 channels)
WHITEN_KERNEL_SIZE = 2
# init_whitening_conv(layer, train_set, eps=5e-4)
WHITEN_EPS = 5e-4
# hyp['opt']['whiten_bias_epochs'] = 3
WHITEN_BIAS_EPOCHS = 3
# main: train_loader.images[:5000] are the whitening statistics' images
DATA_INIT_EXAMPLES = 5000


class _Conv(nn.Conv2d):
    """A convolution that starts as PyTorch's default, then Dirac (identity) on its first ``in_channels`` filters,
    with a zero bias (airbench's ``Conv.reset_parameters``)."""

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        w = self.weight.data
        nn.init.dirac_(w[: w.size(1)])


def _batchnorm(channels: int, momentum: float) -> nn.BatchNorm2d:
    """BatchNorm with the weight frozen at 1 and a trainable bias (airbench's ``BatchNorm(weight=False, bias=True)``).

    ``momentum`` is airbench's: the weight of the old running average, so PyTorch gets ``1 - momentum``.
    """
    norm = nn.BatchNorm2d(channels, eps=BATCHNORM_EPS, momentum=1 - momentum)
    norm.weight.requires_grad = False
    return norm


class ConvGroup(nn.Module):
    """``conv -> maxpool 2 -> BN -> GELU -> conv -> BN -> GELU`` (airbench's ``ConvGroup``)."""

    def __init__(self, channels_in: int, channels_out: int, momentum: float) -> None:
        super().__init__()
        self.conv1 = _Conv(channels_in, channels_out, 3, padding="same", bias=False)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = _batchnorm(channels_out, momentum)
        self.conv2 = _Conv(channels_out, channels_out, 3, padding="same", bias=False)
        self.norm2 = _batchnorm(channels_out, momentum)
        self.activ = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.activ(self.norm1(self.pool(self.conv1(x))))
        return self.activ(self.norm2(self.conv2(x)))


def patch_second_moment(x: torch.Tensor, kernel_size: int, chunk: int = 500) -> torch.Tensor:
    """The second-moment matrix ``E[p pᵀ]`` (not centred, as airbench) of all ``kernel_size``² patches of ``x``.

    Args:
        x: Images ``(N, C, H, W)``.
        kernel_size: Patch side; every position with stride 1 and no padding is a patch.
        chunk: Images per step (bounds the memory of the unfolded patches).

    Returns:
        ``(C·k·k, C·k·k)`` float64 matrix, indexed in the order of a conv weight ``(out, C, k, k)`` flattened.
    """
    dim = x.shape[1] * kernel_size * kernel_size
    total = torch.zeros(dim, dim, dtype=torch.float64, device=x.device)
    count = 0
    for part in x.split(chunk):
        patches = F.unfold(part.double(), kernel_size)  # (n, C·k·k, L), channel-major like the conv weight
        total += torch.einsum("nil,njl->ij", patches, patches)
        count += patches.shape[0] * patches.shape[2]
    return total / count


class Airbench94(nn.Module):
    """The airbench94 network; see the module docstring for the architecture and the loop contracts.

    Args:
        in_channels: Image channels.
        num_classes: Output classes.
        widths: Channels of the three conv groups.
        batchnorm_momentum: airbench's momentum (weight of the old running average).
        scaling_factor: Fixed multiplier of the logits.
        whiten_kernel_size: Side of the whitening patches.
        whiten_eps: Added to each eigenvalue before the ``1/sqrt``.
        whiten_bias_epochs: Epochs (from 1) in which the whitening bias is trained.
        data_init_examples: How many training examples the loop passes to :meth:`init_from_data`.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 10,
        widths: Sequence[int] = WIDTHS,
        batchnorm_momentum: float = BATCHNORM_MOMENTUM,
        scaling_factor: float = SCALING_FACTOR,
        whiten_kernel_size: int = WHITEN_KERNEL_SIZE,
        whiten_eps: float = WHITEN_EPS,
        whiten_bias_epochs: int = WHITEN_BIAS_EPOCHS,
        data_init_examples: int = DATA_INIT_EXAMPLES,
    ) -> None:
        super().__init__()
        if len(widths) != 3:
            raise ValueError(f"widths: expected three conv-group widths, got {list(widths)}")
        whiten_width = 2 * in_channels * whiten_kernel_size**2  # make_net: whiten_width = 2 * 3 * k**2
        self.whiten = _Conv(in_channels, whiten_width, whiten_kernel_size, padding=0, bias=True)
        self.whiten.weight.requires_grad = False  # make_net: net[0].weight.requires_grad = False
        self.activ = nn.GELU()
        w1, w2, w3 = (int(w) for w in widths)
        self.group1 = ConvGroup(whiten_width, w1, batchnorm_momentum)
        self.group2 = ConvGroup(w1, w2, batchnorm_momentum)
        self.group3 = ConvGroup(w2, w3, batchnorm_momentum)
        self.pool = nn.AdaptiveMaxPool2d(1)  # airbench: nn.MaxPool2d(3) on the 3×3 map of a 32×32 input
        self.head = nn.Linear(w3, num_classes, bias=False)
        self.scaling_factor = float(scaling_factor)
        self.whiten_eps = float(whiten_eps)
        self.whiten_bias_epochs = int(whiten_bias_epochs)
        self.data_init_examples = int(data_init_examples)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.activ(self.whiten(x))
        x = self.group3(self.group2(self.group1(x)))
        return self.head(self.pool(x).flatten(1)) * self.scaling_factor

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Set the whitening weights from images ``x`` ``(N, C, H, W)`` (airbench's ``init_whitening_conv``).

        With ``Σ = E[p pᵀ]`` over all 2×2 patches ``p`` of ``x`` and its eigen-decomposition ``Σ = V Λ Vᵀ``
        (eigenvalues in descending order), the first half of the filters is ``Vᵀ / sqrt(Λ + eps)`` and the second
        half its negation; so the first half of the outputs (bias aside) has second moment ``Λ / (Λ + eps)``,
        about the identity.
        """
        k = self.whiten.kernel_size[0]
        moment = patch_second_moment(x.to(self.whiten.weight.device), k)
        eigenvalues, eigenvectors = torch.linalg.eigh(moment)  # ascending
        eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.flip(1)  # descending, as airbench
        filters = eigenvectors.T / torch.sqrt(eigenvalues.clamp_min(0) + self.whiten_eps).unsqueeze(1)
        filters = filters.reshape(-1, *self.whiten.weight.shape[1:])
        self.whiten.weight.copy_(torch.cat([filters, -filters]).to(self.whiten.weight.dtype))

    def set_epoch(self, epoch: int) -> None:
        """Train the whitening bias in epochs ``1..whiten_bias_epochs`` only (airbench: ``epoch < 3``, from 0)."""
        bias = self.whiten.bias
        assert bias is not None, "the whitening convolution is built with a bias"
        bias.requires_grad = epoch <= self.whiten_bias_epochs


@MODELS.register("airbench94")
def airbench94(
    *,
    in_channels: int = 3,
    num_classes: int = 10,
    widths: tuple[int, int, int] = WIDTHS,
    batchnorm_momentum: float = BATCHNORM_MOMENTUM,
    scaling_factor: float = SCALING_FACTOR,
    whiten_eps: float = WHITEN_EPS,
    whiten_bias_epochs: int = WHITEN_BIAS_EPOCHS,
    data_init_examples: int = DATA_INIT_EXAMPLES,
) -> nn.Module:
    """airbench94 (Jordan 2024): patch-whitened 8-layer convnet, widths 64/256/256, GELU, logits × 1/9.

    Args:
        in_channels: Image channels (3 for CIFAR-10).
        num_classes: Output classes.
        widths: Channels of the three conv groups (published: 64, 256, 256).
        batchnorm_momentum: Weight of the old BatchNorm running average (published: 0.6).
        scaling_factor: Multiplier of the logits (published: 1/9).
        whiten_eps: Added to the patch eigenvalues (published: 5e-4).
        whiten_bias_epochs: Epochs in which the whitening bias is trained (published: 3).
        data_init_examples: Training images that set the whitening (published: 5000).
    """
    return Airbench94(
        in_channels,
        num_classes,
        widths,
        batchnorm_momentum=batchnorm_momentum,
        scaling_factor=scaling_factor,
        whiten_eps=whiten_eps,
        whiten_bias_epochs=whiten_bias_epochs,
        data_init_examples=data_init_examples,
    )
