import numpy as np
import pytest

from scrutiny.analysis.compare import compare


def test_clear_winner_either_way():
    a, b = np.array([0.90, 0.91, 0.92, 0.91]), np.array([0.80, 0.81, 0.80, 0.82])
    assert compare(a, b).verdict == "A better"
    assert compare(b, a).verdict == "B better"
    assert compare(a, b, higher_is_better=False).verdict == "B better"  # an error rate: lower wins


def test_inconclusive_says_how_many_seeds():
    rng = np.random.default_rng(0)
    a, b = 0.9 + 0.01 * rng.standard_normal(4) + 0.01, 0.9 + 0.01 * rng.standard_normal(4)
    c = compare(a, b)
    if c.p_welch >= 0.05:
        assert c.verdict == f"inconclusive: need {c.seeds_needed} seeds" or c.verdict.startswith("no difference")
    assert c.seeds_needed is not None


def test_no_detectable_difference_reports_the_smallest_detectable():
    a = np.array([0.90, 0.92, 0.91, 0.93, 0.89])
    b = a[::-1].copy() + 1e-5
    c = compare(a, b)
    assert c.verdict.startswith("no difference detectable at this n (smallest detectable:")
    assert c.minimum_detectable == pytest.approx(2.8016 * a.std(ddof=1) * np.sqrt(2 / 5), rel=1e-3)


def test_two_dimensional_scores_average_tasks():
    a = np.array([[0.9, 0.8], [0.91, 0.82], [0.92, 0.81]])
    b = a - 0.1
    c = compare(a, b)
    assert c.tasks == 2 and c.difference == pytest.approx(0.1) and c.p_improvement["estimate"] == 1.0
    with pytest.raises(ValueError, match="same tasks"):
        compare(a, b[:, :1])
