"""Run one trial: the training loop, seeding, exact evaluation and environment capture."""

from scrutiny.trials.evaluate import EvalResult, EvaluationCountError, evaluate
from scrutiny.trials.loop import run_trial
from scrutiny.trials.seeding import STREAMS, TrialSeeds, derive_seed, parse_seeds

__all__ = [
    "STREAMS",
    "EvalResult",
    "EvaluationCountError",
    "TrialSeeds",
    "derive_seed",
    "evaluate",
    "parse_seeds",
    "run_trial",
]
