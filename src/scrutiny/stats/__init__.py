"""Pure-numpy statistics over score arrays of shape ``(n_runs,)`` or ``(n_runs, n_tasks)``.

Aggregates, bootstrap intervals (stratified by task, percentile or BCa), probability of improvement, hypothesis
tests that agree with ``scipy.stats``, effect sizes, seed planning, expected max over trials and performance
profiles. Every random function takes an explicit int seed or ``numpy.random.Generator``.

Names are imported on first use (PEP 562): ``import scrutiny.stats`` imports neither torch nor scipy;
``scipy.stats`` comes with the first function that needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrutiny._discover import lazy_exports

# public name -> the module that defines it
_WHERE = {
    "BootstrapCI": "scrutiny.stats.bootstrap",
    "DifferenceCI": "scrutiny.stats.intervals",
    "ExpectedMax": "scrutiny.stats.expected_max",
    "HypothesisTestResult": "scrutiny.stats.hypothesis_tests",
    "MeanCI": "scrutiny.stats.aggregate",
    "PerformanceProfile": "scrutiny.stats.profiles",
    "aggregate_mean": "scrutiny.stats.aggregate",
    "aggregate_median": "scrutiny.stats.aggregate",
    "bootstrap_ci": "scrutiny.stats.bootstrap",
    "bootstrap_distribution": "scrutiny.stats.bootstrap",
    "bootstrap_mean_discrete": "scrutiny.stats.discrete",
    "cohens_d": "scrutiny.stats.effect_size",
    "expected_max": "scrutiny.stats.expected_max",
    "hedges_g": "scrutiny.stats.effect_size",
    "iqm": "scrutiny.stats.aggregate",
    "iqm_batch": "scrutiny.stats._batched",
    "make_rng": "scrutiny.stats._validate",
    "mann_whitney": "scrutiny.stats.hypothesis_tests",
    "mean_batch": "scrutiny.stats._batched",
    "mean_ci": "scrutiny.stats.aggregate",
    "median_batch": "scrutiny.stats._batched",
    "minimum_detectable_effect": "scrutiny.stats.planning",
    "noether_sample_size": "scrutiny.stats.planning",
    "optimality_gap": "scrutiny.stats.aggregate",
    "optimality_gap_batch": "scrutiny.stats._batched",
    "paired_permutation_test": "scrutiny.stats.permutation",
    "paired_t_test": "scrutiny.stats.hypothesis_tests",
    "performance_profile": "scrutiny.stats.profiles",
    "permutation_test": "scrutiny.stats.permutation",
    "probability_of_improvement": "scrutiny.stats.improvement",
    "probability_of_improvement_ci": "scrutiny.stats.improvement",
    "seeds_needed": "scrutiny.stats.planning",
    "seeds_needed_t": "scrutiny.stats.planning",
    "sem": "scrutiny.stats.aggregate",
    "t_test_power": "scrutiny.stats.planning",
    "welch_ci": "scrutiny.stats.intervals",
    "welch_t_test": "scrutiny.stats.hypothesis_tests",
    "wilcoxon_signed_rank": "scrutiny.stats.hypothesis_tests",
}

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names come from __getattr__
    from scrutiny.stats._batched import iqm_batch, mean_batch, median_batch, optimality_gap_batch
    from scrutiny.stats._validate import make_rng
    from scrutiny.stats.aggregate import MeanCI, aggregate_mean, aggregate_median, iqm, mean_ci, optimality_gap, sem
    from scrutiny.stats.bootstrap import BootstrapCI, bootstrap_ci, bootstrap_distribution
    from scrutiny.stats.discrete import bootstrap_mean_discrete
    from scrutiny.stats.effect_size import cohens_d, hedges_g
    from scrutiny.stats.expected_max import ExpectedMax, expected_max
    from scrutiny.stats.hypothesis_tests import (
        HypothesisTestResult,
        mann_whitney,
        paired_t_test,
        welch_t_test,
        wilcoxon_signed_rank,
    )
    from scrutiny.stats.improvement import probability_of_improvement, probability_of_improvement_ci
    from scrutiny.stats.intervals import DifferenceCI, welch_ci
    from scrutiny.stats.permutation import paired_permutation_test, permutation_test
    from scrutiny.stats.planning import (
        minimum_detectable_effect,
        noether_sample_size,
        seeds_needed,
        seeds_needed_t,
        t_test_power,
    )
    from scrutiny.stats.profiles import PerformanceProfile, performance_profile

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

__all__ = [
    "BootstrapCI",
    "DifferenceCI",
    "ExpectedMax",
    "HypothesisTestResult",
    "MeanCI",
    "PerformanceProfile",
    "aggregate_mean",
    "aggregate_median",
    "bootstrap_ci",
    "bootstrap_mean_discrete",
    "bootstrap_distribution",
    "cohens_d",
    "expected_max",
    "hedges_g",
    "iqm",
    "iqm_batch",
    "make_rng",
    "mann_whitney",
    "mean_batch",
    "mean_ci",
    "median_batch",
    "minimum_detectable_effect",
    "noether_sample_size",
    "optimality_gap",
    "optimality_gap_batch",
    "paired_permutation_test",
    "paired_t_test",
    "performance_profile",
    "permutation_test",
    "probability_of_improvement",
    "probability_of_improvement_ci",
    "seeds_needed",
    "seeds_needed_t",
    "sem",
    "t_test_power",
    "welch_ci",
    "welch_t_test",
    "wilcoxon_signed_rank",
]
