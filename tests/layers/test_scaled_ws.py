import numpy as np
import pytest
import torch
import torch.nn.functional as F

from scrutiny.layers.scaled_ws import ScaledStdConv2d


def _deepmind_standardize(w_oihw: np.ndarray, gain: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """nfnets/base.py standardize_weight on HWIO weights, written with numpy."""
    w = np.transpose(w_oihw, (2, 3, 1, 0))  # HWIO
    mean = w.mean(axis=(0, 1, 2), keepdims=True)
    var = w.var(axis=(0, 1, 2), keepdims=True)
    fan_in = np.prod(w.shape[:-1])
    scale = 1 / np.sqrt(np.maximum(var * fan_in, eps)) * gain
    out = w * scale - mean * scale
    return np.transpose(out, (3, 2, 0, 1))


@pytest.mark.parametrize("groups,kernel", [(1, 3), (2, (3, 1)), (1, 1)])
def test_per_channel_zero_mean_and_scaled_norm(groups, kernel):
    torch.manual_seed(0)
    conv = ScaledStdConv2d(8, 6, kernel, groups=groups, gamma=1.7)
    with torch.no_grad():
        conv.gain.copy_(torch.linspace(0.5, 2.0, 6))
        conv.weight.mul_(3.0).add_(0.7)
    w = conv.standardized_weight().detach().double()
    assert conv.fan_in == (8 // groups) * w.shape[2] * w.shape[3]
    assert torch.allclose(w.mean(dim=(1, 2, 3)), torch.zeros(6, dtype=torch.float64), atol=1e-6)
    expected = (conv.gain.detach().double() * 1.7) ** 2
    assert torch.allclose(w.pow(2).sum(dim=(1, 2, 3)), expected, rtol=1e-5)
    # i.e. Var(Ŵ) = γ²·gain² / N per output channel
    assert torch.allclose(w.var(dim=(1, 2, 3), correction=0) * conv.fan_in, expected, rtol=1e-5)


def test_matches_deepmind_formula():
    torch.manual_seed(1)
    conv = ScaledStdConv2d(5, 4, 3)
    with torch.no_grad():
        conv.gain.copy_(torch.tensor([1.0, 0.5, 2.0, 1.5]))
    ours = conv.standardized_weight().detach().numpy()
    ref = _deepmind_standardize(conv.weight.detach().numpy().astype(np.float64), conv.gain.detach().numpy())
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-7)


def test_add_mode_matches_timm_formula():
    torch.manual_seed(2)
    conv = ScaledStdConv2d(4, 3, 3, gamma=1.71, eps=1e-5, eps_mode="add")
    scale = 1.71 * conv.weight[0].numel() ** -0.5
    ref = F.batch_norm(
        conv.weight.reshape(1, 3, -1), None, None, weight=(conv.gain * scale), training=True, momentum=0.0, eps=1e-5
    ).reshape_as(conv.weight)
    assert torch.allclose(conv.standardized_weight(), ref, atol=1e-6)


def test_standardized_at_every_forward():
    torch.manual_seed(3)
    conv = ScaledStdConv2d(3, 5, 3, padding=1)
    x = torch.randn(2, 3, 8, 8)
    y0 = conv(x)
    with torch.no_grad():  # a per-channel affine change of W is undone by the standardization
        conv.weight.mul_(4.0).add_(torch.randn(5, 1, 1, 1))
    assert torch.allclose(conv(x), y0, atol=1e-5)
    assert torch.allclose(y0, F.conv2d(x, conv.standardized_weight(), conv.bias, padding=1), atol=1e-5)


def test_init_eps_and_gradients():
    conv = ScaledStdConv2d(3, 4, 3, gain_init=0.0)
    assert torch.all(conv.bias == 0) and torch.all(conv.gain == 0)
    assert conv.weight.std().item() == pytest.approx(27**-0.5, rel=0.3)
    with torch.no_grad():
        conv.weight.zero_()
        conv.gain.fill_(1.0)
    out = conv(torch.randn(1, 3, 5, 5))
    assert torch.isfinite(out).all() and torch.all(out == 0)  # max(N·var, eps) keeps it finite

    conv = ScaledStdConv2d(3, 4, 3)
    conv(torch.randn(2, 3, 6, 6)).pow(2).sum().backward()
    for p in (conv.weight, conv.gain, conv.bias):
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="eps_mode"):
        ScaledStdConv2d(3, 4, 3, eps_mode="min")
    with pytest.raises(ValueError, match="eps"):
        ScaledStdConv2d(3, 4, 3, eps=-1.0)
    assert "gamma=" in repr(ScaledStdConv2d(3, 4, 3))
