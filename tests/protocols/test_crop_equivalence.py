"""``single_crop`` and ``ten_crop`` against torchvision's transform pipelines, on random images of odd sizes."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision import transforms as T
from torchvision.transforms import v2

from scrutiny.protocols import single_crop, ten_crop
from scrutiny.protocols._image import IMAGENET_MEAN, IMAGENET_STD, combine

from .helpers import random_image


def _torchvision_ten_crop(image, flip: str = "horizontal") -> torch.Tensor:
    """Resize(256) -> TenCrop(224) -> stack -> ToDtype -> Normalize, torchvision v2 on the image tensor."""
    crops = v2.Compose([v2.PILToTensor(), v2.Resize(256), v2.TenCrop(224, vertical_flip=flip == "vertical")])(image)
    x = v2.ToDtype(torch.float32, scale=True)(torch.stack(crops))
    return v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)(x)


@pytest.mark.parametrize("flip", ["horizontal", "vertical"])
def test_ten_crop_views_equal_torchvision_pipeline(odd_images, flip):
    protocol = ten_crop(flip=flip)
    for image in odd_images:
        assert torch.allclose(protocol.views(image), _torchvision_ten_crop(image, flip), atol=1e-6)


@pytest.mark.parametrize("average", ["prob", "logit"])
def test_ten_crop_predictions_equal_torchvision_pipeline(odd_images, small_cnn, average):
    protocol = ten_crop(average=average)
    with torch.no_grad():
        scores = protocol.scores(small_cnn, [protocol.views(im) for im in odd_images])  # all images, one batch
        expected = []
        for image in odd_images:  # the documented usage: model(input.view(-1, c, h, w)), then mean over crops
            logits = small_cnn(_torchvision_ten_crop(image))
            if average == "prob":
                expected.append(torch.log(torch.softmax(logits, dim=-1).mean(dim=0)))
            else:
                expected.append(logits.mean(dim=0))
    assert scores.shape == (len(odd_images), 10)
    assert torch.allclose(scores, torch.stack(expected), atol=1e-5)
    assert torch.equal(scores.argmax(1), torch.stack(expected).argmax(1))


def test_single_crop_equals_torchvision_resize_centercrop(odd_images, small_cnn):
    protocol = single_crop(average="logit")
    pipeline = v2.Compose(
        [
            v2.PILToTensor(),
            v2.Resize(256),
            v2.CenterCrop(224),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )
    with torch.no_grad():
        scores = protocol.scores(small_cnn, torch.stack([protocol.views(im) for im in odd_images]))
        expected = small_cnn(torch.stack([pipeline(im) for im in odd_images]))
    assert torch.allclose(scores, expected, atol=1e-5)


def test_ten_crop_equals_classic_pil_pipeline_when_no_resampling_is_needed(small_cnn):
    """Shorter side already 256: the PIL (v1) pipeline does no resampling, so the crops must agree exactly."""
    norm = T.Compose([T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    pipeline = T.Compose([T.Resize(256), T.TenCrop(224), T.Lambda(lambda crops: torch.stack([norm(c) for c in crops]))])
    for w, h in [(301, 256), (256, 377), (256, 256)]:
        image = random_image(w, h, seed=w + h)
        assert torch.allclose(ten_crop().views(image), pipeline(image), atol=1e-6)


def test_batched_scores_equal_per_image_scores(odd_images, small_cnn):
    protocol = ten_crop()
    views = [protocol.views(im) for im in odd_images]
    with torch.no_grad():
        batched = protocol.scores(small_cnn, views)
        alone = torch.cat([protocol.scores(small_cnn, [v]) for v in views])
    assert torch.allclose(batched, alone, atol=1e-5)


def test_uint8_tensor_input_equals_pil_input(odd_images):
    image = odd_images[0]
    as_tensor = v2.PILToTensor()(image)
    assert torch.equal(ten_crop().views(image), ten_crop().views(as_tensor))


def test_combine_prob_and_logit_by_hand():
    logits = torch.tensor([[[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]]])  # (B=1, V=2, K=3)
    probs = torch.softmax(logits, dim=-1).mean(dim=1)
    assert torch.allclose(combine(logits, "prob"), probs.log())
    assert torch.allclose(combine(logits, "logit"), torch.tensor([[1.0, 0.5, -0.5]]))
    assert math.isclose(float(combine(logits, "prob").exp().sum()), 1.0, rel_tol=1e-6)
