"""The verdict rules: literal hypotheses, one-sided tests, exact tests for ties, failures, ranges, seeds needed."""

import numpy as np
import pytest
from scipy import stats

from scrutiny.analysis.scores import ArmScores
from scrutiny.analysis.verdicts import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Rules, evaluate, evaluate_family
from scrutiny.spec.claim import Hypothesis, parse_hypothesis


def arm(name, scores, reported=None, metric="final_test_acc", status=None):
    x = np.asarray(scores, dtype=float)
    seeds = list(range(x.size))
    seed_status = {s: "complete" for s in seeds}
    for extra, st in enumerate(status or [], start=x.size):
        seed_status[extra] = st
    return ArmScores(
        name=name,
        label=name,
        spec_hash="h" + name,
        metric=metric,
        seeds=list(seed_status),
        scores=x,
        complete_seeds=seeds,
        status={"complete": x.size},
        reported=reported,
        seed_status=seed_status,
    )


def hyp(text, **extra):
    return Hypothesis(**{**parse_hypothesis(text), **extra})


def test_a_less_than_b_plus_margin_is_read_literally():
    # the example: 0.61 < 0.41 + 0.5 is true, and was NOT REPRODUCED when the parser swapped the sides
    arms = {"a": arm("a", [0.60, 0.61, 0.62]), "b": arm("b", [0.40, 0.41, 0.42])}
    v = evaluate(hyp("a < b + 0.5"), arms)
    assert v.verdict == REPRODUCED and v.estimate == pytest.approx(0.2)
    expected = stats.ttest_ind(
        np.array([0.60, 0.61, 0.62]) - 0.5, [0.40, 0.41, 0.42], equal_var=False, alternative="less"
    ).pvalue
    assert v.p_value == pytest.approx(expected)
    assert evaluate(hyp("a < b"), arms).verdict == NOT_REPRODUCED
    assert evaluate(hyp("a > b - 0.01"), arms).verdict == REPRODUCED  # non-inferiority
    assert evaluate(hyp("a > b + 0.3"), arms).verdict == NOT_REPRODUCED


def test_two_metrics_are_compared_as_written_whatever_the_claims_direction():
    # the README's example in a lower-is-better claim: ten_acc 0.81 > single_acc 0.71 is true
    r = arm("r50", [0.2, 0.21, 0.19, 0.2], metric="top1_err")
    r.others["ten_acc"] = np.array([0.81, 0.80, 0.82, 0.815])
    r.others["single_acc"] = np.array([0.71, 0.705, 0.715, 0.70])
    for better in (True, False):
        v = evaluate(hyp("r50[ten_acc] > r50[single_acc]"), {"r50": r}, higher_is_better=better)
        assert v.verdict == REPRODUCED and v.test.startswith("paired t")
        d = r.others["ten_acc"] - r.others["single_acc"]
        assert v.p_value == pytest.approx(stats.ttest_1samp(d, 0, alternative="greater").pvalue)


def test_old_direction_flag_is_refused_with_advice():
    with pytest.raises(ValueError, match="means what it says"):
        Hypothesis(kind="compare", a="a", b="b", higher_is_better=False)


def test_tied_seeds_are_decided_by_the_exact_test_not_a_zero_width_interval():
    arms = {"c": arm("c", [1.0, 1.0, 1.0]), "d": arm("d", [0.0, 0.0, 0.0])}
    v = evaluate(hyp("c > d"), arms)
    ref = stats.permutation_test(
        ([1.0] * 3, [0.0] * 3),
        lambda x, y: np.mean(x) - np.mean(y),
        permutation_type="independent",
        alternative="greater",
    ).pvalue
    assert v.p_value == pytest.approx(ref) == pytest.approx(0.05)
    assert v.low is None and v.high is None and v.min_p == pytest.approx(0.05)
    assert v.verdict == REPRODUCED  # alone, p = 0.05 <= 0.05 is a valid exact rejection
    # in a family of 9, 3 vs 3 tied seeds can never reach Holm's first level 0.05 / 9
    family = [hyp("c > d")] + [hyp(f"c > d - 0.{k}") for k in range(1, 9)]
    verdicts = evaluate_family(family, arms, Rules())
    assert all(x.verdict == INCONCLUSIVE for x in verdicts)
    assert "3 vs 3 seeds with tied scores cannot reach p ≤ 0.00556" in verdicts[0].reason
    assert verdicts[0].seeds_needed == 5  # 1 / C(10, 5) = 0.004 <= 0.0056 first at 5 per arm


