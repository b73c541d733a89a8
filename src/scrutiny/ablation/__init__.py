"""Ablation designs over the differences between two specs, and the attribution of the gap between them.

Pure parts only: :mod:`~scrutiny.ablation.designs` (factors and arms), :mod:`~scrutiny.ablation.attribution`
(effects, Shapley values and interactions from arm -> per-seed scores) and :mod:`~scrutiny.ablation.plot` (rendering
a result). Building the arms as specs and running them is :mod:`scrutiny.workflows.ablate`.
"""

from scrutiny.ablation.attribution import Attribution, Estimate, attribute
from scrutiny.ablation.designs import DESIGNS, Arm, DesignPlan, Factor, arm_name, make_factors, plan_design
from scrutiny.ablation.plot import markdown_table, plot_waterfall

__all__ = [
    "DESIGNS",
    "Arm",
    "Attribution",
    "DesignPlan",
    "Estimate",
    "Factor",
    "arm_name",
    "attribute",
    "make_factors",
    "markdown_table",
    "plan_design",
    "plot_waterfall",
]
