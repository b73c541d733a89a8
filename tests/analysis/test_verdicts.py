import numpy as np
import pytest

from scrutiny.analysis.scores import ArmScores
from scrutiny.analysis.verdicts import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, _needed, evaluate
from scrutiny.spec.claim import Hypothesis, parse_hypothesis


def arm(name, scores, reported=None):
    x = np.asarray(scores, dtype=float)
    return ArmScores(
        name=name,
        label=name,
        spec_hash="h" + name,
        metric="final_test_acc",
        seeds=list(range(x.size)),
        scores=x,
        complete_seeds=list(range(x.size)),
        status={"complete": x.size},
        reported=reported,
    )


def hyp(text, **extra):
    return Hypothesis(**{**parse_hypothesis(text), **extra})


def test_greater_three_ways():
    arms = {
        "a": arm("a", [0.90, 0.91, 0.92]),
        "b": arm("b", [0.80, 0.81, 0.82]),
        "c": arm("c", [0.90, 0.905, 0.91]),
        "d": arm("d", [0.99, 0.98, 0.995]),
    }
    assert evaluate(hyp("a > b"), arms).verdict == REPRODUCED
    v = evaluate(hyp("a > c"), arms)
    assert v.verdict == INCONCLUSIVE and v.seeds_needed is not None and v.seeds_needed > 3
    assert evaluate(hyp("a > d"), arms).verdict == NOT_REPRODUCED
    assert evaluate(hyp("a > b + 0.2"), arms).verdict == NOT_REPRODUCED  # margin larger than the gap
    # the estimate is a - b, with Welch's interval: here both sd = 0.01, n = 3: se = 0.01*sqrt(2/3), df = 4
    v = evaluate(hyp("a > b"), arms)
    assert v.estimate == pytest.approx(0.1)
    assert v.high - v.estimate == pytest.approx(2.7764451 * 0.01 * np.sqrt(2 / 3), rel=1e-6)


def test_lower_is_better_flips_the_direction():
    arms = {"a": arm("a", [0.10, 0.11, 0.12]), "b": arm("b", [0.20, 0.21, 0.22])}
    assert evaluate(hyp("a > b"), arms, higher_is_better=False).verdict == REPRODUCED
    assert evaluate(hyp("a > b"), arms, higher_is_better=True).verdict == NOT_REPRODUCED


def test_matches_reported():
    rep = {"value": 0.90, "pm": None}
    close = {"a": arm("a", [0.899, 0.900, 0.901], rep)}
    v = evaluate(hyp("a ≈ reported ± 0.01"), close)
    assert v.verdict == REPRODUCED and v.details["reported_in_interval"] is True
    far = {"a": arm("a", [0.85, 0.851, 0.852], rep)}
    v = evaluate(hyp("a ≈ reported ± 0.01"), far)
    assert v.verdict == NOT_REPRODUCED
    assert v.details["gap_in_sd"] == pytest.approx((0.851 - 0.90) / 0.001)
    wide = {"a": arm("a", [0.86, 0.90, 0.94], rep)}
    v = evaluate(hyp("a ≈ reported ± 0.01"), wide)
    assert v.verdict == INCONCLUSIVE and v.seeds_needed > 3


def test_equivalence():
    arms = {
        "a": arm("a", [0.900, 0.901, 0.902]),
        "b": arm("b", [0.9005, 0.9015, 0.9025]),
        "c": arm("c", [0.95, 0.951, 0.952]),
    }
    assert evaluate(hyp("|a - b| < 0.01"), arms).verdict == REPRODUCED
    assert evaluate(hyp("|a - c| < 0.01"), arms).verdict == NOT_REPRODUCED


def test_too_few_seeds_and_flat_arms():
    arms = {
        "a": arm("a", [0.9]),
        "b": arm("b", [0.8, 0.81]),
        "one": arm("one", [1.0, 1.0, 1.0]),
        "zero": arm("zero", [0.0, 0.0, 0.0]),
    }
    v = evaluate(hyp("a > b"), arms)
    assert v.verdict == INCONCLUSIVE and "fewer than 2 complete seeds in a" in v.reason
    v = evaluate(hyp("one > zero"), arms)  # no seed-to-seed variation: the interval is the point
    assert v.verdict == REPRODUCED and (v.low, v.high) == (1.0, 1.0)


def test_seeds_needed_is_the_smallest_n_that_resolves():
    # With sd = 1 and a distance of 1 to the bound, two arms: the t-interval half-width t*sqrt(2/n) < 1.
    from scipy.stats import t

    n = _needed(1.0, 1.0, two_arms=True)
    assert t.ppf(0.975, 2 * (n - 1)) * np.sqrt(2 / n) < 1 <= t.ppf(0.975, 2 * (n - 2)) * np.sqrt(2 / (n - 1))
    assert _needed(0.0, 1.0, True) is None


