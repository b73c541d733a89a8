"""Diagnostics that need no training: signal propagation plots and activation gains."""

from scrutiny.diagnostics.compare import ModelSetup, build_setup, model_setup, spp_compare
from scrutiny.diagnostics.gamma import GAMMA_TABLE, activation_gamma, gamma_monte_carlo, gamma_quadrature
from scrutiny.diagnostics.plots import plot_spp
from scrutiny.diagnostics.spp import SPPResult, SPPRow, SupportsSPP, spp

__all__ = [
    "GAMMA_TABLE",
    "ModelSetup",
    "SPPResult",
    "SPPRow",
    "SupportsSPP",
    "activation_gamma",
    "build_setup",
    "gamma_monte_carlo",
    "gamma_quadrature",
    "model_setup",
    "plot_spp",
    "spp",
    "spp_compare",
]
