"""A position-invariant model on a constant-colour image scores the same under every image protocol.

The channel-mean model sees only the mean colour of each view. On a constant image every crop, flip and scale has
that colour (a resize of a constant image is constant), so each protocol must return the one analytic value
``W @ ((c / 255 - mean) / std) + b`` (or its log-softmax). This checks normalisation, the resize and the averaging
together; the second test shows the views do differ once the image is not constant, so the agreement is not trivial.
"""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from scrutiny.protocols import multi_scale, single_crop, ten_crop
from scrutiny.protocols._image import IMAGENET_MEAN, IMAGENET_STD

from .helpers import ChannelMean, random_image

COLOUR = (200, 31, 117)


def _protocols(average):
    return {
        "single_crop": single_crop(average=average),
        "single_crop_ceil_pct": single_crop(crop_pct=0.95, rounding="ceil", average=average),
        "ten_crop": ten_crop(average=average),
        "ten_crop_vertical": ten_crop(flip="vertical", resize=300, crop=160, average=average),
        "multi_scale": multi_scale(scales=(224, 256, 384), average=average),
        "multi_scale_flip": multi_scale(scales=(96, 130), flip=True, average=average),
    }


@pytest.mark.parametrize("average", ["prob", "logit"])
@pytest.mark.parametrize("size", [(500, 375), (231, 407)])
def test_constant_image_scores_equal_the_analytic_value(average, size):
    torch.manual_seed(0)
    model = ChannelMean().eval()
    image = Image.new("RGB", size, COLOUR)
    pixel = (torch.tensor(COLOUR) / 255 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    with torch.no_grad():
        logits = model.fc(pixel[None])[0]
        expected = logits if average == "logit" else torch.log_softmax(logits, dim=-1)
        for name, protocol in _protocols(average).items():
            score = protocol.scores(model, [protocol.views(image)])[0]
            assert torch.allclose(score, expected, atol=1e-5), name


def test_non_constant_image_scores_differ_between_protocols():
    torch.manual_seed(0)
    model = ChannelMean().eval()
    image = random_image(500, 375, seed=3)
    with torch.no_grad():
        scores = {name: p.scores(model, [p.views(image)])[0] for name, p in _protocols("logit").items()}
    names = list(scores)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not torch.allclose(scores[a], scores[b], atol=1e-5), (a, b)
