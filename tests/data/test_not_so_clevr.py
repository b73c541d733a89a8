"""Not-so-Clevr: geometry, the official splits and their sizes, the three tasks, the registered builder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scrutiny.data import not_so_clevr as nsc
from scrutiny.errors import DataError
from scrutiny.registry import DATASETS


def test_centres_x_major_and_square_fits():
    c = nsc.centres(64, 9)
    assert c.shape == (3136, 2)
    assert c[0].tolist() == [4, 4] and c[1].tolist() == [4, 5] and c[56].tolist() == [5, 4]
    assert c[-1].tolist() == [59, 59]
    c32 = nsc.centres(32, 5)
    assert c32.shape == (784, 2) and c32.min() == 2 and c32.max() == 29


def test_squares_equal_the_papers_two_liner():
    """onehots padded, convolved with a 9×9 box ('SAME'), as in the paper, equal the generated squares."""
    c = nsc.centres(64, 9)[::97]
    oh = torch.from_numpy(nsc.onehots(c, 64)).unsqueeze(1)
    boxed = torch.nn.functional.conv2d(oh, torch.ones(1, 1, 9, 9), padding=4)[:, 0].numpy()
    sq = nsc.squares(c, 64, 9)
    assert np.array_equal(boxed, sq)
    assert (sq.reshape(len(c), -1).sum(1) == 81).all()
    first = nsc.squares(np.array([[4, 4]]), 64, 9)[0]
    assert first[:9, :9].all() and first.sum() == 81
    assert nsc.squares(np.array([[10, 20]]), 64, 9, value=128 / 255).max() == pytest.approx(0.50196, abs=1e-5)


def test_onehot_is_row_y_column_x():
    oh = nsc.onehots(np.array([[3, 7]]), 16)
    assert oh[0, 7, 3] == 1 and oh.sum() == 1
    assert nsc.class_index(np.array([[3, 7]]), 16)[0] == 7 * 16 + 3 == oh[0].argmax()


@pytest.mark.parametrize(
    ("split", "canvas", "square", "n_train", "n_test"),
    [
        ("uniform", 64, 9, 2368, 768),
        ("uniform80", 64, 9, 2508, 628),
        ("quadrant", 64, 9, 2407, 729),
        ("uniform", 32, 5, 593, 191),
        ("uniform80", 32, 5, 627, 157),
        ("quadrant", 32, 5, 615, 169),
    ],
)
def test_split_sizes(split, canvas, square, n_train, n_test):
    test = nsc.split_mask(nsc.centres(canvas, square), split, canvas)
    assert ((~test).sum(), test.sum()) == (n_train, n_test)


def test_uniform_split_is_the_official_membership():
    c = nsc.centres()
    test = nsc.split_mask(c, "uniform")
    # sha1 of the sorted val (x, y) int64 array from re-running the official generator (reference notes, 1.3)
    assert nsc.coords_sha1(c[test]).startswith("2137d8b9512e")
    # and it equals one legacy np.random.random() call per example after np.random.seed(20202)
    rs = np.random.RandomState(20202)
    assert np.array_equal(test, np.array([rs.random_sample() < 0.25 for _ in range(len(c))]))


def test_quadrant_rule():
    c = nsc.centres()
    test = nsc.split_mask(c, "quadrant")
    assert c[test].min() == 33 and c[test].max() == 59
    assert not ((c[~test] >= 33).all(axis=1)).any()
    c32 = nsc.centres(32, 5)
    assert nsc.split_mask(c32, "quadrant", 32).nonzero()[0].size == 13 * 13
    assert c32[nsc.split_mask(c32, "quadrant", 32)].min() == 17


def test_uniform80_depends_on_split_seed_only():
    c = nsc.centres()
    a, b = nsc.split_mask(c, "uniform80", split_seed=0), nsc.split_mask(c, "uniform80", split_seed=1)
    assert np.array_equal(a, nsc.split_mask(c, "uniform80", split_seed=0)) and not np.array_equal(a, b)


def test_classification_bundle():
    b = DATASETS.get("not_so_clevr")(task="classification", split="quadrant", canvas=32, square=5)
    assert b.num_classes == 1024 and b.in_channels == 2 and b.image_size == (32, 32)
    assert (len(b.splits["train"]), len(b.splits["test"])) == (615, 169) == (b.info["n_train"], b.info["n_test"])
    x, y = b.splits["test"][0]
    assert x.dtype == torch.float32 and x.shape == (2,) and x.tolist() == [17.0, 17.0]
    assert int(y) == 17 * 32 + 17


def test_regression_bundle():
    b = nsc.not_so_clevr(task="regression", split="uniform", canvas=32, square=5)
    assert b.num_classes == 0 and b.in_channels == 1
    x, y = b.splits["train"][5]
    assert x.shape == (1, 32, 32) and x.sum() == 1
    row, col = divmod(int(x.flatten().argmax()), 32)
    assert y.tolist() == pytest.approx([col / 32, row / 32])


def test_rendering_bundle():
    b = nsc.not_so_clevr(task="rendering", split="uniform80", canvas=32, square=5, square_value=0.502)
    x, y = b.splits["test"][3]
    assert y.shape == (1, 32, 32) and (y > 0).sum() == 25 and y.max() == pytest.approx(0.502)
    cx, cy = int(x[0]), int(x[1])
    assert y[0, cy - 2 : cy + 3, cx - 2 : cx + 3].min() == pytest.approx(0.502)


def test_official_64_bundle_info():
    b = nsc.not_so_clevr(task="classification")
    assert b.info["test_centres_sha1"].startswith("2137d8b9512e") and b.num_classes == 4096


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"task": "detection"}, "data.task"),
        ({"split": "half"}, "data.split"),
        ({"square": 8}, "data.square"),
        ({"canvas": 4, "square": 9}, "data.square"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(DataError, match=match):
        nsc.not_so_clevr(**kwargs)
