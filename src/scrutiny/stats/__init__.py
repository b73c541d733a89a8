"""Pure-numpy statistics over score arrays of shape ``(n_runs,)`` or ``(n_runs, n_tasks)``.

Aggregates, bootstrap intervals (stratified by task, percentile or BCa), probability of improvement, hypothesis
tests that agree with ``scipy.stats``, effect sizes, seed planning, expected max over trials and performance
profiles. Every random function takes an explicit int seed or ``numpy.random.Generator``.
"""

from scrutiny.stats._batched import iqm_batch, mean_batch, median_batch, optimality_gap_batch
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