def test_holm_adjusts_the_family_and_exploratory_hypotheses_stand_apart():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(3)
    arms = {f"x{i}": arm(f"x{i}", rng.normal(0.5 + 0.01 * i, 0.02, 5)) for i in range(5)}
    family = [hyp(f"x{i} > x0") for i in range(1, 5)]
    verdicts = evaluate_family([*family, hyp("x4 > x3", exploratory=True)], arms, Rules())
    raw = [v.p_value for v in verdicts[:4]]
    assert [v.p_adjusted for v in verdicts[:4]] == pytest.approx(list(multipletests(raw, method="holm")[1]))
    assert all(v.family_size == 4 for v in verdicts[:4])
    assert verdicts[4].exploratory and verdicts[4].p_adjusted == verdicts[4].p_value
    bonf = evaluate_family(family, arms, Rules(multiplicity="bonferroni"))
    assert [v.p_adjusted for v in bonf] == pytest.approx(list(multipletests(raw, method="bonferroni")[1]))


def test_equivalence_and_matches_use_two_one_sided_tests():
    arms = {"a": arm("a", [0.900, 0.905, 0.910]), "b": arm("b", [0.899, 0.904, 0.912])}
    v = evaluate(hyp("|a - b| < 0.02"), arms)
    x, y = np.array([0.900, 0.905, 0.910]), np.array([0.899, 0.904, 0.912])
    p_lo = stats.ttest_ind(x + 0.02, y, equal_var=False, alternative="greater").pvalue
    p_hi = stats.ttest_ind(x - 0.02, y, equal_var=False, alternative="less").pvalue
    assert v.verdict == REPRODUCED and v.p_value == pytest.approx(max(p_lo, p_hi))
    assert evaluate(hyp("|a - b| < 0.0001"), arms).verdict == INCONCLUSIVE


def test_a_published_single_run_is_compared_with_the_distribution_of_our_runs():
    scores = [0.899, 0.900, 0.901, 0.902, 0.898]
    one_run = {"a": arm("a", scores, reported={"value": 0.90, "pm": None, "runs": 1})}
    many = {"a": arm("a", scores, reported={"value": 0.90, "pm": None, "runs": 1000})}
    v1, vk = evaluate(hyp("a ≈ reported ± 0.003"), one_run), evaluate(hyp("a ≈ reported ± 0.003"), many)
    sd = np.std(scores, ddof=1)
    assert v1.high - v1.estimate == pytest.approx(stats.t.ppf(0.975, 4) * sd * np.sqrt(1 / 5 + 1), rel=1e-6)
    assert vk.high - vk.estimate < v1.high - v1.estimate
    assert v1.verdict == INCONCLUSIVE and vk.verdict == REPRODUCED
    assert "prediction for 1 published run" in v1.test


def test_failed_and_diverged_seeds_count():
    good = arm("good", [0.80, 0.81, 0.82, 0.80, 0.81])
    flaky = arm("flaky", [0.95, 0.96], status=["diverged", "diverged", "diverged"])
    v = evaluate(hyp("flaky > good"), {"flaky": flaky, "good": good})
    assert "3 of 5 diverged (scored 0, the worst value)" in v.reason
    assert v.n_a == 5 and v.verdict != REPRODUCED
    v = evaluate(hyp("flaky > good"), {"flaky": flaky, "good": good}, diverged="exclude")
    assert "3 of 5 diverged (excluded)" in v.reason and v.n_a == 2
    v = evaluate(hyp("flaky > good"), {"flaky": flaky, "good": good}, diverged="inconclusive")
    assert v.verdict == INCONCLUSIVE and "failed_seeds.diverged is 'inconclusive'" in v.reason
    crashed = arm("crashed", [0.95, 0.96, 0.97], status=["failed"])
    v = evaluate(hyp("crashed > good"), {"crashed": crashed, "good": good})
    assert v.verdict == INCONCLUSIVE and "1 of 4 seeds of crashed failed" in v.reason
    v = evaluate(hyp("good > 0.5"), {"good": good})
    assert "0 of 5 seeds failed or diverged" in v.reason
    # a metric without a known range cannot be scored "worst"
    loss = arm("loss", [0.1, 0.2], metric="final_test_widget", status=["diverged"])
    v = evaluate(hyp("loss < 1"), {"loss": loss})
    assert v.verdict == INCONCLUSIVE and "cannot be scored 'worst'" in v.reason


def test_intervals_stay_inside_the_possible_range():
    v = evaluate(hyp("a > 0.5"), {"a": arm("a", [0.95, 0.97, 0.999])})
    assert v.high == 1.0 and v.low > 0.5
    rho = arm("r", [-0.95, -0.5, -0.99], metric="ekld_spearman")
    v = evaluate(hyp("r < 0"), {"r": rho})
    assert v.low == -1.0


