"""The fully-convolutional form of a global-average-pool + fc classifier (He et al. 2015 sec. 3.4, after VGG).

The fc layer is applied as a 1×1 convolution to the last feature map, giving a class-score map ``(N, K, h, w)``;
its spatial mean equals the original network's output, since pooling and fc are both linear:
``fc(mean_xy f) = mean_xy fc(f)``. The map is what the paper's "fully-convolutional form" scores, and
:func:`~scrutiny.protocols._image.model_logits` averages it over space (in logits) wherever a protocol meets it.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from scrutiny.protocols._base import ProtocolError


class FullyConvolutional(nn.Module):
    """``features`` followed by ``fc`` as a 1×1 convolution; shares (does not copy) the modules it is given.

    Args:
        features: Module mapping images ``(N, C, H, W)`` to feature maps ``(N, D, h, w)``.
        fc: The classifier, ``nn.Linear(D, K)``.
    """

    def __init__(self, features: nn.Module, fc: nn.Linear) -> None:
        super().__init__()
        self.features = features
        self.fc = fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class-score map ``(N, K, h, w)`` of images ``x`` ``(N, C, H, W)``."""
        f = self.features(x)
        return F.conv2d(f, self.fc.weight[:, :, None, None], self.fc.bias)


def _is_global_avg_pool(module: nn.Module) -> bool:
    if not isinstance(module, nn.AdaptiveAvgPool2d):
        return False
    size = module.output_size
    return all(s == 1 for s in (size if isinstance(size, tuple) else (size, size)))


def fully_convolutional(model: nn.Module, *, check: bool = True, probe_size: int = 64) -> FullyConvolutional:
    """Wrap a model whose last two children are a global average pool and an ``nn.Linear`` (torchvision ResNets).

    The children before the pool are taken, in registration order, as the feature extractor; that is the forward
    order of torchvision's ``ResNet`` and of scrutiny's CIFAR ResNets. With ``check`` a random probe
    ``(2, C, probe_size, probe_size)`` (fixed local seed, eval mode, model state restored) confirms that the
    wrapper's spatial mean equals the model's output, so a model whose forward is not its children in order
    fails loudly.

    Args:
        model: E.g. ``torchvision.models.resnet50()``; children ``..., avgpool (AdaptiveAvgPool2d(1)), fc``.
        check: Compare against the model on a probe input.
        probe_size: Side of the probe images.

    Returns:
        A :class:`FullyConvolutional` sharing the model's parameters; its output is ``(N, K, h, w)``.
    """
    children = list(model.named_children())
    if len(children) < 3 or not _is_global_avg_pool(children[-2][1]) or not isinstance(children[-1][1], nn.Linear):
        names = [f"{n} ({type(m).__name__})" for n, m in children[-2:]]
        raise ProtocolError(
            f"fully_convolutional: expected the model's last children to be a global average pool "
            f"(AdaptiveAvgPool2d(1)) and an nn.Linear, got {names}"
        )
    fc = children[-1][1]
    assert isinstance(fc, nn.Linear)
    wrapper = FullyConvolutional(nn.Sequential(OrderedDict(children[:-2])), fc)
    if check:
        _check(model, wrapper, probe_size)
    return wrapper


def _check(model: nn.Module, wrapper: FullyConvolutional, probe_size: int) -> None:
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        raise ProtocolError("fully_convolutional: the model has no Conv2d to infer its input channels from")
    param = next(model.parameters())
    g = torch.Generator().manual_seed(0)
    probe = torch.randn(2, conv.in_channels, probe_size, probe_size, generator=g).to(param.device, param.dtype)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            expected, got = model(probe), wrapper(probe).mean(dim=(2, 3))
    finally:
        model.train(was_training)
    if expected.shape != got.shape or not torch.allclose(expected, got, rtol=1e-4, atol=1e-4):
        raise ProtocolError(
            "fully_convolutional: the wrapper's spatial mean differs from the model's output on a "
            "probe input; the model's forward is not its children in order (write a custom "
            "FullyConvolutional(features, fc))"
        )
