"""Element-wise activations by name, and the published gains γ that give ``γ·g(z)`` unit variance for ``z ~ N(0, 1)``.

Paper: Brock, De, Smith, "Characterizing signal propagation to close the performance gap in unnormalized ResNets",
ICLR 2021 (arXiv 2101.08692), Section 4 and Appendix D.1. Original code: ``google-deepmind/deepmind-research``
``nfnets/base.py`` (``nonlinearities``); the same table is ``_nonlin_gamma`` in timm ``timm/models/nfnet.py``.

The tables live here, with the layers, so that models (``γ·relu`` in NF-ResNets) use them without importing
:mod:`scrutiny.diagnostics`; :mod:`scrutiny.diagnostics.gamma` computes γ exactly or by Monte Carlo and compares.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Activation = Callable[[torch.Tensor], torch.Tensor]

#: Published γ per activation: DeepMind ``nfnets/base.py`` (``soft_sign`` renamed ``softsign`` as in timm), plus
#: DeepMind's ``glu`` that timm lacks.
GAMMA_TABLE: dict[str, float] = {
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

#: Element-wise activations by name (torch defaults: exact erf GELU, leaky slope 0.01, ELU/CELU alpha 1).
ACTIVATIONS: dict[str, Activation] = {
    "identity": lambda x: x,
    "celu": F.celu,
    "elu": F.elu,
    "gelu": F.gelu,
    "leaky_relu": F.leaky_relu,
    "log_sigmoid": F.logsigmoid,
    "relu": F.relu,
    "relu6": F.relu6,
    "selu": F.selu,
    "sigmoid": torch.sigmoid,
    "silu": F.silu,
    "softsign": F.softsign,
    "softplus": F.softplus,
    "tanh": torch.tanh,
}

#: Activations over the last dimension (not element-wise): Monte Carlo only.
VECTOR_ACTIVATIONS: dict[str, Activation] = {
    "log_softmax": lambda x: F.log_softmax(x, dim=-1),
    "glu": lambda x: F.glu(x, dim=-1),
}


def published_gamma(name: str | Activation) -> float:
    """The published γ of the activation ``name`` (:data:`GAMMA_TABLE`).

    Raises:
        ValueError: No published γ for ``name`` (a callable has none).
    """
    if not isinstance(name, str) or name not in GAMMA_TABLE:
        raise ValueError(f"no published gamma for {name!r}; known: {sorted(GAMMA_TABLE)} (or use method='quadrature')")
    return GAMMA_TABLE[name]
