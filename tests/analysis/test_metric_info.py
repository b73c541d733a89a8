"""The range a metric's name implies keeps intervals inside what the metric can take."""

import math

from scrutiny.analysis.metric_info import clip_interval, metric_range, worst_value


def test_ranges_follow_the_name():
    assert metric_range("final_test_acc") == (0.0, 1.0)
    assert metric_range("inv_spearman_rho") == (-1.0, 1.0)
    assert metric_range("final_test_dist") == (0.0, math.inf)  # a distance is never negative
    assert metric_range("final_test_loss") == (0.0, math.inf)
    assert metric_range("ekld_tail_minus_head") == (-math.inf, math.inf)  # a difference of unbounded values
    assert metric_range("gain_minus_acc") == (-1.0, 1.0)
    assert metric_range("something") == (-math.inf, math.inf)
    assert metric_range("something", {"something": (2, 3)}) == (2.0, 3.0)


def test_an_interval_is_clipped_to_the_range_and_worst_needs_a_finite_end():
    assert clip_interval(-30.0, 49.0, metric_range("final_test_dist")) == (0.0, 49.0)
    assert clip_interval(0.848, 1.077, metric_range("final_test_acc")) == (0.848, 1.0)
    assert worst_value("final_test_acc", "final_test_acc", True) == 0.0
    assert worst_value("final_test_dist", "final_test_acc", True) is None  # lower is better, no finite worst