def test_hypothesis_strings():
    assert parse_hypothesis("a > b") == {"kind": "greater", "a": "a", "b": "b", "margin": 0.0}
    assert parse_hypothesis("a < b + 0.5")["a"] == "b"
    assert parse_hypothesis("x ≈ reported ± 0.02") == {"kind": "matches_reported", "a": "x", "tol": 0.02}
    assert parse_hypothesis("x ~= reported +- 0.02")["tol"] == 0.02
    assert parse_hypothesis("|x - y| < 0.005") == {"kind": "equivalent", "a": "x", "b": "y", "delta": 0.005}
    with pytest.raises(ValueError, match="cannot read hypothesis"):
        parse_hypothesis("x is better")


def test_a_hypothesis_can_use_another_metric_and_direction():
    a, b = arm("a", [0.5, 0.6, 0.7]), arm("b", [0.5, 0.6, 0.7])
    a.others["final_test_dist"] = np.array([0.10, 0.12, 0.11])  # pixels: lower is better
    b.others["final_test_dist"] = np.array([3.0, 3.2, 2.9])
    h = hyp("a > b", metric="final_test_dist", higher_is_better=False)
    v = evaluate(h, {"a": a, "b": b}, higher_is_better=True)
    assert v.verdict == REPRODUCED and v.metric == "final_test_dist"
    assert v.estimate == pytest.approx(np.mean([3.0, 3.2, 2.9]) - 0.11)
    from scrutiny.errors import ScrutinyError

    with pytest.raises(ScrutinyError, match="has no 'final_test_iou'"):
        evaluate(hyp("a > b", metric="final_test_iou"), {"a": a, "b": b})


def test_bound_and_literal_targets():
    arms = {"a": arm("a", [1.9, 2.0, 2.1]), "b": arm("b", [0.1, 0.1, 0.1])}
    assert evaluate(hyp("a ≈ 2.0 ± 0.5"), arms).verdict == REPRODUCED
    assert evaluate(hyp("a ≈ 3.0 ± 0.1"), arms).verdict == NOT_REPRODUCED
    assert evaluate(hyp("a > 1.5"), arms).verdict == REPRODUCED
    assert evaluate(hyp("a < 1.5"), arms).verdict == NOT_REPRODUCED
    v = evaluate(hyp("a > 2.0"), arms)
    assert v.verdict == INCONCLUSIVE and v.seeds_needed is None  # the mean sits on the bound: no n resolves it
    assert evaluate(hyp("b < 0.2"), arms).verdict == REPRODUCED  # all seeds equal: the point decides
    # a bound is literal, whatever the metric's direction
    assert evaluate(hyp("a > 1.5"), arms, higher_is_better=False).verdict == REPRODUCED


def test_two_metrics_of_one_arm_are_paired_by_seed():
    a = arm("a", [0.5, 0.6, 0.7, 0.8])
    a.others["other"] = a.scores - [0.01, 0.012, 0.009, 0.011]  # always a little lower, by seed
    v = evaluate(hyp("a > a[other]", metric="final_test_acc"), {"a": a})
    assert v.verdict == REPRODUCED and v.test.startswith("paired")
    from scipy import stats

    d = a.scores - a.others["other"]
    half = stats.t.ppf(0.975, 3) * d.std(ddof=1) / 2
    assert v.low == pytest.approx(d.mean() - half) and v.high == pytest.approx(d.mean() + half)
    # unpaired, the spread across seeds would swamp the difference
    b = arm("b", a.others["other"])
    assert evaluate(hyp("a > b"), {"a": a, "b": b}).verdict == INCONCLUSIVE


def test_grammar_round_trips_through_text():
    for text in ["a > b", "a[m] > 0.5", "a[m] < -1", "a[m] ≈ 2 ± 0.2", "|a[m] - b[m2]| < 0.1", "a[x] > a[y] + 0.01"]:
        assert hyp(text).text() == text


def test_a_single_trial_with_its_own_interval_is_decided_on_it():
    one = arm("w", [0.2285])
    assert evaluate(hyp("w[final_test_acc] < 0.25"), {"w": one}).verdict == INCONCLUSIVE  # no interval: 1 seed
    one.others["final_test_acc_low"] = np.array([0.2248])
    one.others["final_test_acc_high"] = np.array([0.2322])
    v = evaluate(hyp("w[final_test_acc] < 0.25"), {"w": one})
    assert v.verdict == REPRODUCED and (v.low, v.high) == (0.2248, 0.2322) and v.test.startswith("one trial")
    assert evaluate(hyp("w[final_test_acc] ≈ 0.2285 ± 0.005"), {"w": one}).verdict == REPRODUCED
    assert evaluate(hyp("w[final_test_acc] ≈ 0.2274 ± 0.001"), {"w": one}).verdict == INCONCLUSIVE
    # two-arm comparisons still need seeds
    assert evaluate(hyp("w > w2"), {"w": one, "w2": arm("w2", [0.3])}).verdict == INCONCLUSIVE


def test_an_arm_without_complete_trials_is_inconclusive_on_any_metric():
    empty = arm("e", [])
    v = evaluate(hyp("e[some_probe_field] > 0.5"), {"e": empty})
    assert v.verdict == INCONCLUSIVE and "fewer than 2 complete seeds" in v.reason
