"""scrutiny's ImageNet ResNet: torchvision-compatible names and outputs, and where the bottleneck strides."""

from __future__ import annotations

import pytest
import torch
import torchvision

from scrutiny.models import build_model
from scrutiny.models.resnet import Bottleneck, ResNet, resnet
from scrutiny.protocols import fully_convolutional, multi_scale


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _randomise_bn(model: torch.nn.Module) -> None:
    """Non-trivial BN statistics, so that eval-mode outputs depend on every buffer."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


@pytest.mark.parametrize("depth", [18, 50])
def test_loads_a_torchvision_state_dict_strictly_and_gives_identical_outputs(depth):
    torch.manual_seed(0)
    tv = getattr(torchvision.models, f"resnet{depth}")(num_classes=11)
    _randomise_bn(tv)
    ours = resnet(depth=depth, num_classes=11, stride_in="3x3")
    assert list(ours.state_dict()) == list(tv.state_dict())
    ours.load_state_dict(tv.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 80)
    tv.eval(), ours.eval()
    with torch.no_grad():
        assert torch.equal(ours(x), tv(x))


@pytest.mark.parametrize("depth, n_params", [(34, 21797672), (101, 44549160), (152, 60192808)])
def test_parameter_counts_match_torchvision(depth, n_params):
    model = resnet(depth=depth)
    assert sum(p.numel() for p in model.parameters()) == n_params  # torchvision's resnet34/101/152 with 1000 classes


def test_stride_placement_same_parameters_different_computation():
    torch.manual_seed(0)
    a = resnet(depth=50, num_classes=5, stride_in="1x1")
    b = resnet(depth=50, num_classes=5, stride_in="3x3")
    shapes_a = {k: v.shape for k, v in a.state_dict().items()}
    assert shapes_a == {k: v.shape for k, v in b.state_dict().items()}
    b.load_state_dict(a.state_dict(), strict=True)
    block_a, block_b = a.layer2[0], b.layer2[0]
    assert isinstance(block_a, Bottleneck)
    assert (block_a.conv1.stride, block_a.conv2.stride) == ((2, 2), (1, 1))
    assert (block_b.conv1.stride, block_b.conv2.stride) == ((1, 1), (2, 2))
    assert block_a.downsample[0].stride == block_b.downsample[0].stride == (2, 2)
    assert a.layer1[0].conv1.stride == a.layer1[0].conv2.stride == (1, 1)  # stage 1 does not downsample
    x = torch.randn(2, 3, 64, 64)
    a.eval(), b.eval()
    with torch.no_grad():
        f = torch.randn(1, 64, 16, 16)
        fa, fb = block_a(a.layer1(f)), block_b(b.layer1(f))
        assert fa.shape == fb.shape == (1, 512, 8, 8)  # same output shapes
        assert not torch.allclose(fa, fb)  # different computation from the same weights
        ya, yb = a(x), b(x)
    assert ya.shape == yb.shape == (2, 5)
    assert not torch.allclose(ya, yb)


def test_basic_blocks_refuse_a_1x1_stride_and_bad_depths_raise():
    with pytest.raises(ValueError, match="applies to bottleneck blocks"):
        ResNet(depth=18, stride_in="1x1")
    with pytest.raises(ValueError, match=r"model.depth: expected one of \[18, 34, 50, 101, 152\]"):
        ResNet(depth=20)


def test_registered_and_fully_convolutional_for_multi_scale():
    torch.manual_seed(0)
    model = build_model({"name": "resnet", "depth": 18}, {"num_classes": 4}).eval()
    wrapper = fully_convolutional(model)  # avgpool + fc are the last two children
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        assert wrapper(x).shape == (1, 4, 3, 4)
        assert torch.allclose(wrapper(x).mean(dim=(2, 3)), model(x), atol=1e-5)
        image = torch.randint(0, 256, (3, 50, 70), dtype=torch.uint8)
        scores = multi_scale(scales=(32, 64)).scores(model, [multi_scale(scales=(32, 64)).views(image)])
    assert scores.shape == (1, 4) and torch.isfinite(scores).all()
