"""AddCoords / CoordConv2d / PointwiseConv: channel order, scaling, r variants, size-1 maps, drop-in behaviour."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from scrutiny.layers.coordconv import AddCoords, CoordConv2d, PointwiseConv, axis_coords, coord_channels


def test_order_and_range_on_non_square_map():
    x = torch.randn(2, 3, 4, 6)
    out = AddCoords()(x)
    assert out.shape == (2, 5, 4, 6)
    assert torch.equal(out[:, :3], x)  # inputs first, unchanged
    xx, yy = out[0, 3], out[0, 4]
    # xx varies along columns only, yy along rows only; both span exactly [-1, 1] (not [-1, 2.333] as upstream)
    assert torch.equal(xx, xx[:1].expand(4, 6)) and torch.equal(yy, yy[:, :1].expand(4, 6))
    assert xx[0, 0] == -1 and xx[0, -1] == 1 and yy[0, 0] == -1 and yy[-1, 0] == 1
    assert torch.allclose(xx[0], torch.tensor([-1.0, -0.6, -0.2, 0.2, 0.6, 1.0]))
    assert torch.allclose(yy[:, 0], torch.tensor([-1.0, -1 / 3, 1 / 3, 1.0]))


def test_reference_values_on_64x64():
    c = coord_channels(64, 64, with_r=True)
    for (i, j), (xx, yy, r) in {
        (0, 0): (-1, -1, 1.414214),
        (0, 63): (1, -1, 1.414214),
        (10, 20): (-0.365079, -0.682540, 0.774044),
        (32, 32): (0.015873, 0.015873, 0.022448),
    }.items():
        assert c[:, i, j].tolist() == pytest.approx([xx, yy, r], abs=1e-6)


def test_ports_off_centre_radius():
    r = AddCoords(with_r=True, centered_r=True)(torch.zeros(1, 0, 64, 64))[0, 2]
    assert r[0, 0].item() == pytest.approx(2.121320, abs=1e-6)
    assert r[63, 63].item() == pytest.approx(0.707107, abs=1e-6)
    assert r[0, 63].item() == pytest.approx(1.581139, abs=1e-6)
    with pytest.raises(ValueError, match="centered_r"):
        AddCoords(centered_r=True)


def test_size_one_dims_give_zero_not_nan():
    assert axis_coords(1).tolist() == [0.0]
    out = AddCoords(with_r=True)(torch.zeros(1, 1, 1, 5))
    assert torch.isfinite(out).all()
    assert out.shape == (1, 4, 1, 5)
    assert out[0, 1, 0].tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0]  # xx
    assert out[0, 2].abs().sum() == 0  # yy of the single row: 0
    assert torch.equal(out[0, 3], out[0, 1].abs())  # r = |xx|


def test_follows_dtype_and_rejects_wrong_rank():
    out = AddCoords()(torch.zeros(1, 1, 3, 3, dtype=torch.float64))
    assert out.dtype == torch.float64
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        AddCoords()(torch.zeros(3, 3))


def test_coordconv2d_is_conv_over_augmented_input():
    torch.manual_seed(0)
    layer = CoordConv2d(3, 5, 3, stride=2, padding=1, with_r=True)
    assert layer.conv.weight.shape == (5, 6, 3, 3)
    x = torch.randn(2, 3, 7, 9)
    ref = nn.functional.conv2d(AddCoords(with_r=True)(x), layer.conv.weight, layer.conv.bias, stride=2, padding=1)
    assert torch.allclose(layer(x), ref)
    assert layer(x).shape == nn.Conv2d(3, 5, 3, stride=2, padding=1)(x).shape
    layer(x).sum().backward()
    assert torch.isfinite(layer.conv.weight.grad).all()
    with pytest.raises(ValueError, match="groups"):
        CoordConv2d(4, 4, 1, groups=2)
    with pytest.raises(ValueError, match="input channels"):
        layer(torch.randn(1, 4, 5, 5))


def test_pointwise_conv_matches_conv2d_and_shares_state_dict():
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 7, 1)
    point = PointwiseConv(4, 7)
    assert {k: v.shape for k, v in point.state_dict().items()} == {k: v.shape for k, v in conv.state_dict().items()}
    point.load_state_dict(conv.state_dict())
    x = torch.randn(2, 4, 5, 6)
    assert torch.allclose(point(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2), conv(x), atol=1e-6)
    # same default initialisation bounds as nn.Conv2d
    fresh = PointwiseConv(100, 50)
    assert fresh.weight.abs().max() <= 1 / math.sqrt(100) + 1e-6
