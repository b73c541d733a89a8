"""PerturbLayer: the documented compositions, mask storage, seeding and validation."""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F

from scrutiny.layers.perturb import PerturbLayer, draw_masks


def _randomise_bn(layer: PerturbLayer, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    for bn in (layer.bn_in, layer.bn_out):
        if bn is not None:
            bn.weight.data = torch.rand(bn.weight.shape, generator=g) + 0.5
            bn.bias.data = torch.randn(bn.bias.shape, generator=g)
            bn.running_mean = torch.randn(bn.running_mean.shape, generator=g)
            bn.running_var = torch.rand(bn.running_var.shape, generator=g) + 0.5


def _bn(y: torch.Tensor, bn: torch.nn.BatchNorm2d, training: bool) -> torch.Tensor:
    return F.batch_norm(y, bn.running_mean.clone(), bn.running_var.clone(), bn.weight, bn.bias, training, 0.1, bn.eps)


def _reference(layer: PerturbLayer, x: torch.Tensor, training: bool) -> torch.Tensor:
    """Hand-written functional version of the compositions in the module docstring (no mix_maps)."""
    b, c, h, w = x.shape
    m = layer.nmasks
    noise = layer.masks.expand(1, c, m, h, w) * layer.level  # (1, C, m, H, W)
    y = torch.stack([x[:, ch : ch + 1] + noise[:, ch] for ch in range(c)], dim=1)  # (B, C, m, H, W)
    y = y.reshape(b, c * m, h, w)
    act = torch.relu if layer.act.__class__.__name__ == "ReLU" else torch.sigmoid
    groups = c if m > 1 else 1
    conv = layer.conv
    if layer.order == "authors":  # x + N -> ReLU -> BN(C_in·m) -> conv1x1 (bias)
        y = act(y) if layer.use_act else y
        return F.conv2d(_bn(y, layer.bn_in, training), conv.weight, conv.bias, groups=groups)
    if layer.order == "klachko":  # x + N -> [act] -> conv1x1 (grouped) -> BN -> act
        y = act(y) if layer.use_act else y
        return act(_bn(F.conv2d(y, conv.weight, conv.bias, groups=groups), layer.bn_out, training))
    # authors_first: x + N -> BN -> act -> conv1x1 (grouped) -> BN -> act
    y = _bn(y, layer.bn_in, training)
    y = act(y) if layer.use_act else y
    return act(_bn(F.conv2d(y, conv.weight, conv.bias, groups=groups), layer.bn_out, training))


@pytest.mark.parametrize("order", ["authors", "klachko", "authors_first"])
@pytest.mark.parametrize(("nmasks", "unique", "use_act"), [(1, True, True), (3, True, False), (3, False, True)])
@pytest.mark.parametrize("training", [True, False])
def test_order_computes_documented_composition(order, nmasks, unique, use_act, training):
    act = "sigmoid" if order == "authors_first" else "relu"
    layer = PerturbLayer(2, 4, nmasks, 0.3, input_size=(5, 6), order=order, unique_masks=unique, use_act=use_act,
                         act=act, seed=1)  # fmt: skip
    _randomise_bn(layer)
    layer.train(training)
    x = torch.randn(3, 2, 5, 6, generator=torch.Generator().manual_seed(2))
    expected = _reference(layer, x, training)
    torch.testing.assert_close(layer(x), expected, rtol=1e-6, atol=1e-6)
    assert layer.masks.shape == (1, 2 if unique else 1, nmasks, 5, 6)
    assert layer.conv.groups == (2 if nmasks > 1 else 1)
    assert layer.conv.bias is not None


def test_perturb_expands_channels_mask_by_mask():
    layer = PerturbLayer(3, 6, 2, 0.5, input_size=4, seed=0)
    x = torch.randn(2, 3, 4, 4)
    y = layer.perturb(x)
    assert y.shape == (2, 6, 4, 4)
    for c in range(3):
        for i in range(2):
            torch.testing.assert_close(y[:, 2 * c + i], x[:, c] + 0.5 * layer.masks[0, c, i], rtol=0, atol=0)


def test_masks_are_fixed_across_samples_and_calls():
    layer = PerturbLayer(1, 1, 1, 1.0, input_size=3, seed=0)
    x = torch.zeros(4, 1, 3, 3)
    a, b = layer.perturb(x), layer.perturb(x)
    assert torch.equal(a, b) and torch.equal(a[0], a[3])


def test_noise_distributions():
    u = draw_masks((1, 1, 50, 20, 20), "uniform", torch.Generator().manual_seed(0))
    n = draw_masks((1, 1, 50, 20, 20), "normal", torch.Generator().manual_seed(0))
    assert u.min() >= -1 and u.max() < 1 and abs(u.mean()) < 0.02
    assert n.abs().max() > 2 and abs(n.std() - 1) < 0.02


def test_state_dict_round_trip_is_bit_exact():
    layer = PerturbLayer(3, 6, 2, 0.5, input_size=8, order="klachko", seed=0)
    x = torch.randn(4, 3, 8, 8)
    layer.train()
    for _ in range(3):
        layer(x)  # move the BN running statistics
    layer.eval()
    buffer = io.BytesIO()
    torch.save(layer.state_dict(), buffer)
    assert "masks" in layer.state_dict()
    other = PerturbLayer(3, 6, 2, 0.5, input_size=8, order="klachko", seed=1).eval()
    assert not torch.equal(other(x), layer(x))
    buffer.seek(0)
    other.load_state_dict(torch.load(buffer, weights_only=True))
    assert torch.equal(other.masks, layer.masks)
    assert torch.equal(other(x), layer(x))


@pytest.mark.parametrize("order", ["authors", "klachko"])
def test_masks_not_trainable_unless_train_masks(order):
    fixed = PerturbLayer(2, 2, 1, 0.1, input_size=4, order=order, seed=0)
    assert all(p is not fixed.masks for p in fixed.parameters())
    assert "masks" in dict(fixed.named_buffers())
    trained = PerturbLayer(2, 2, 1, 0.1, input_size=4, order=order, train_masks=True, seed=0)
    assert "masks" in dict(trained.named_parameters()) and trained.masks.requires_grad
    assert "masks" in trained.state_dict()
    assert torch.equal(fixed.masks, trained.masks)
    trained(torch.randn(2, 2, 4, 4)).sum().backward()
    assert trained.masks.grad is not None and torch.isfinite(trained.masks.grad).all()


def test_same_seed_same_masks_different_seed_different():
    def make(**kw):
        return PerturbLayer(2, 4, 2, 0.1, input_size=5, **kw).masks

    assert torch.equal(make(seed=3), make(seed=3))
    assert not torch.equal(make(seed=3), make(seed=4))
    assert torch.equal(make(seed=3), make(generator=torch.Generator().manual_seed(3)))
    torch.manual_seed(0)
    a = make()
    torch.manual_seed(0)
    assert torch.equal(a, make())  # no seed: torch's default generator, like the weights
    with pytest.raises(ValueError, match="at most one"):
        make(seed=1, generator=torch.Generator())


def test_validation_errors():
    with pytest.raises(ValueError, match="order"):
        PerturbLayer(2, 2, input_size=4, order="other")
    with pytest.raises(ValueError, match="multiple of in_channels"):
        PerturbLayer(3, 4, 2, input_size=4)
    with pytest.raises(ValueError, match="noise"):
        PerturbLayer(2, 2, input_size=4, noise="salt")
    with pytest.raises(ValueError, match="act"):
        PerturbLayer(2, 2, input_size=4, act="gelu2")
    layer = PerturbLayer(2, 2, input_size=4, seed=0)
    with pytest.raises(ValueError, match="input_size"):
        layer(torch.randn(1, 2, 5, 5))


def test_mix_maps_appends_conv_bn_act():
    layer = PerturbLayer(2, 4, 2, 0.1, input_size=4, mix_maps=True, seed=0)
    assert [type(m).__name__ for m in layer.mix] == ["Conv2d", "BatchNorm2d", "ReLU"]
    assert layer(torch.randn(2, 2, 4, 4)).shape == (2, 4, 4, 4)
