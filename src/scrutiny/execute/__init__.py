"""Run many trials: plan spec × seeds against the store and run what it lacks (locally, serial or in processes)."""

from scrutiny.execute.local import PlannedTrial, Reporter, SweepResult, plan, run_sweep, run_trials

__all__ = ["PlannedTrial", "Reporter", "SweepResult", "plan", "run_sweep", "run_trials"]
