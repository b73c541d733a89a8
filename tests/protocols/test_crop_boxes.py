"""Crop boxes: hand-computed values for given image sizes, and agreement with torchvision's functional crops."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from scrutiny.protocols import ProtocolError, View, center_offset, five_boxes, multi_scale, single_crop, ten_crop
from scrutiny.protocols._image import cut, resized_size


def test_resized_size_truncates_longer_side_like_torchvision():
    assert resized_size(500, 375, 256) == (341, 256)  # int(341.33)
    assert resized_size(375, 500, 256) == (256, 341)
    assert resized_size(333, 333, 256) == (256, 256)
    assert resized_size(257, 389, 256) == (256, 387)  # int(387.49)
    for w, h in [(500, 375), (301, 227), (257, 389), (999, 1000), (17, 640)]:
        expected_h, expected_w = TF.resize(torch.zeros(1, h, w), [256]).shape[-2:]
        assert resized_size(w, h, 256) == (expected_w, expected_h)


def test_center_offset_rounding():
    assert center_offset(341, 224) == 58  # 58.5 rounds half to even
    assert center_offset(341, 224, "ceil") == 59  # fb.resnet.torch
    assert center_offset(345, 224) == 60  # 60.5 -> 60
    assert center_offset(345, 224, "ceil") == 61
    assert center_offset(256, 224) == center_offset(256, 224, "ceil") == 16


def test_ten_crop_boxes_500x375_by_hand():
    views = ten_crop().boxes(500, 375)
    assert all(v.resized == (341, 256) and (v.width, v.height) == (224, 224) for v in views)
    assert [(v.left, v.top) for v in views] == [
        (0, 0),
        (117, 0),
        (0, 32),
        (117, 32),
        (58, 16),
        (117, 0),
        (0, 0),
        (117, 32),
        (0, 32),
        (59, 16),
    ]
    assert [v.flip for v in views] == [None] * 5 + ["horizontal"] * 5
    fb = ten_crop(rounding="ceil").boxes(500, 375)
    assert (fb[4].left, fb[4].top, fb[9].left, fb[9].top) == (59, 16, 58, 16)


def test_ten_crop_boxes_portrait_and_vertical_flip():
    views = ten_crop(flip="vertical").boxes(375, 500)  # resized 256×341: slack 32 columns, 117 rows
    assert [(v.left, v.top) for v in views] == [
        (0, 0),
        (32, 0),
        (0, 117),
        (32, 117),
        (16, 58),
        (0, 117),
        (32, 117),
        (0, 0),
        (32, 0),
        (16, 59),
    ]
    assert {v.flip for v in views[5:]} == {"vertical"}


def test_single_crop_boxes_and_crop_pct():
    assert single_crop().boxes(500, 375) == [View((341, 256), 58, 16, 224, 224)]
    assert single_crop(rounding="ceil").boxes(500, 375) == [View((341, 256), 59, 16, 224, 224)]
    assert single_crop(crop_pct=0.875).params()["resize"] == 256  # floor(224 / 0.875)
    p = single_crop(crop=224, crop_pct=0.9)  # floor(248.9) = 248 -> 330×248, slack 106, 24
    assert p.resize == 248 and p.boxes(500, 375) == [View((330, 248), 53, 12, 224, 224)]
    assert single_crop(crop=288, crop_pct=1.0).boxes(500, 375) == [View((384, 288), 48, 0, 288, 288)]


def test_multi_scale_boxes_are_whole_images():
    views = multi_scale().boxes(500, 375)
    assert [v.resized for v in views] == [(298, 224), (341, 256), (512, 384), (640, 480), (853, 640)]
    assert all((v.left, v.top, v.width, v.height) == (0, 0, *v.resized) and v.flip is None for v in views)
    flipped = multi_scale(scales=(224, 256), flip=True).boxes(500, 375)
    assert [v.flip for v in flipped] == [None, "horizontal", None, "horizontal"]


@pytest.mark.parametrize("size", [(500, 375), (301, 227), (257, 389), (224, 300), (256, 256), (601, 240)])
@pytest.mark.parametrize("flip", ["horizontal", "vertical"])
def test_ten_crop_boxes_match_torchvision_functional(size, flip):
    w, h = size
    image = torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(w * h))
    resized = TF.resize(image, [256])
    expected = TF.ten_crop(resized, [224, 224], vertical_flip=flip == "vertical")
    views = ten_crop(flip=flip).boxes(w, h)
    assert views[0].resized == (resized.shape[-1], resized.shape[-2])
    for view, crop in zip(views, expected, strict=True):
        assert torch.equal(cut(resized, view), crop)
    center = single_crop().boxes(w, h)[0]
    assert torch.equal(cut(resized, center), TF.center_crop(resized, [224, 224]))


def test_ceil_rounding_matches_fb_resnet_torch_centre_crop():
    resized = torch.arange(256 * 341).view(1, 256, 341)
    view = single_crop(rounding="ceil").boxes(500, 375)[0]
    # fb.resnet.torch CenterCrop: w1 = ceil((w - size) / 2), h1 = ceil((h - size) / 2)
    assert torch.equal(cut(resized, view), resized[:, 16:240, 59:283])
    flipped = ten_crop(rounding="ceil").boxes(500, 375)[9]
    # centre crop of image.hflip(input), expressed as the mirror of a box in the unflipped image
    assert torch.equal(cut(resized, flipped), resized.flip(-1)[:, 16:240, 59:283])


def test_invalid_parameters_raise_with_the_parameter_name():
    with pytest.raises(ProtocolError, match="crop: 300 is larger than resize=256"):
        single_crop(crop=300)
    with pytest.raises(ProtocolError, match="resize/crop_pct"):
        single_crop(resize=256, crop_pct=0.875)
    with pytest.raises(ProtocolError, match="crop_pct"):
        single_crop(crop_pct=1.2)
    with pytest.raises(ProtocolError, match="rounding"):
        ten_crop(rounding="floor")
    with pytest.raises(ProtocolError, match="flip"):
        ten_crop(flip="both")
    with pytest.raises(ProtocolError, match="average"):
        multi_scale(average="softmax")
    with pytest.raises(ProtocolError, match="scales"):
        multi_scale(scales=())
    with pytest.raises(ProtocolError, match="crop: 224×224 is larger"):
        five_boxes(200, 300, 224)


def test_docstring_examples():
    import doctest

    from scrutiny.protocols import crops

    assert doctest.testmod(crops).failed == 0
