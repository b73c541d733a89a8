"""eKLD: hand-computed divergences (and their direction), per-class means, the batched model path, rank correlation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from scrutiny.data.transforms import Background, Rotation
from scrutiny.diagnostics.invariance import (
    EKLDResult,
    ekld,
    ekld_from_logits,
    ekld_size_correlation,
    plot_ekld,
    rank_correlation,
    spearman,
)

LN3 = math.log(3.0)
# p = softmax([0, 0]) = (1/2, 1/2), q = softmax([ln 3, 0]) = (3/4, 1/4)
KL_PQ = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)  # = 0.5 ln(4/3) = 0.143841
KL_QP = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)  # = 0.75 ln 1.5 - 0.25 ln 2 = 0.130812


def test_kl_runs_from_the_original_prediction_to_the_transformed_one():
    assert KL_PQ == pytest.approx(0.5 * math.log(4 / 3)) and KL_PQ != pytest.approx(KL_QP, abs=1e-3)
    forward = ekld_from_logits([[0.0, 0.0]], [[[LN3, 0.0]]], [0])
    backward = ekld_from_logits([[LN3, 0.0]], [[[0.0, 0.0]]], [0])
    assert forward.per_pair[0, 0] == pytest.approx(KL_PQ, abs=1e-12)  # KL(P(.|x) || P(.|x'))
    assert backward.per_pair[0, 0] == pytest.approx(KL_QP, abs=1e-12)
    shifted = ekld_from_logits([[5.0, 5.0]], [[[LN3 - 2, -2.0]]], [0])  # logits are defined up to a constant
    assert shifted.per_pair[0, 0] == pytest.approx(KL_PQ, abs=1e-12)


def test_per_example_and_per_class_means_by_hand():
    original = [[0.0, 0.0], [0.0, 0.0], [LN3, 0.0]]
    transformed = [
        [[0.0, 0.0], [LN3, 0.0]],  # 0 and KL_PQ
        [[LN3, 0.0], [LN3, 0.0]],  # KL_PQ twice
        [[0.0, 0.0], [LN3, 0.0]],  # KL_QP and 0
    ]
    v = ekld_from_logits(original, transformed, [0, 0, 1], num_classes=3)
    assert np.allclose(v.per_pair, [[0, KL_PQ], [KL_PQ, KL_PQ], [KL_QP, 0]], atol=1e-12)
    assert np.allclose(v.per_example, [KL_PQ / 2, KL_PQ, KL_QP / 2], atol=1e-12)
    assert v.per_class[0] == pytest.approx(0.75 * KL_PQ)  # mean over class 0's four pairs: 3 KL_PQ / 4
    assert v.per_class[1] == pytest.approx(KL_QP / 2)
    assert math.isnan(v.per_class[2]) and v.n_per_class.tolist() == [2, 1, 0]
    assert v.mean == pytest.approx((3 * KL_PQ + KL_QP) / 6)
    with pytest.raises(ValueError, match=r"original \(N, K\) and transformed \(N, T, K\)"):
        ekld_from_logits(original, transformed[:2], [0, 0, 1])


class _TinyNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.Flatten(),
            torch.nn.Linear(4 * 8 * 8, 3),
        )  # fmt: skip

    def forward(self, x):
        return self.body(x)


def _data(n=12):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, 1, 8, 8, generator=g)
    return torch.utils.data.TensorDataset(torch.where(x < 0.4, 0.0, x), torch.arange(n) % 3)


def test_model_path_equals_the_logit_function_and_ignores_batch_size():
    model, data, tfm = _TinyNet(), _data(), Background()
    model.train()
    result = ekld(model, data, tfm, n_transforms=5, seed=7, batch_size=12, class_sizes=[30, 3, 10], reps=200)
    assert model.training  # mode restored
    x, y = data.tensors
    params = tfm.draw(torch.Generator().manual_seed(7), 12 * 5)  # image i gets draws i*T .. i*T + T - 1
    model.eval()
    with torch.no_grad():
        expected = ekld_from_logits(model(x), model(tfm.apply(x.repeat_interleave(5, 0), params)).view(12, 5, 3), y)
    assert np.allclose(result.values.per_pair, expected.per_pair, atol=1e-6)
    assert np.allclose(result.values.per_class, expected.per_class, atol=1e-6)
    small = ekld(model, data, tfm, n_transforms=5, seed=7, batch_size=1, reps=200)  # one image per forward
    assert np.allclose(small.values.per_pair, result.values.per_pair, atol=1e-6)
    sizes = []
    hook = model.register_forward_hook(lambda m, inp, out: sizes.append(len(inp[0])))
    ekld(model, data, tfm, n_transforms=5, seed=7, batch_size=25, reps=10)  # 4 images (24 inputs) fit: 3 x 4 images
    hook.remove()
    assert sizes == [24, 24, 24]
    assert np.all(result.low <= result.values.per_class) and np.all(result.values.per_class <= result.high)
    assert isinstance(result, EKLDResult) and len(result.rows()) == 3 and result.rows()[0]["train_size"] == 30
    assert result.values.per_class.min() > 0


def test_identity_transforms_give_zero_and_max_per_class_limits_images():
    model, data = _TinyNet(), _data()
    zero = ekld(model, data, Rotation(max_degrees=0.0), n_transforms=3, seed=0, max_per_class=2, reps=100)
    assert zero.values.n_per_class.tolist() == [2, 2, 2]
    assert np.allclose(zero.values.per_pair, 0.0, atol=1e-9)


def test_spearman_agrees_with_scipy_including_ties():
    rng = np.random.default_rng(0)
    for _ in range(5):
        x, y = rng.integers(0, 5, 12).astype(float), rng.normal(size=12)
        assert spearman(x, y) == pytest.approx(scipy.stats.spearmanr(x, y).statistic, abs=1e-12)
    # ranks [1, 2, 3, 4] and [1, 3, 2, 4]: sum d^2 = 2, rho = 1 - 6 * 2 / (4 * 15) = 0.8
    assert spearman(np.array([1.0, 2, 3, 4]), np.array([1.0, 3, 2, 4])) == pytest.approx(0.8)
    assert math.isnan(spearman(np.ones(4), np.arange(4.0)))


def test_rank_correlation_bootstrap_over_classes_is_seeded():
    sizes = np.array([4800, 1200, 533, 300, 192, 133, 97, 75, 59, 48])
    falling = 1.0 / np.sqrt(sizes)  # eKLD that falls with class size: rho = -1 on every resample
    rc = rank_correlation(sizes, falling, reps=500, seed=0)
    assert rc.rho == pytest.approx(-1.0) and rc.low == pytest.approx(-1.0) and rc.high == pytest.approx(-1.0)
    assert rc.n == 10 and 0 <= rc.n_degenerate < 5  # a resample of one class repeated has no rho
    noisy = falling + np.random.default_rng(1).normal(0, 0.05, 10)
    a, b = rank_correlation(sizes, noisy, reps=500, seed=3), rank_correlation(sizes, noisy, reps=500, seed=3)
    assert a == b and a.low <= a.rho <= a.high and a.rho == pytest.approx(scipy.stats.spearmanr(sizes, noisy)[0])
    dropped = rank_correlation(np.r_[sizes, 5], np.r_[falling, np.nan], reps=100, seed=0)
    assert dropped.n == 10  # a class without images is left out


def test_size_correlation_and_plot_from_a_result():
    model, data = _TinyNet(), _data()
    result = ekld(model, data, Background(), n_transforms=4, seed=0, class_sizes=[100, 10, 1], reps=100)
    rc = ekld_size_correlation(result, reps=200, seed=0)
    assert -1.0 <= rc.rho <= 1.0 and rc.n == 3
    ax = plot_ekld(result, correlation=rc)
    assert ax.get_xscale() == "log" and "Spearman" in ax.get_title()
    with pytest.raises(ValueError, match="no class_sizes"):
        plot_ekld(ekld(model, data, Background(), n_transforms=1, reps=10))
