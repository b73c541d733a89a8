"""Run many trials: plan spec × seeds against the store and run what it lacks, on this machine (serial, worker
processes, one GPU per worker), on a Ray cluster or on a SLURM cluster."""

from scrutiny.execute._pool import start_fork_server
from scrutiny.execute._sweep import PlannedTrial, Reporter, SweepResult, plan
from scrutiny.execute.local import run_sweep, run_trials
from scrutiny.execute.options import Executor, ExecutorError, SlurmOptions

__all__ = [
    "Executor",
    "ExecutorError",
    "PlannedTrial",
    "Reporter",
    "SlurmOptions",
    "SweepResult",
    "plan",
    "run_sweep",
    "run_trials",
    "start_fork_server",
]
