"""PNN ResNet-18 models: registration, forward/backward, structure against the reference, masks, parameter counts."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from scrutiny.layers.perturb import PerturbLayer
from scrutiny.models import pnn
from scrutiny.models._build import build_model
from scrutiny.registry import MODELS

CONFIGS = {
    "klachko_default": dict(),
    "authors_order": dict(order="authors"),
    "conv3": dict(first_layer="conv", first_filter_size=3),
    "conv7": dict(first_layer="conv", first_filter_size=7),
    "conv1": dict(first_layer="conv", first_filter_size=1),
    "random_conv3": dict(first_layer="random_conv", first_filter_size=3),
    "perturb_update": dict(first_layer="perturb_update", level=0.1),
    "fanout_grouped": dict(nmasks=3, nfilters=6, first_layer="perturb"),
    "shared_masks_normal_avgpool": dict(unique_masks=False, noise="normal", pool_type="avg", first_use_act=True),
    "train_masks_mix": dict(train_masks=True, mix_maps=True),
}


def _perturb_layers(model: nn.Module) -> list[PerturbLayer]:
    return [m for m in model.modules() if isinstance(m, PerturbLayer)]


def test_builders_are_registered():
    assert MODELS.get("pnn_resnet18") is pnn.pnn_resnet18
    assert MODELS.get("noiseresnet18") is pnn.noiseresnet18


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_pnn_resnet18_forward_backward(name):
    kwargs = {"nfilters": 4, **CONFIGS[name]}
    model = pnn.pnn_resnet18(mask_seed=0, **kwargs)
    x = torch.randn(4, 3, 32, 32)
    out = model(x)
    assert out.shape == (4, 10)
    out.square().mean().backward()
    for pname, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        else:
            assert p.grad is None, pname


@pytest.mark.parametrize("kwargs", [{}, {"first_filter_size": 3, "freeze_first": True}])
def test_noiseresnet18_forward_backward(kwargs):
    model = pnn.noiseresnet18(nfilters=4, mask_seed=0, **kwargs)
    out = model(torch.randn(4, 3, 32, 32))
    assert out.shape == (4, 10)
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.requires_grad)


def test_noiseresnet18_matches_the_authors_structure():
    """juefeix/pnn.pytorch models/naiveresnet.py: 7×7/s2 stem + max-pool; NL -> MaxPool -> BN -> ReLU -> NL -> BN."""
    model = pnn.noiseresnet18(nfilters=4)
    stem = model.pre_layers
    assert [type(m).__name__ for m in stem] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]
    assert stem[0].kernel_size == (7, 7) and stem[0].stride == (2, 2) and stem[0].bias is None
    block = model.layer2[0]
    assert block.order == "authors" and isinstance(block.pool, nn.MaxPool2d)
    assert block.bn1 is not None and block.bn2 is not None
    layer = block.perturb1
    assert layer.order == "authors" and layer.nmasks == 1 and layer.level == 0.1 and layer.bn_out is None
    assert layer.bn_in.num_features == 4 and layer.conv.bias is not None
    # one mask per input channel, sized to the map the layer sees: 32 -> 16 -> 8 at layer1; layer4 ends at 1×1
    sizes = [(pl.in_channels, pl.masks.shape[-1]) for pl in _perturb_layers(model)]
    assert sizes[:4] == [(4, 8), (4, 8), (4, 8), (4, 8)]
    assert sizes[4:6] == [(4, 8), (8, 4)]
    assert sizes[-1] == (32, 1)
    assert model.avgpool.kernel_size == (1, 1)  # "--avgpool ... 1 for cifar10"
    assert pnn.noiseresnet18(nfilters=4, first_filter_size=3).avgpool.kernel_size == (4, 4)


def test_klachko_structure():
    """michaelklachko/pnn.pytorch models.py: PL(conv1x1 -> BN -> act) -> pool -> PL, first layer without use_act."""
    model = pnn.pnn_resnet18(nfilters=4)
    first = model.pre_layers[0]
    assert first.order == "klachko" and not first.use_act and first.level == 0.5
    block = model.layer1[0]
    assert block.bn1 is None and block.bn2 is None and block.shortcut is None
    assert block.perturb1.use_act and block.perturb1.bn_out.num_features == 4
    assert model.layer2[0].shortcut[0].stride == (2, 2)
    assert model.avgpool.kernel_size == (4, 4)  # "AvgPool2d(avgpool) (4 on CIFAR when filter_size < 7)"


def test_perturb_update_first_layer_matches_reference_numbers():
    """Reference A.4, nfilters=256: m = 1280, noise (1, 3, 1280, 32, 32) = 3,932,160 values, BN over 3840,
    grouped conv 3840 -> 768 (groups 3), level 20 × 0.1 = 2.0, then Conv1x1(768 -> 256, no bias) -> BN -> act."""
    first = PerturbLayer(3, 3 * 256, 5 * 256, 0.1 * 20, input_size=32, order="authors_first", act="sigmoid", seed=0)
    assert first.masks.shape == (1, 3, 1280, 32, 32) and first.masks.numel() == 3_932_160
    assert first.bn_in.num_features == 3840
    assert first.conv.in_channels == 3840 and first.conv.out_channels == 768 and first.conv.groups == 3
    model = pnn.pnn_resnet18(nfilters=8, first_layer="perturb_update", level=0.1)
    layer, mapping, bn, act = model.pre_layers
    assert layer.nmasks == 40 and layer.out_channels == 24 and layer.level == pytest.approx(2.0)
    assert isinstance(layer.act, nn.Sigmoid) and layer.use_act
    assert mapping.in_channels == 24 and mapping.out_channels == 8 and mapping.bias is None
    assert isinstance(bn, nn.BatchNorm2d) and isinstance(act, nn.ReLU)


def test_random_conv_is_frozen_at_init():
    model = pnn.pnn_resnet18(nfilters=4, first_layer="random_conv", first_filter_size=3)
    conv = model.pre_layers[0]
    assert not conv.weight.requires_grad
    assert all(p.requires_grad for n, p in model.named_parameters() if n != "pre_layers.0.weight")


def test_masks_are_buffers_saved_and_reloaded_bit_exactly():
    model = pnn.pnn_resnet18(nfilters=4, mask_seed=0)
    assert not any("masks" in n for n, _ in model.named_parameters())
    keys = [k for k in model.state_dict() if k.endswith("masks")]
    assert len(keys) == len(_perturb_layers(model)) == 17
    x = torch.randn(4, 3, 32, 32)
    model.train()
    model(x)
    model.eval()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    other = pnn.pnn_resnet18(nfilters=4, mask_seed=1).eval()
    other.load_state_dict(torch.load(buffer, weights_only=True))
    assert torch.equal(other(x), model(x))


def test_train_masks_puts_masks_in_parameters():
    model = pnn.pnn_resnet18(nfilters=4, train_masks=True)
    names = [n for n, _ in model.named_parameters() if n.endswith("masks")]
    assert len(names) == 17


def test_mask_seed_fixes_masks_independently_of_weights():
    torch.manual_seed(0)
    a = pnn.pnn_resnet18(nfilters=4, mask_seed=7)
    torch.manual_seed(1)
    b = pnn.pnn_resnet18(nfilters=4, mask_seed=7)
    c = pnn.pnn_resnet18(nfilters=4, mask_seed=8)
    for la, lb, lc in zip(_perturb_layers(a), _perturb_layers(b), _perturb_layers(c), strict=True):
        assert torch.equal(la.masks, lb.masks) and not torch.equal(la.masks, lc.masks)
    assert not torch.equal(a.linear.weight, b.linear.weight)


def test_dropout_is_accepted_and_ignored():
    torch.manual_seed(0)
    a = pnn.pnn_resnet18(nfilters=4, mask_seed=0, dropout=0.5)
    torch.manual_seed(0)
    b = pnn.pnn_resnet18(nfilters=4, mask_seed=0)
    assert not any(isinstance(m, nn.Dropout) for m in a.modules())
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(a(x), b(x))
    assert not any(isinstance(m, nn.Dropout) for m in pnn.noiseresnet18(nfilters=4, dropout=0.5).modules())


@pytest.mark.parametrize(
    ("name", "size", "channels", "kwargs"),
    [("pnn_resnet18", (28, 28), 1, {}), ("pnn_resnet18", (8, 8), 1, {"first_layer": "conv"}),
     ("noiseresnet18", (28, 28), 1, {"first_filter_size": 3})],
)  # fmt: skip
def test_small_image_heads_through_build_model(name, size, channels, kwargs):
    context = {"num_classes": 7, "in_channels": channels, "image_size": size}
    model = build_model({"name": name, "nfilters": 4, **kwargs}, context)
    out = model(torch.randn(2, channels, *size))
    assert out.shape == (2, 7)
    out.sum().backward()


def test_invalid_settings_raise():
    with pytest.raises(ValueError, match="first_layer"):
        pnn.pnn_resnet18(first_layer="dense")
    with pytest.raises(ValueError, match="pool_type"):
        pnn.pnn_resnet18(pool_type="median")
    with pytest.raises(ValueError, match="multiple of in_channels"):
        pnn.pnn_resnet18(nfilters=4, nmasks=2)  # grouped first layer: 4 % 3 != 0
    with pytest.raises(ValueError, match="image_size"):
        pnn.pnn_resnet18(image_size=None)
    with pytest.raises(ValueError, match="first_filter_size"):
        pnn.noiseresnet18(first_filter_size=5)


def _count(model: nn.Module) -> tuple[int, int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    masks = sum(b.numel() for n, b in model.named_buffers() if n.endswith("masks"))
    return trainable, sum(p.numel() for p in model.parameters()), masks


# Measured with this implementation (regression values, not from the reference): (trainable, all params, mask values).
MEASURED = {
    ("pnn_resnet18", ()): (1_411_466, 1_411_466, 551_936),
    ("pnn_resnet18", (("order", "authors"),)): (1_418_250, 1_418_250, 551_936),
    ("pnn_resnet18", (("first_layer", "conv"), ("first_filter_size", 3))): (1_412_938, 1_412_938, 548_864),
    ("pnn_resnet18", (("first_layer", "random_conv"), ("first_filter_size", 3))): (1_411_210, 1_412_938, 548_864),
    ("pnn_resnet18", (("first_layer", "conv"), ("first_filter_size", 7))): (1_420_618, 1_420_618, 34_304),
    ("pnn_resnet18", (("first_layer", "perturb_update"),)): (1_487_434, 1_487_434, 1_531_904),
    ("noiseresnet18", ()): (1_427_402, 1_427_402, 34_304),
}


@pytest.mark.parametrize("key", list(MEASURED), ids=lambda k: k[0] + "".join(f"-{v}" for _, v in k[1]))
def test_parameter_counts_nfilters_64(key):
    name, kwargs = key
    assert _count(MODELS.get(name)(**dict(kwargs))) == MEASURED[key]


def test_parameter_count_nfilters_128_near_the_matched_baseline():
    """Reference A.6: Klachko's ResNet-18 baseline with nfilters 44 is "parameter-matched, ~5.5M params" to the
    128-filter PNNs. Both PNN codes at nfilters=128 land within 3% of 5.5M."""
    for model in (pnn.noiseresnet18(nfilters=128), pnn.pnn_resnet18(nfilters=128)):
        assert abs(_count(model)[0] / 5.5e6 - 1) < 0.03
