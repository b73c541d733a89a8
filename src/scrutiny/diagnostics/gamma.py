"""Activation gains γ: the factor that gives ``γ·g(z)`` unit variance for ``z ~ N(0, 1)``.

Paper: Brock, De, Smith, "Characterizing signal propagation to close the performance gap in unnormalized ResNets",
ICLR 2021 (arXiv 2101.08692), Section 4 and Appendix D.1. Original code: ``google-deepmind/deepmind-research``
``nfnets/base.py`` (``nonlinearities``); the same table is ``_nonlin_gamma`` in timm ``timm/models/nfnet.py``.

Definition: ``γ = 1 / sqrt(Var_{z~N(0,1)}[g(z)])``. Three ways to get it:

- ``"table"``: the published constants (:data:`GAMMA_TABLE`, defined with the activations in
  :mod:`scrutiny.layers.activations`). They are Monte-Carlo estimates and lie 0.01-0.09 % above the exact values
  (e.g. ReLU: table 1.7139588594436646, exact ``sqrt(2 / (1 - 1/π)) = 1.7128585504496627``).
- ``"quadrature"``: the exact value up to ~1e-9, by composite Simpson integration against the normal density.
- ``"monte_carlo"``: the paper's recipe in torch: ``z = randn(1024, 256)``, ``γ = mean(var(g(z), dim=1)) ** -0.5``
  with the population variance. It carries a seed-dependent error of a few 1e-3 (relative).
"""

from __future__ import annotations

import math

import torch

from scrutiny.layers.activations import (  # the tables are defined with the layers; re-exported here
    ACTIVATIONS,
    GAMMA_TABLE,
    VECTOR_ACTIVATIONS,
    Activation,
    published_gamma,
)

__all__ = [
    "ACTIVATIONS",
    "GAMMA_TABLE",
    "RELU_GAMMA_EXACT",
    "VECTOR_ACTIVATIONS",
    "Activation",
    "activation_gamma",
    "gamma_monte_carlo",
    "gamma_quadrature",
    "get_activation",
]

#: Exact ReLU gain, ``sqrt(2 / (1 - 1/π))``.
RELU_GAMMA_EXACT = math.sqrt(2.0 / (1.0 - 1.0 / math.pi))


def get_activation(act: str | Activation) -> Activation:
    """Return the activation named ``act`` (a key of :data:`ACTIVATIONS` or :data:`VECTOR_ACTIVATIONS`), or ``act``."""
    if callable(act):
        return act
    table = {**ACTIVATIONS, **VECTOR_ACTIVATIONS}
    if act not in table:
        raise ValueError(f"unknown activation '{act}'; expected one of {sorted(table)} or a callable")
    return table[act]


def gamma_quadrature(act: str | Activation, *, limit: float = 16.0, n: int = 32_001) -> float:
    """γ of an element-wise activation by Simpson quadrature of ``E[g(z)]`` and ``E[g(z)²]`` on ``[-limit, limit]``.

    The grid (``n`` points, odd) contains 0, so kinks at 0 (ReLU, leaky ReLU, ELU) fall on nodes.

    Args:
        act: Name in :data:`ACTIVATIONS` or an element-wise callable on a float64 tensor.
        limit: Half-width of the integration interval in standard deviations.
        n: Number of grid points; must be odd.

    Returns:
        ``1 / sqrt(Var[g(z)])`` for ``z ~ N(0, 1)``.
    """
    if isinstance(act, str) and act in VECTOR_ACTIVATIONS:
        raise ValueError(f"activation '{act}' is not element-wise; use gamma_monte_carlo")
    if n % 2 == 0 or n < 3:
        raise ValueError(f"n must be odd and >= 3, got {n}")
    fn = get_activation(act)
    z = torch.linspace(-limit, limit, n, dtype=torch.float64)
    h = 2 * limit / (n - 1)
    w = torch.ones(n, dtype=torch.float64)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    w = w * (h / 3.0) * torch.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    y = fn(z).to(torch.float64)
    mean = (w * y).sum()
    var = (w * (y - mean) ** 2).sum()
    return float(var.rsqrt())


def gamma_monte_carlo(act: str | Activation, *, shape: tuple[int, int] = (1024, 256), seed: int = 0) -> float:
    """γ by the paper's Monte-Carlo recipe (Appendix D.1), in torch float32.

    ``z = randn(shape)`` from a ``torch.Generator`` seeded with ``seed``; ``γ = mean(var(g(z), dim=1)) ** -0.5`` with
    the population variance (as ``jnp.var``).

    Args:
        act: Name in :data:`ACTIVATIONS` / :data:`VECTOR_ACTIVATIONS`, or a callable on a ``(rows, cols)`` tensor.
        shape: ``(rows, cols)`` of the noise; the variance is taken over ``cols`` and averaged over ``rows``.
        seed: Seed of the generator.
    """
    fn = get_activation(act)
    z = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    y = fn(z)
    return float(y.var(dim=1, correction=0).mean() ** -0.5)


def activation_gamma(act: str | Activation, method: str = "table", **kwargs) -> float:
    """γ of ``act`` by ``method``: ``"table"`` (published constant), ``"quadrature"`` or ``"monte_carlo"``.

    Args:
        act: Activation name, or a callable (not with ``"table"``).
        method: How to get γ; see the module docstring.
        **kwargs: Passed to :func:`gamma_quadrature` or :func:`gamma_monte_carlo`.
    """
    if method == "table":
        return published_gamma(act)
    if method == "quadrature":
        return gamma_quadrature(act, **kwargs)
    if method == "monte_carlo":
        return gamma_monte_carlo(act, **kwargs)
    raise ValueError(f"method must be 'table', 'quadrature' or 'monte_carlo', got '{method}'")
