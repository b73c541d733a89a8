"""scrutiny: put a deep-learning paper's claim to the test.

The public API, re-exported explicitly. Subpackages hold the rest: :mod:`scrutiny.stats` (statistics),
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
    "DATASETS": "scrutiny.registry",
    "MODELS": "scrutiny.registry",
    "PROTOCOLS": "scrutiny.registry",
    "Registry": "scrutiny.registry",
    "ScrutinyError": "scrutiny.errors",
    "Spec": "scrutiny.spec",
    "SpecError": "scrutiny.errors",
    "SpecSummary": "scrutiny.analysis",
    "Store": "scrutiny.store",
    "diff": "scrutiny.spec",
    "load_checkpoint": "scrutiny.store",
    "load_spec": "scrutiny.spec",
    "run_sweep": "scrutiny.execute",
    "run_trial": "scrutiny.trials",
    "run_trials": "scrutiny.execute",
    "spec_hash": "scrutiny.spec",
    "summarise": "scrutiny.analysis",
    "trial_id": "scrutiny.spec",
}

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names come from __getattr__
    from scrutiny.analysis import SpecSummary, summarise
    from scrutiny.errors import ScrutinyError, SpecError
    from scrutiny.execute import run_sweep, run_trials
    from scrutiny.registry import DATASETS, MODELS, PROTOCOLS, Registry
    from scrutiny.spec import Spec, diff, load_spec, spec_hash, trial_id
    from scrutiny.store import Store, load_checkpoint
    from scrutiny.trials import run_trial


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

__all__ = [
    "__version__",
    "DATASETS",
    "MODELS",
    "PROTOCOLS",
    "Registry",
    "ScrutinyError",
    "Spec",
    "SpecError",
    "SpecSummary",
    "Store",
    "diff",
    "load_checkpoint",
    "load_spec",
    "run_sweep",
    "run_trial",
    "run_trials",
    "spec_hash",
    "summarise",
    "trial_id",
]
