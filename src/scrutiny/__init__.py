"""scrutiny: put a deep-learning paper's claim to the test.

The public API, re-exported explicitly: a function for every command (:func:`check_claim`, :func:`ablate`,
:func:`evaluate_weights`, :func:`load_trial`, :func:`measure_invariance`, :func:`compare_spp`,
:func:`compare_scores`, :func:`run_sweep`; :mod:`scrutiny.workflows`) and the pieces they are made of. Subpackages
hold the rest: :mod:`scrutiny.stats` (statistics),
:mod:`scrutiny.protocols` (evaluation protocols), :mod:`scrutiny.diagnostics` (signal propagation, gains),
:mod:`scrutiny.layers` and :mod:`scrutiny.models` (building blocks and the model zoo).

Names are imported on first use (PEP 562), so that ``import scrutiny`` and ``scrutiny --help`` do not pay for
torch and scipy: ``from scrutiny import run_trial`` imports torch, ``from scrutiny import ScrutinyError`` does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrutiny._discover import lazy_exports
from scrutiny._version import __version__

# public name -> the module that defines it
_WHERE = {
    "ClaimResult": "scrutiny.analysis.check",
    "DATASETS": "scrutiny.registry",
    "MODELS": "scrutiny.registry",
    "PROTOCOLS": "scrutiny.registry",
    "Registry": "scrutiny.registry",
    "ScrutinyError": "scrutiny.errors",
    "Spec": "scrutiny.spec",
    "SpecError": "scrutiny.errors",
    "SpecSummary": "scrutiny.analysis",
    "Store": "scrutiny.store",
    "ablate": "scrutiny.workflows.ablate",
    "check_claim": "scrutiny.workflows.check",
    "compare_scores": "scrutiny.workflows.compare",
    "compare_spp": "scrutiny.workflows.spp",
    "diff": "scrutiny.spec",
    "evaluate_weights": "scrutiny.workflows.evaluate",
    "load_checkpoint": "scrutiny.store",
    "load_spec": "scrutiny.spec",
    "load_trial": "scrutiny.workflows.restore",
    "measure_invariance": "scrutiny.workflows.invariance",
    "plan_claim": "scrutiny.workflows.check",
    "run_sweep": "scrutiny.execute",
    "run_trial": "scrutiny.trials",
    "run_trials": "scrutiny.execute",
    "spec_hash": "scrutiny.spec",
    "summarise": "scrutiny.analysis",
    "trial_id": "scrutiny.spec",
}

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names come from __getattr__
    from scrutiny.analysis import SpecSummary, summarise
    from scrutiny.analysis.check import ClaimResult
    from scrutiny.errors import ScrutinyError, SpecError
    from scrutiny.execute import run_sweep, run_trials
    from scrutiny.registry import DATASETS, MODELS, PROTOCOLS, Registry
    from scrutiny.spec import Spec, diff, load_spec, spec_hash, trial_id
    from scrutiny.store import Store, load_checkpoint
    from scrutiny.trials import run_trial
    from scrutiny.workflows.ablate import ablate
    from scrutiny.workflows.check import check_claim, plan_claim
    from scrutiny.workflows.compare import compare_scores
    from scrutiny.workflows.evaluate import evaluate_weights
    from scrutiny.workflows.invariance import measure_invariance
    from scrutiny.workflows.restore import load_trial
    from scrutiny.workflows.spp import compare_spp


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

__all__ = [
    "__version__",
    "ClaimResult",
    "DATASETS",
    "MODELS",
    "PROTOCOLS",
    "Registry",
    "ScrutinyError",
    "Spec",
    "SpecError",
    "SpecSummary",
    "Store",
    "ablate",
    "check_claim",
    "compare_scores",
    "compare_spp",
    "diff",
    "evaluate_weights",
    "load_checkpoint",
    "load_spec",
    "load_trial",
    "measure_invariance",
    "plan_claim",
    "run_sweep",
    "run_trial",
    "run_trials",
    "spec_hash",
    "summarise",
    "trial_id",
]
