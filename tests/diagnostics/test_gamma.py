import math

import pytest
import torch

from scrutiny.diagnostics.gamma import (
    ACTIVATIONS,
    GAMMA_TABLE,
    RELU_GAMMA_EXACT,
    activation_gamma,
    gamma_monte_carlo,
    gamma_quadrature,
    get_activation,
)

# Published constants, as printed in the reference (DeepMind nfnets/base.py, timm _nonlin_gamma).
PUBLISHED = {
    "identity": 1.0,
    "celu": 1.270926833152771,
    "elu": 1.2716004848480225,
    "gelu": 1.7015043497085571,
    "leaky_relu": 1.70590341091156,
    "log_sigmoid": 1.9193484783172607,
    "log_softmax": 1.0002083778381348,
    "relu": 1.7139588594436646,
    "relu6": 1.7131484746932983,
    "selu": 1.0008515119552612,
    "sigmoid": 4.803835391998291,
    "silu": 1.7881293296813965,
    "softsign": 2.338853120803833,
    "softplus": 1.9203323125839233,
    "tanh": 1.5939117670059204,
    "glu": 1.8484294414520264,
}

# Quadrature values of the reference, 6 decimals.
QUADRATURE = {
    "gelu": 1.700926,
    "silu": 1.787187,
    "tanh": 1.592537,
    "sigmoid": 4.801313,
    "elu": 1.270843,
    "celu": 1.270843,
    "selu": 1.0,
    "softsign": 2.337533,
    "softplus": 1.919126,
    "log_sigmoid": 1.919126,
    "leaky_relu": 1.704832,
    "relu6": 1.712859,
}


def test_table_equals_published_constants_exactly():
    assert GAMMA_TABLE == PUBLISHED
    for name, value in PUBLISHED.items():
        assert activation_gamma(name) == value


def test_relu_closed_form():
    assert RELU_GAMMA_EXACT == pytest.approx(1.7128585504496627, abs=1e-15)
    assert gamma_quadrature("relu") == pytest.approx(RELU_GAMMA_EXACT, abs=1e-9)


@pytest.mark.parametrize("name", sorted(QUADRATURE))
def test_quadrature_matches_reference_to_six_decimals(name):
    assert round(gamma_quadrature(name), 6) == QUADRATURE[name]


@pytest.mark.parametrize("name", sorted(set(QUADRATURE) | {"relu"}))
def test_table_is_slightly_above_exact_value(name):
    excess = GAMMA_TABLE[name] / gamma_quadrature(name) - 1
    assert 0 < excess < 1e-3  # reference: all table entries are 0.01-0.09 % high


@pytest.mark.parametrize("name", ["relu", "gelu", "silu", "tanh", "sigmoid", "selu", "log_softmax", "glu"])
def test_monte_carlo_recipe_within_half_percent_of_table(name):
    assert gamma_monte_carlo(name, seed=0) == pytest.approx(GAMMA_TABLE[name], rel=5e-3)


def test_monte_carlo_large_sample_close_to_exact():
    assert gamma_monte_carlo("relu", shape=(2048, 4096)) == pytest.approx(RELU_GAMMA_EXACT, rel=1e-3)


def test_gamma_gives_unit_variance():
    z = torch.randn(1_000_000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for name in ["relu", "gelu", "tanh"]:
        y = gamma_quadrature(name) * ACTIVATIONS[name](z)
        assert y.var().item() == pytest.approx(1.0, rel=1e-2)


def test_callable_and_errors():
    assert gamma_quadrature(lambda x: 2 * x) == pytest.approx(0.5, abs=1e-9)
    assert activation_gamma(torch.relu, method="quadrature") == pytest.approx(RELU_GAMMA_EXACT, abs=1e-9)
    with pytest.raises(ValueError, match="no published gamma"):
        activation_gamma("swish")
    with pytest.raises(ValueError, match="not element-wise"):
        gamma_quadrature("glu")
    with pytest.raises(ValueError, match="method"):
        activation_gamma("relu", method="exact")
    with pytest.raises(ValueError, match="unknown activation"):
        get_activation("nope")
    assert math.isfinite(activation_gamma("relu", method="monte_carlo", seed=3))
