"""Ablation designs over the differences between two specs, and the attribution of the gap between them.

Pure parts: :mod:`~scrutiny.ablation.designs` (factors and arms) and :mod:`~scrutiny.ablation.attribution`
(effects, Shapley values and interactions from arm -> per-seed scores). :mod:`~scrutiny.ablation.run` builds the arms
as specs and runs them as trials; :mod:`~scrutiny.ablation.plot` renders a result.
"""

from scrutiny.ablation.attribution import Attribution, Estimate, attribute
from scrutiny.ablation.designs import DESIGNS, Arm, DesignPlan, Factor, arm_name, make_factors, plan_design
from scrutiny.ablation.plot import markdown_table, plot_waterfall
from scrutiny.ablation.run import (
    AblationPlan,
    attribute_from_store,
    build_arm,
    collect_scores,
    plan_ablation,
    run_ablation,
)

__all__ = [
    "DESIGNS",
    "AblationPlan",
    "Arm",
    "Attribution",
    "DesignPlan",
    "Estimate",
    "Factor",
    "arm_name",
    "attribute",
    "attribute_from_store",
    "build_arm",
    "collect_scores",
    "make_factors",
    "markdown_table",
    "plan_ablation",
    "plan_design",
    "plot_waterfall",
    "run_ablation",
]
