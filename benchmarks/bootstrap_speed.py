"""Stratified bootstrap of the IQM, 50,000 reps on 10 runs x 5 tasks: scrutiny's vectorised version vs a loop.

The baseline is the straightforward per-replicate Python loop that reproduces rliable's StratifiedBootstrap
(global ``np.random.choice`` per replicate, ``scipy.stats.trim_mean`` per replicate). rliable itself is timed when
importable. Run: ``python benchmarks/bootstrap_speed.py``.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import stats

from scrutiny.stats import bootstrap_ci

REPS, N_RUNS, N_TASKS = 50_000, 10, 5


def loop_ci(scores: np.ndarray, reps: int, size: float = 0.95) -> np.ndarray:
    """Percentile interval from a per-replicate loop, as rliable (reference notes §1.1)."""
    n, m = scores.shape
    cols = np.arange(m)[None, :]
    vals = np.array(
        [stats.trim_mean(scores[np.random.choice(n, (n, m), replace=True), cols], 0.25, axis=None) for _ in range(reps)]
    )
    a = (1 - size) / 2
    return np.percentile(vals, [100 * a, 100 * (1 - a)])


def main() -> None:
    scores = np.random.default_rng(0).normal(loc=1.0, scale=0.3, size=(N_RUNS, N_TASKS))
    print(f"stratified bootstrap of the IQM: {REPS} reps on {N_RUNS} runs x {N_TASKS} tasks")

    bootstrap_ci(scores, "iqm", reps=100, seed=0)  # warm-up
    t0 = time.perf_counter()
    ours = bootstrap_ci(scores, "iqm", reps=REPS, seed=0)
    t_ours = time.perf_counter() - t0

    np.random.seed(0)
    t0 = time.perf_counter()
    ref = loop_ci(scores, REPS)
    t_loop = time.perf_counter() - t0

    print(f"scrutiny vectorised : {t_ours:8.3f} s   interval [{ours.low:.4f}, {ours.high:.4f}]")
    print(f"per-rep Python loop : {t_loop:8.3f} s   interval [{ref[0]:.4f}, {ref[1]:.4f}]")
    print(f"speed ratio (loop / vectorised): {t_loop / t_ours:.1f}x (target >= 10x)")
    print(f"interval difference: low {ours.low - ref[0]:+.4f}, high {ours.high - ref[1]:+.4f} (Monte Carlo error)")

    try:
        from rliable import library as rly
        from rliable import metrics
    except Exception as exc:  # noqa: BLE001 - any import failure means: skip
        print(f"rliable: skipped ({type(exc).__name__}: {exc})")
        return
    np.random.seed(0)
    t0 = time.perf_counter()
    _, intervals = rly.get_interval_estimates({"x": scores}, lambda s: np.array([metrics.aggregate_iqm(s)]), reps=REPS)
    t_rly = time.perf_counter() - t0
    low, high = intervals["x"][:, 0]
    print(f"rliable             : {t_rly:8.3f} s   interval [{low:.4f}, {high:.4f}]  ratio {t_rly / t_ours:.1f}x")


if __name__ == "__main__":
    main()
