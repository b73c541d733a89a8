"""Hand-built solutions: Piekniewski's locator and the hand-set CoordConv classifier, exact at every position."""

from __future__ import annotations

import pytest
import torch

from scrutiny.models.analytic import PiekniewskiLocator, handset_coordconv_classifier, is_one_hot


def all_positions(h: int, w: int) -> torch.Tensor:
    """(H*W, 2) of (x, y), every pixel."""
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1)


def onehot_images(xy: torch.Tensor, h: int, w: int) -> torch.Tensor:
    out = torch.zeros(len(xy), 1, h, w)
    out[torch.arange(len(xy)), 0, xy[:, 1], xy[:, 0]] = 1.0
    return out


@pytest.mark.parametrize(("h", "w"), [(64, 64), (70, 100), (9, 4), (1, 7), (5, 1), (1, 1)])
def test_piekniewski_exact_at_every_position(h, w):
    xy = all_positions(h, w)
    net = PiekniewskiLocator(h, w)
    out = torch.cat([net(onehot_images(chunk, h, w)) for chunk in xy.split(512)])
    assert torch.equal(out, xy.float())  # exact, borders and corners included


def test_piekniewski_is_only_fixed_conv_relu_sum_bias():
    net = PiekniewskiLocator(70, 100)
    assert [type(m).__name__ for m in net.children()] == ["Conv2d", "ReLU"]
    assert sum(p.numel() for p in net.parameters() if p.requires_grad) == 0
    assert net.conv.weight.flatten().tolist() == [100.0, -1.0, 0.0, 70.0, 0.0, -1.0]


@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.zeros(1, 1, 70, 100),  # empty: would give (100, 70)
        lambda: onehot_images(torch.tensor([[20, 10]]), 70, 100) + onehot_images(torch.tensor([[40, 30]]), 70, 100),
        lambda: 0.5 * onehot_images(torch.tensor([[20, 10]]), 70, 100),  # would give (70, 45)
        lambda: 2.0 * onehot_images(torch.tensor([[20, 10]]), 70, 100),  # would give (-80, -60)
    ],
)
def test_piekniewski_rejects_non_one_hot(make):
    images = torch.cat([onehot_images(torch.tensor([[1, 2]]), 70, 100), make()])
    assert is_one_hot(images).tolist() == [True, False]
    with pytest.raises(ValueError, match=r"images \[1\] are not a single pixel of value 1"):
        PiekniewskiLocator(70, 100)(images)
    raw = PiekniewskiLocator(70, 100, strict=False)(images)
    assert raw[0].tolist() == [1.0, 2.0] and raw[1].tolist() != [20.0, 10.0]


def test_piekniewski_rejects_wrong_size():
    with pytest.raises(ValueError, match=r"\(B, 1, 8, 8\)"):
        PiekniewskiLocator(8, 8)(torch.zeros(1, 1, 8, 9))


def _accuracy(model, xy: torch.Tensor, w: int) -> float:
    with torch.no_grad():
        pred = torch.cat([model(chunk.float()).argmax(1) for chunk in xy.split(256)])
    return (pred == xy[:, 1] * w + xy[:, 0]).float().mean().item()


@pytest.mark.parametrize(("h", "w"), [(32, 32), (12, 20), (1, 6)])
def test_handset_classifier_is_exact_on_all_positions(h, w):
    model = handset_coordconv_classifier(h, w)
    assert _accuracy(model, all_positions(h, w), w) == 1.0


def test_handset_classifier_64_is_the_papers_model():
    model = handset_coordconv_classifier(64, 64)
    assert sum(p.numel() for p in model.parameters()) == 7_553
    xy = all_positions(64, 64)
    border = (xy == 0).any(1) | (xy == 63).any(1)
    interior = xy[~border][torch.randperm(int((~border).sum()), generator=torch.Generator().manual_seed(0))[:64]]
    assert _accuracy(model, torch.cat([xy[border], interior]), 64) == 1.0  # all 252 border positions + 64 inside
