"""What a command does, as documented functions: the only room above :mod:`scrutiny.analysis` that runs trials.

Each ``scrutiny`` command is a thin layer over one of these (it maps flags to parameters and renders the result):

- :func:`~scrutiny.workflows.check.check_claim` (``check``, ``case``): run what the store lacks for a claim, decide
  every hypothesis; sequential, bring-your-own-scores and without-duplicates modes;
- :func:`~scrutiny.workflows.ablate.ablate` (``ablate``): attribute the gap between two specs to their differences;
- :func:`~scrutiny.workflows.evaluate.evaluate_weights` (``eval``): a model with local weights under image protocols;
- :func:`~scrutiny.workflows.restore.load_trial`: a trained model and its data bundle from a stored trial;
- :func:`~scrutiny.workflows.invariance.measure_invariance` (``invariance``): per-class eKLD of a trained model;
- :func:`~scrutiny.workflows.spp.compare_spp` (``spp``): signal propagation plots at initialisation, overlaid;
- :func:`~scrutiny.workflows.compare.compare_scores` (``compare``): is A better than B, from the store or a file.

Library errors name parameters (``design: expected ...``); the command line maps them to its flags. Names are
imported on first use (PEP 562), so that ``import scrutiny.workflows`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrutiny._discover import lazy_exports

# public name -> the module that defines it
_WHERE = {
    "AblationPlan": "scrutiny.workflows.ablate",
    "AblationResult": "scrutiny.workflows.ablate",
    "ClaimPlan": "scrutiny.workflows.check",
    "InvarianceResult": "scrutiny.workflows.invariance",
    "MissingInputsError": "scrutiny.workflows.check",
    "RestoredModel": "scrutiny.workflows.restore",
    "SPPComparison": "scrutiny.workflows.spp",
    "WeightsEvaluation": "scrutiny.workflows.evaluate",
    "ablate": "scrutiny.workflows.ablate",
    "check_claim": "scrutiny.workflows.check",
    "compare_scores": "scrutiny.workflows.compare",
    "compare_spp": "scrutiny.workflows.spp",
    "evaluate_weights": "scrutiny.workflows.evaluate",
    "load_model": "scrutiny.workflows.restore",
    "load_trial": "scrutiny.workflows.restore",
    "measure_invariance": "scrutiny.workflows.invariance",
    "plan_ablation": "scrutiny.workflows.ablate",
    "plan_claim": "scrutiny.workflows.check",
    "score_claim": "scrutiny.workflows.check",
}

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names come from __getattr__
    from scrutiny.workflows.ablate import AblationPlan, AblationResult, ablate, plan_ablation
    from scrutiny.workflows.check import ClaimPlan, MissingInputsError, check_claim, plan_claim, score_claim
    from scrutiny.workflows.compare import compare_scores
    from scrutiny.workflows.evaluate import WeightsEvaluation, evaluate_weights
    from scrutiny.workflows.invariance import InvarianceResult, measure_invariance
    from scrutiny.workflows.restore import RestoredModel, load_model, load_trial
    from scrutiny.workflows.spp import SPPComparison, compare_spp

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

__all__ = [
    "AblationPlan",
    "AblationResult",
    "ClaimPlan",
    "InvarianceResult",
    "MissingInputsError",
    "RestoredModel",
    "SPPComparison",
    "WeightsEvaluation",
    "ablate",
    "check_claim",
    "compare_scores",
    "compare_spp",
    "evaluate_weights",
    "load_model",
    "load_trial",
    "measure_invariance",
    "plan_ablation",
    "plan_claim",
    "score_claim",
]
