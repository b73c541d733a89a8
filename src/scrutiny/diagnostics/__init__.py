"""Diagnostics that need no training: signal propagation plots and activation gains."""

from scrutiny.diagnostics.gamma import GAMMA_TABLE, activation_gamma, gamma_monte_carlo, gamma_quadrature
from scrutiny.diagnostics.plots import plot_spp
from scrutiny.diagnostics.spp import SPPResult, SPPRow, SupportsSPP, spp

__all__ = [
    "GAMMA_TABLE",
    "SPPResult",
    "SPPRow",
    "SupportsSPP",
    "activation_gamma",
    "gamma_monte_carlo",
    "gamma_quadrature",
    "plot_spp",
    "spp",
]
