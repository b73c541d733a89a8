"""CoordConv models: parameter counts against the reference notes, shapes, TF 'same' alignment, registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scrutiny.models import coordconv as cc
from scrutiny.models._build import build_model
from scrutiny.registry import MODELS


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize(
    ("name", "kwargs", "expected"),
    [
        ("deconv_classification", {}, 103_585),
        ("deconv_classification", {"fs": 2}, 46_465),
        ("deconv_classification", {"mul": 2}, 409_921),
        ("deconv_classification", {"mul": 3, "fs": 4}, 1_632_001),
        ("deconv_rendering", {}, 103_585),
        ("coordconv_classification", {}, 7_553),
        ("coordconv_rendering", {}, 8_074),
        ("coordconv_rendering", {"fs": 3}, 11_850),
        ("conv_regressor", {"variant": "big_conv"}, 72_850),
        ("conv_regressor", {"variant": "big_conv2"}, 12_914),
        ("coordconv_regressor", {}, 906),
    ],
)
def test_parameter_counts_match_reference(name, kwargs, expected):
    assert n_params(MODELS.get(name)(**kwargs)) == expected


@pytest.mark.parametrize(
    ("name", "kwargs", "x", "out"),
    [
        ("deconv_classification", {}, (3, 2), (3, 4096)),
        ("deconv_rendering", {"fs": 4}, (3, 2), (3, 1, 64, 64)),
        ("deconv_classification", {"image_size": (32, 32), "fs": 1}, (3, 2), (3, 1024)),
        ("coordconv_classification", {"image_size": (16, 24)}, (3, 2), (3, 384)),
        ("coordconv_rendering", {"image_size": (32, 32)}, (3, 2), (3, 1, 32, 32)),
        ("coordconv_rendering", {"image_size": (32, 32), "fs": 2, "softmax": False}, (3, 2), (3, 1, 32, 32)),
        ("conv_regressor", {"image_size": (32, 32)}, (3, 1, 32, 32), (3, 2)),
        ("conv_regressor", {"variant": "big_conv2"}, (3, 1, 64, 64), (3, 2)),
        ("coordconv_regressor", {}, (3, 1, 64, 64), (3, 2)),
    ],
)
def test_forward_backward_shapes_and_finite_grads(name, kwargs, x, out):
    torch.manual_seed(0)
    model = MODELS.get(name)(**kwargs)
    inp = torch.randint(0, 16, x).float() if len(x) == 2 else torch.rand(x)
    y = model(inp)
    assert y.shape == out
    y.square().mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def _tf_same_conv_transpose_1d(x: np.ndarray, k: np.ndarray, stride: int) -> np.ndarray:
    """Reference: TF's 'same' transposed conv = adjoint of a 'same' conv whose input is len(x) * stride."""
    n_out = len(x) * stride
    pad_total = max((len(x) - 1) * stride + len(k) - n_out, 0)
    before = pad_total // 2
    out = np.zeros(n_out)
    for i, v in enumerate(x):
        for t, w in enumerate(k):
            o = i * stride + t - before
            if 0 <= o < n_out:
                out[o] += v * w
    return out


@pytest.mark.parametrize("fs", [1, 2, 3, 4, 5])
def test_conv_transpose_same_matches_tf_alignment(fs):
    torch.manual_seed(fs)
    layer = cc.ConvTranspose2dSame(1, 1, fs, bias=False)
    x = torch.randn(1, 1, 1, 5)
    # a separable kernel, so a 1-D reference on the width axis suffices when the height axis sees a 1-pixel input
    kw = torch.randn(fs)
    kh = torch.zeros(fs)
    kh[max(fs - 2, 0) // 2] = 1.0  # the kernel row that TF keeps for a 1-pixel-high input's first output row
    with torch.no_grad():
        layer.weight.copy_((kh[:, None] * kw[None, :]).view(1, 1, fs, fs))
    out = layer(x)
    assert out.shape == (1, 1, 2, 10)
    ref = _tf_same_conv_transpose_1d(x[0, 0, 0].numpy(), kw.numpy(), 2)
    assert np.allclose(out[0, 0, 0].detach().numpy(), ref, atol=1e-6)


def test_conv_same_stride2_takes_tf_centres():
    """TF pads a 5×5 stride-2 conv on 64 px by (1, 2), so output o is centred on input 2o + 1."""
    layer = cc.Conv2dSame(1, 1, 5, stride=2, bias=False)
    with torch.no_grad():
        layer.weight.zero_()
        layer.weight[0, 0, 2, 2] = 1.0
    x = torch.arange(64.0).view(1, 1, 1, 64).expand(1, 1, 64, 64)
    out = layer(x)
    assert out.shape == (1, 1, 32, 32)
    assert out[0, 0, 0].tolist() == [2.0 * o + 1 for o in range(32)]


def test_tf_init_is_truncated_he_normal():
    torch.manual_seed(0)
    model = cc.coordconv_classification()
    w = model.layers[6].weight  # 64 -> 64 layer
    std = (2 / 64) ** 0.5
    assert w.abs().max() <= 2 * std + 1e-6
    assert 0.7 * std < w.std() < 1.0 * std  # truncation at 2σ shrinks the std to about 0.88σ
    assert all(p.abs().sum() == 0 for n, p in model.named_parameters() if n.endswith("bias"))
    torch_init = cc.coordconv_classification(init="torch")
    assert torch_init.layers[6].bias.abs().sum() > 0
    with pytest.raises(ValueError, match="model.init"):
        cc.coordconv_classification(init="keras")


def test_build_model_fills_context_and_checks_it():
    model = build_model(
        {"name": "coordconv_classification"}, {"num_classes": 1024, "in_channels": 2, "image_size": (32, 32)}
    )
    assert model(torch.tensor([[3.0, 4.0]])).shape == (1, 1024)
    with pytest.raises(ValueError, match="num_classes"):
        build_model({"name": "deconv_classification"}, {"num_classes": 10, "in_channels": 2, "image_size": (64, 64)})
    with pytest.raises(ValueError, match="in_channels"):
        build_model({"name": "coordconv_regressor"}, {"num_classes": 0, "in_channels": 2, "image_size": (64, 64)})


def test_invalid_geometry_raises():
    with pytest.raises(ValueError, match="power of two"):
        cc.deconv_classification(image_size=(48, 48))
    with pytest.raises(ValueError, match="square"):
        cc.deconv_rendering(image_size=(32, 64))
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        cc.coordconv_classification()(torch.zeros(2, 3))
