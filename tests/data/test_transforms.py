"""Transform families of the K49-LT study: draws, determinism, identity, hand-checked effects."""

from __future__ import annotations

import json

import pytest
import torch

from scrutiny.data.augment import AugmentedDataset
from scrutiny.data.transforms import Background, DilateErode, Rotation, TransformAugment, make_transform, morphology
from scrutiny.errors import ScrutinyError

FAMILIES = [Rotation, Background, DilateErode]


def _images(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 12, 12, generator=g)
    return torch.where(x < 0.5, torch.zeros(()), x)  # about half of the pixels are background (0)


@pytest.mark.parametrize("family", FAMILIES)
def test_same_params_same_images_and_same_seed_same_params(family):
    tfm, x = family(), _images()
    p1 = tfm.draw(torch.Generator().manual_seed(3), len(x))
    p2 = tfm.draw(torch.Generator().manual_seed(3), len(x))
    assert all(torch.equal(p1[k], p2[k]) for k in p1)
    assert torch.equal(tfm.apply(x, p1), tfm.apply(x.clone(), p2))
    assert not torch.equal(tfm.apply(x, p1), x)  # six draws are not all the identity


@pytest.mark.parametrize("family", FAMILIES)
def test_identity_params_are_the_identity(family):
    x = _images()
    assert torch.equal(family().apply(x, family().identity(len(x))), x)  # raw space: exact
    normed = family(mean=0.3, std=0.4)
    xn = (x - 0.3) / 0.4
    assert torch.allclose(normed.apply(xn, normed.identity(len(x))), xn, atol=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_normalised_space_matches_raw_space(family):
    x, mean, std = _images(), 0.3, 0.4
    params = family().draw(torch.Generator().manual_seed(1), len(x))
    raw_out = family().apply(x, params)
    normed_out = family(mean=mean, std=std).apply((x - mean) / std, params)
    assert torch.allclose(normed_out, (raw_out - mean) / std, atol=1e-5)


def test_rotation_by_90_degrees_is_a_counter_clockwise_quarter_turn():
    x = _images(2)
    out = Rotation().apply(x, {"angle": torch.tensor([90.0, -90.0], dtype=torch.float64)})
    assert torch.allclose(out[0], torch.rot90(x[0], 1, dims=(-2, -1)), atol=1e-5)  # rot90 k=1 is counter-clockwise
    assert torch.allclose(out[1], torch.rot90(x[1], -1, dims=(-2, -1)), atol=1e-5)
    dot = torch.zeros(1, 1, 5, 5)
    dot[0, 0, 0, 2] = 1.0  # top centre goes to the left centre
    turned = Rotation(interpolation="nearest").apply(dot, {"angle": torch.tensor([90.0], dtype=torch.float64)})
    assert turned[0, 0, 2, 0] == 1.0 and turned.sum() == 1.0


def test_rotation_fills_corners_with_background_and_clips_to_range():
    x = torch.ones(1, 1, 8, 8)
    out = Rotation().apply(x, {"angle": torch.tensor([45.0], dtype=torch.float64)})
    assert out[0, 0, 0, 0] == 0.0 and out[0, 0, 4, 4] == pytest.approx(
        1.0
    )  # corner from outside: background; centre: kept
    assert out.min() >= 0.0 and out.max() <= 1.0  # bicubic overshoot clipped, as PIL's uint8 rotation
    normed = Rotation(mean=0.5, std=0.25).apply((x - 0.5) / 0.25, {"angle": torch.tensor([45.0], dtype=torch.float64)})
    assert normed[0, 0, 0, 0] == pytest.approx(-2.0)  # background 0 in normalised space: (0 - 0.5) / 0.25


def test_background_sets_zero_pixels_to_intensity_over_255():
    x = torch.tensor([[0.0, 0.7], [0.0, 1.0]]).view(1, 1, 2, 2).repeat(2, 1, 1, 1)
    out = Background().apply(x, {"intensity": torch.tensor([51, 0])})
    assert torch.allclose(out[0, 0], torch.tensor([[0.2, 0.7], [0.2, 1.0]]))  # 51 / 255 = 0.2
    assert torch.equal(out[1], x[1])  # intensity 0: unchanged


def test_dilation_and_erosion_follow_opencv_anchor_by_hand():
    dot = torch.zeros(1, 1, 6, 6)
    dot[0, 0, 2, 2] = 1.0
    # cv2 anchor k // 2: output i is the max over input i - k//2 .. i + k - 1 - k//2
    d2 = morphology(dot, 2, dilate=True)[0, 0]  # offsets {-1, 0}: rows/cols 2..3
    assert torch.equal(d2[2:4, 2:4], torch.ones(2, 2)) and d2.sum() == 4
    d3 = morphology(dot, 3, dilate=True)[0, 0]  # offsets {-1, 0, 1}: rows/cols 1..3
    assert d3[1:4, 1:4].sum() == 9 and d3.sum() == 9
    d4 = morphology(dot, 4, dilate=True)[0, 0]  # offsets {-2, -1, 0, 1}: rows/cols 1..4
    assert d4[1:5, 1:5].sum() == 16 and d4.sum() == 16
    e2 = morphology(d2[None, None], 2, dilate=False)[0, 0]  # the 2x2 block erodes to its bottom-right pixel
    assert e2[3, 3] == 1.0 and e2.sum() == 1
    ones = torch.ones(1, 1, 4, 4)
    assert torch.equal(morphology(ones, 2, dilate=False), ones)  # outside pixels are ignored, as cv2's border


def test_dilate_erode_params_and_grouped_application():
    tfm = DilateErode()
    p = tfm.draw(torch.Generator().manual_seed(0), 20_000)
    assert abs(p["dilate"].float().mean().item() - 0.6) < 0.02
    assert set(p["kernel"][p["dilate"]].tolist()) == {2, 3, 4} and set(p["kernel"][~p["dilate"]].tolist()) == {1, 2}
    x = _images(4)
    params = {"dilate": torch.tensor([True, False, True, False]), "kernel": torch.tensor([3, 2, 2, 1])}
    out = tfm.apply(x, params)
    assert torch.equal(out[0], morphology(x[:1], 3, dilate=True)[0])
    assert torch.equal(out[1], morphology(x[1:2], 2, dilate=False)[0])
    assert torch.equal(out[2], morphology(x[2:3], 2, dilate=True)[0])
    assert torch.equal(out[3], x[3])  # erosion with k = 1


def test_draw_ranges_match_the_reference():
    g = torch.Generator().manual_seed(0)
    angle = Rotation().draw(g, 20_000)["angle"]
    assert angle.min() >= -180 and angle.max() < 180 and angle.min() < -179 and angle.max() > 179
    intensity = Background().draw(g, 20_000)["intensity"]
    assert set(intensity.tolist()) == set(range(100))


@pytest.mark.parametrize("family", FAMILIES)
def test_as_augment_draws_storable_params_and_replays(family):
    aug = family(mean=0.3, std=0.4).augment()
    assert isinstance(aug, TransformAugment)
    x = (_images(3) - 0.3) / 0.4
    base = torch.utils.data.TensorDataset(x, torch.tensor([0, 1, 2]))
    ds = AugmentedDataset(base, aug, seed=5)
    ds.set_epoch(2)
    params = ds.params(1, tuple(x[1].shape))
    json.dumps(params)  # plain values: a draw can be stored
    assert torch.equal(ds[1][0], aug.apply(x[1], params)) and ds[1][0].shape == x[1].shape
    batch_params = {k: torch.tensor([v], dtype=family().identity(1)[k].dtype) for k, v in params.items()}
    assert torch.equal(aug.apply(x[1], params), aug.transform.apply(x[1:2], batch_params)[0])


def test_bad_arguments_raise_one_line_errors():
    with pytest.raises(ScrutinyError, match="did you mean 'rotation'"):
        make_transform("rotaton")
    with pytest.raises(ScrutinyError, match="transform.std"):
        Rotation(std=0.0)
    with pytest.raises(ValueError, match="do not match the batch size"):
        Rotation().apply(_images(2), Rotation().identity(3))