def test_seeds_needed_is_80_percent_power_at_the_family_level():
    from scrutiny.stats.planning import one_sided_power

    arms = {"a": arm("a", [0.90, 0.91, 0.92]), "c": arm("c", [0.895, 0.905, 0.915])}
    v = evaluate(hyp("a > c"), arms)
    assert v.verdict == INCONCLUSIVE
    n, sd, eff = v.seeds_needed, v.details["sd"], v.estimate
    assert one_sided_power(n, eff, sd, 0.05) >= 0.8 > one_sided_power(n - 1, eff, sd, 0.05)


def test_best_on_test_fields_carry_a_warning():
    a = arm("a", [0.9, 0.91, 0.92])
    a.others["best_test_acc"] = np.array([0.93, 0.94, 0.95])
    a.selected_on_test = ("best_test_acc",)
    v = evaluate(hyp("a[best_test_acc] > 0.5"), {"a": a})
    assert v.warnings and "selected on the test split" in v.warnings[0]
    assert not evaluate(hyp("a > 0.5"), {"a": a}).warnings


def test_test_set_sampling_widens_a_perfect_score():
    a = arm("a", [1.0, 1.0, 1.0])
    assert evaluate(hyp("a > 0.98"), {"a": a}).verdict == INCONCLUSIVE  # tied: sign flips reach only 0.125
    a.outcomes = np.ones((3, 100))
    v = evaluate(hyp("a > 0.98"), {"a": a})
    var = np.concatenate([np.ones(100), [1, 1, 0, 0]]).var(ddof=1) / 100
    assert v.details["test_set_variance"] == pytest.approx(var)
    assert v.low == pytest.approx(1 - stats.t.ppf(0.975, 99) * np.sqrt(var))
    assert v.verdict == INCONCLUSIVE  # Clopper–Pearson agrees: 100 of 100 gives a one-sided 95% lower bound of 0.9705
    a.outcomes = np.ones((3, 10_000))
    assert evaluate(hyp("a > 0.98"), {"a": a}).verdict == REPRODUCED


def test_a_single_trial_with_its_own_interval_is_decided_on_it():
    one = arm("w", [0.2285])
    assert evaluate(hyp("w[final_test_acc] < 0.25"), {"w": one}).verdict == INCONCLUSIVE
    one.others["final_test_acc_low"] = np.array([0.2248])
    one.others["final_test_acc_high"] = np.array([0.2322])
    v = evaluate(hyp("w[final_test_acc] < 0.25"), {"w": one})
    assert v.verdict == REPRODUCED and v.test.startswith("one trial")
    assert (v.low, v.high) == pytest.approx((0.2248, 0.2322))
    assert evaluate(hyp("w[final_test_acc] ≈ 0.2274 ± 0.001"), {"w": one}).verdict == INCONCLUSIVE
    assert evaluate(hyp("w > w2"), {"w": one, "w2": arm("w2", [0.3])}).verdict == INCONCLUSIVE


def test_an_arm_without_complete_trials_is_inconclusive_on_any_metric():
    v = evaluate(hyp("e[some_probe_field] > 0.5"), {"e": arm("e", [])})
    assert v.verdict == INCONCLUSIVE and "fewer than 2 usable seeds" in v.reason


def test_hypothesis_strings():
    assert parse_hypothesis("a > b") == {"kind": "compare", "a": "a", "b": "b", "op": ">", "margin": 0.0}
    assert parse_hypothesis("a < b + 0.5") == {"kind": "compare", "a": "a", "b": "b", "op": "<", "margin": 0.5}
    assert parse_hypothesis("a > b - 0.01")["margin"] == -0.01
    assert parse_hypothesis("x ≈ reported ± 0.02") == {"kind": "matches_reported", "a": "x", "tol": 0.02}
    assert parse_hypothesis("x ~= reported +- 0.02")["tol"] == 0.02
    assert parse_hypothesis("|x - y| < 0.005") == {"kind": "equivalent", "a": "x", "b": "y", "delta": 0.005}
    for bad in ["x is better", "a >> b", "a > b c", "a" * 401]:
        with pytest.raises(ValueError):
            parse_hypothesis(bad)


def test_grammar_round_trips_through_text():
    for text in [
        "a > b",
        "a < b + 0.5",
        "a > b - 0.01",
        "a[m] > 0.5",
        "a[m] < -1",
        "a[m] ≈ 2 ± 0.2",
        "|a[m] - b[m2]| < 0.1",
        "a[x] > a[y] + 0.01",
    ]:
        assert hyp(text).text() == text


def test_parsing_is_linear_in_the_input():
    import time

    start = time.perf_counter()
    for n in (100, 200, 399):
        for text in ("a" * n, "a[" + "b" * (n - 3) + "]", " " * n + "a >", "|" + "a -" * (n // 3)):
            with pytest.raises(ValueError):
                parse_hypothesis(text)
    assert time.perf_counter() - start < 1.0  # generous: the old regex took seconds on 40 KB
