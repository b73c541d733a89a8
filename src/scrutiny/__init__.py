"""scrutiny: put a deep-learning paper's claim to the test.

The public API, re-exported explicitly. Subpackages hold the rest: :mod:`scrutiny.stats` (statistics),
:mod:`scrutiny.protocols` (evaluation protocols), :mod:`scrutiny.diagnostics` (signal propagation, gains),
:mod:`scrutiny.layers` and :mod:`scrutiny.models` (building blocks and the model zoo).
"""

from scrutiny._version import __version__
from scrutiny.analysis import SpecSummary, summarise
from scrutiny.errors import ScrutinyError, SpecError
from scrutiny.execute import run_sweep, run_trials
from scrutiny.registry import DATASETS, MODELS, PROTOCOLS, Registry
from scrutiny.spec import Spec, diff, load_spec, spec_hash, trial_id
from scrutiny.store import Store, load_checkpoint
from scrutiny.trials import run_trial

__all__ = [
    "DATASETS",
    "MODELS",
    "PROTOCOLS",
    "Registry",
    "ScrutinyError",
    "Spec",
    "SpecError",
    "SpecSummary",
    "Store",
    "__version__",
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
