"""``train.channels_last``: images change memory format, other inputs (CoordConv's coordinates) are left alone."""

import pytest

from scrutiny.spec import load_spec
from scrutiny.store import Store
from scrutiny.trials import run_trial

RENDER = """
model: {name: coordconv_rendering}
data: {name: not_so_clevr, task: rendering, split: quadrant, canvas: 16, square: 3, batch_size: 64,
       eval_batch_size: 256}
optim: {name: adam, lr: 0.005}
train: {epochs: 1, device: cpu, channels_last: true}
"""
DIGITS = """
model: {name: small_cnn, width: 4}
data: {name: digits, batch_size: 128, eval_batch_size: 512}
optim: {name: sgd, lr: 0.1, momentum: 0.9}
train: {epochs: 1, device: cpu}
"""


def _run(tmp_path, text, name, overrides=()):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return run_trial(load_spec(path, list(overrides)), 0, Store(tmp_path / name), threads=1)


def test_coordinate_inputs_train_with_channels_last(tmp_path):
    # the inputs are (N, 2) coordinates: converting them to channels_last used to raise in the training step
    record = _run(tmp_path, RENDER, "render")
    assert record["status"] == "complete", record.get("error")


def test_channels_last_images_give_the_same_numbers(tmp_path):
    plain = _run(tmp_path, DIGITS, "plain")
    moved = _run(tmp_path, DIGITS, "moved", ["train.channels_last=true"])
    assert plain["status"] == moved["status"] == "complete"
    assert moved["final_test_loss"] == pytest.approx(plain["final_test_loss"], rel=1e-4)
    assert moved["final_test_correct"] == pytest.approx(plain["final_test_correct"], abs=2)
