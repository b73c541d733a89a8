"""airbench94: architecture, parameter count, the whitening initialisation and the whitening bias's epochs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from scrutiny.models import build_model
from scrutiny.models.airbench import Airbench94, patch_second_moment
from scrutiny.spec.schema import OptimSection
from scrutiny.trials.optim import build_optimizer


def _images(n: int = 32, size: int = 8, seed: int = 0) -> torch.Tensor:
    """Correlated images: channels mixed and pixels smoothed, so that the patch moments are far from identity."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, size + 1, size + 1, generator=g)
    x = (x[..., 1:, 1:] + x[..., :-1, :-1] + 0.5 * x[..., 1:, :-1]) / 2  # spatial correlation
    mix = torch.tensor([[1.0, 0.5, 0.2], [0.3, 1.0, 0.4], [0.1, 0.6, 1.0]])
    return torch.einsum("ij,njhw->nihw", mix, x) + 0.3


def test_published_architecture_and_parameter_count():
    model = build_model({"name": "airbench94"}, {"num_classes": 10, "in_channels": 3, "image_size": (32, 32)})
    assert isinstance(model, Airbench94)
    # make_net: whiten 3 -> 24 (2x2, bias), groups 24 -> 64 -> 256 -> 256 (two 3x3 convs, two BatchNorms each),
    # linear 256 -> 10 without bias
    whiten = 24 * 3 * 2 * 2 + 24
    groups = sum(9 * (a * b + b * b) + 4 * b for a, b in [(24, 64), (64, 256), (256, 256)])
    assert sum(p.numel() for p in model.parameters()) == whiten + groups + 256 * 10
    # frozen: the whitening weights and every BatchNorm weight
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    assert frozen == 24 * 3 * 2 * 2 + 2 * (64 + 256 + 256)
    norm = model.group2.norm1
    assert norm.momentum == pytest.approx(0.4) and norm.eps == 1e-12 and not norm.weight.requires_grad
    assert model.scaling_factor == pytest.approx(1 / 9) and model.data_init_examples == 5000
    assert model.head.bias is None and model.whiten.padding == (0, 0)
    out = model.eval()(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)


def test_convs_start_as_identity_on_their_input_channels():
    model = Airbench94(widths=(8, 16, 16))
    w = model.group2.conv1.weight  # 8 -> 16
    expected = torch.zeros(8, 8, 3, 3)
    expected[torch.arange(8), torch.arange(8), 1, 1] = 1
    assert torch.equal(w[:8], expected)
    assert torch.equal(model.whiten.bias, torch.zeros(24))


def test_patch_second_moment_matches_a_direct_computation():
    x = _images(5, 6).double()
    patches = x.unfold(2, 2, 1).unfold(3, 2, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 12)  # (c, kh, kw) order
    expected = patches.T @ patches / len(patches)
    assert torch.allclose(patch_second_moment(x, 2, chunk=2), expected, atol=1e-12)


def test_whitening_init_whitens_the_init_patches():
    x = _images()
    model = Airbench94(widths=(4, 4, 4), whiten_eps=5e-4)
    model.init_from_data(x)
    w = model.whiten.weight
    assert not w.requires_grad and torch.equal(w[12:], -w[:12])
    y = F.conv2d(x.double(), w[:12].double())  # the first half of the outputs, without the bias
    flat = y.permute(1, 0, 2, 3).reshape(12, -1)
    moment = flat @ flat.T / flat.shape[1]
    eigenvalues = torch.linalg.eigvalsh(patch_second_moment(x, 2)).flip(0)
    # identity up to the eps: diag(λ / (λ + eps)), eigenvalues in descending order
    assert torch.allclose(moment, torch.diag(eigenvalues / (eigenvalues + 5e-4)), atol=1e-5)
    # so within eps / λ_min of the identity
    assert (moment - torch.eye(12, dtype=moment.dtype)).abs().max() <= 5e-4 / eigenvalues[-1] + 1e-5
    assert bool((eigenvalues[:-1] >= eigenvalues[1:]).all())


def test_set_epoch_freezes_the_whitening_bias_after_three_epochs():
    torch.manual_seed(0)
    model = Airbench94(widths=(4, 4, 4))
    optimizer = build_optimizer(model, OptimSection(lr=0.1, momentum=0.0))
    x, y = torch.randn(4, 3, 16, 16), torch.tensor([0, 1, 2, 3])
    for epoch in (1, 2, 3, 4, 5):
        model.set_epoch(epoch)
        assert model.whiten.bias.requires_grad == (epoch <= 3)
        before = model.whiten.bias.detach().clone()
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        assert torch.equal(model.whiten.bias, before) == (epoch > 3)
