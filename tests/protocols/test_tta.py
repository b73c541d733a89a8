"""flip_translate: airbench's test-time augmentation levels, on hand-made inputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from scrutiny.errors import SpecError
from scrutiny.protocols import ProtocolError
from scrutiny.protocols.tta import FlipTranslate, translated
from scrutiny.registry import PROTOCOLS
from scrutiny.spec import load_spec


class Flat(nn.Module):
    """A linear 'model' that returns its flattened input, so the protocol's weights can be read off the scores."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


def _grid() -> torch.Tensor:
    return torch.arange(16.0).view(1, 1, 4, 4)


def test_translated_views_by_hand():
    x = _grid()  # rows [0..3], [4..7], [8..11], [12..15]
    down_right = torch.tensor([[5, 4, 5, 6], [1, 0, 1, 2], [5, 4, 5, 6], [9, 8, 9, 10]], dtype=torch.float)
    up_left = torch.tensor([[5, 6, 7, 6], [9, 10, 11, 10], [13, 14, 15, 14], [9, 10, 11, 10]], dtype=torch.float)
    assert torch.equal(translated(x, +1)[0, 0], down_right)
    assert torch.equal(translated(x, -1)[0, 0], up_left)


def test_level_0_is_plain():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x = torch.randn(5, 1, 4, 4)
    plain = PROTOCOLS.get("plain")()
    assert torch.equal(FlipTranslate(0).scores(model, x), plain.scores(model, x))


def test_level_1_averages_the_mirror():
    x = _grid()
    expected = (x + x.flip(-1)).flatten(1) / 2
    assert torch.equal(FlipTranslate(1).scores(Flat(), x), expected)


def test_level_2_weights_six_views():
    x = _grid()
    views = [x, x.flip(-1)] + [v for s in (+1, -1) for v in (translated(x, s), translated(x, s).flip(-1))]
    weights = [1 / 4, 1 / 4, 1 / 8, 1 / 8, 1 / 8, 1 / 8]  # infer_mirror_translate: 0.5 * mirror + 0.5 * mean(2)
    expected = sum(w * v.flatten(1) for w, v in zip(weights, views, strict=True))
    assert torch.allclose(FlipTranslate(2).scores(Flat(), x), expected)


def test_registered_with_params_and_checked():
    protocol = PROTOCOLS.get("flip_translate")()
    assert protocol.name == "flip_translate" and protocol.params() == {"level": 2}
    for bad in (3, -1, True, "2"):
        with pytest.raises(ProtocolError, match="level"):
            FlipTranslate(bad)


def test_bad_level_in_a_spec_is_one_line_naming_the_key():
    data = {
        "model": {"name": "small_cnn"},
        "data": {"name": "digits"},
        "eval": {"protocol": "flip_translate", "protocol_args": {"level": 5}},
    }
    with pytest.raises(SpecError, match="eval.protocol_args") as info:
        load_spec(data=data)
    assert "\n" not in str(info.value) and "level" in str(info.value)
