"""``multi_scale`` and the fully-convolutional wrapper."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet
from torchvision.transforms.v2 import functional as TF

from scrutiny.protocols import FullyConvolutional, ProtocolError, fully_convolutional, multi_scale
from scrutiny.protocols._image import IMAGENET_MEAN, IMAGENET_STD

from .helpers import SmallCNN, random_image

SCALES = (32, 48, 64)


@pytest.fixture
def tiny_resnet() -> ResNet:
    torch.manual_seed(1)
    model = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=7)
    for m in model.modules():  # non-trivial eval-mode batch norm
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _manual_views(image, scales):
    x = TF.pil_to_tensor(image)
    out = []
    for s in scales:
        r = TF.to_dtype(TF.resize(x, [s]), torch.float32, scale=True)
        out.append(TF.normalize(r, IMAGENET_MEAN, IMAGENET_STD)[None])
    return out


def test_logit_average_equals_fc_as_1x1_conv_then_spatial_mean(tiny_resnet):
    images = [random_image(83, 61, 0), random_image(50, 77, 1)]
    protocol = multi_scale(scales=SCALES, average="logit")
    fcn = fully_convolutional(tiny_resnet)
    with torch.no_grad():
        scores = protocol.scores(tiny_resnet, [protocol.views(im) for im in images])
        expected = []
        for image in images:
            maps = [fcn(v) for v in _manual_views(image, SCALES)]
            assert maps[-1].shape[1] == 7 and maps[-1].shape[-2:].numel() > 1  # a real score map at scale 64
            expected.append(torch.stack([m.mean(dim=(2, 3))[0] for m in maps]).mean(dim=0))
        assert torch.allclose(scores, torch.stack(expected), atol=1e-5)
        # The wrapper under the protocol (score map averaged in logits) scores the same as the model itself.
        for average in ("logit", "prob"):
            p = multi_scale(scales=SCALES, average=average)
            views = [p.views(im) for im in images]
            assert torch.allclose(p.scores(fcn, views), p.scores(tiny_resnet, views), atol=1e-5)


def test_prob_average_is_log_mean_softmax_over_scales(tiny_resnet):
    image = random_image(70, 90, 2)
    protocol = multi_scale(scales=SCALES, flip=True)
    with torch.no_grad():
        score = protocol.scores(tiny_resnet, [protocol.views(image)])[0]
        views = [v for s in _manual_views(image, SCALES) for v in (s, s.flip(-1))]
        probs = torch.stack([torch.softmax(tiny_resnet(v)[0], dim=-1) for v in views])
    assert torch.allclose(score, probs.mean(dim=0).log(), atol=1e-5)


def test_views_of_equal_size_share_one_forward_pass(tiny_resnet):
    calls = []
    tiny_resnet.register_forward_hook(lambda m, inp, out: calls.append(tuple(inp[0].shape)))
    images = [random_image(80, 60, 0), random_image(40, 30, 1), random_image(60, 60, 2)]  # first two: same aspect
    protocol = multi_scale(scales=(32, 48), flip=True)
    views = [protocol.views(im) for im in images]
    with torch.no_grad():
        batched = protocol.scores(tiny_resnet, views)
    assert sorted(calls) == sorted([(4, 3, 32, 42), (4, 3, 48, 64), (2, 3, 32, 32), (2, 3, 48, 48)])
    with torch.no_grad():
        alone = torch.cat([protocol.scores(tiny_resnet, [v]) for v in views])
    assert torch.allclose(batched, alone, atol=1e-5)


def test_fixed_size_head_raises_a_clear_error():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=8), nn.Flatten(), nn.Linear(4 * 4 * 4, 5)).eval()
    protocol = multi_scale(scales=(32, 40))
    with torch.no_grad(), pytest.raises(ProtocolError, match="fails on a 42×32 input.*fully_convolutional"):
        protocol.scores(model, [protocol.views(random_image(40, 30, 0))])


def test_adaptive_pool_to_a_grid_is_refused():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d((7, 7)), nn.Flatten(), nn.Linear(196, 5)).eval()
    protocol = multi_scale(scales=(32,))
    with torch.no_grad(), pytest.raises(ProtocolError, match="not fully convolutional"):
        protocol.scores(model, [protocol.views(random_image(40, 30, 0))])


def test_fully_convolutional_shares_parameters_and_checks_structure(tiny_resnet):
    fcn = fully_convolutional(tiny_resnet)
    assert isinstance(fcn, FullyConvolutional) and fcn.fc is tiny_resnet.fc
    assert fully_convolutional(SmallCNN().eval()).fc.out_features == 10

    class Scaled(SmallCNN):
        def forward(self, x):  # forward is not the children in order
            return 2 * super().forward(x)

    with pytest.raises(ProtocolError, match="children in order"):
        fully_convolutional(Scaled())
    with pytest.raises(ProtocolError, match="global average pool"):
        fully_convolutional(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4, 2)))


def test_fully_convolutional_check_keeps_training_mode_and_bn_stats(tiny_resnet):
    tiny_resnet.train()
    before = tiny_resnet.bn1.running_mean.clone()
    fully_convolutional(tiny_resnet)
    assert tiny_resnet.training and torch.equal(tiny_resnet.bn1.running_mean, before)
