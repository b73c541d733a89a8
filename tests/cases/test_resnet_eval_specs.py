"""The two ResNet ImageNet recipes load, and their diff is the documented list (README.md of the case)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import scrutiny
from scrutiny.cli import main
from scrutiny.spec import diff, load_spec

CASE = Path(scrutiny.__file__).parent / "cases" / "resnet_eval"
EXPECTED = {
    # the four differences fb.resnet.torch's README lists
    "data.train_aug": ("scale_jitter", "scale_aspect"),
    "data.color_jitter": (0.0, 0.4),
    "optim.wd_on": ("weights_only", "all"),
    "model.stride_in": ("1x1", "3x3"),
    # and three more from its code (train.lua, opts.lua, transforms.lua)
    "train.epochs": (120, 90),
    "optim.nesterov": (False, True),
    "data.train_interpolation": ("bilinear", "bicubic"),
}


@pytest.fixture(scope="module")
def specs():
    return load_spec(CASE / "he2015.yaml"), load_spec(CASE / "fb_resnet_torch.yaml")


def test_diff_is_exactly_the_documented_differences(specs):
    he, fb = specs
    got = {d.key: (d.a, d.b) for d in diff(he, fb)}
    assert got == EXPECTED


def test_every_difference_is_explained_in_the_readme():
    readme = (CASE / "README.md").read_text()
    for key in EXPECTED:
        assert f"`{key}`" in readme, key


def test_shared_settings_are_the_published_ones(specs):
    for spec in specs:
        assert spec.model.kwargs["depth"] == 50 and spec.data.batch_size == 256
        assert (spec.optim.lr, spec.optim.momentum, spec.optim.weight_decay) == (0.1, 0.9, 1e-4)
        assert spec.data.kwargs["lighting_std"] == 0.1 and spec.data.kwargs["flip"] is True
        assert (spec.schedule.name, spec.schedule.step_size, spec.schedule.gamma) == ("step", 30, 0.1)
    he, fb = specs
    assert tuple(he.data.kwargs["scale_range"]) == (256, 480)
    assert tuple(fb.data.kwargs["area_range"]) == (0.08, 1.0)


def test_cli_diff_shows_them(monkeypatch, capsys):
    monkeypatch.setattr(
        sys, "argv", ["scrutiny", "diff", str(CASE / "he2015.yaml"), str(CASE / "fb_resnet_torch.yaml"), "--json"]
    )
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code in (0, None)
    payload = json.loads(capsys.readouterr().out)
    assert {d["key"] for d in payload["differences"]} == set(EXPECTED)
