"""Properties of the verdict rules: literal reading (property-based) and family-wise error by simulation."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scrutiny.analysis.scores import ArmScores
from scrutiny.analysis.sequential import run_looks, schedule
from scrutiny.analysis.verdicts import NOT_REPRODUCED, REPRODUCED, Rules, evaluate, evaluate_family
from scrutiny.spec.claim import Hypothesis


def arm(name, scores, metric="final_test_acc", others=None):
    x = np.asarray(scores, dtype=float)
    seeds = list(range(x.size))
    return ArmScores(
        name=name,
        label=name,
        spec_hash=name,
        metric=metric,
        seeds=seeds,
        scores=x,
        complete_seeds=seeds,
        status={"complete": x.size},
        others=others or {},
        seed_status=dict.fromkeys(seeds, "complete"),
    )


@settings(derandomize=True, max_examples=150, deadline=None)
@given(
    mean_a=st.floats(-5, 5),
    gap=st.floats(0.5, 5),
    above=st.booleans(),
    op=st.sampled_from([">", "<"]),
    margin=st.floats(-2, 2),
    higher_is_better=st.booleans(),
    other_metric=st.booleans(),
)
def test_far_apart_samples_get_the_literal_answer(mean_a, gap, above, op, margin, higher_is_better, other_metric):
    """Whenever the true means are far apart relative to the noise, the verdict is the literal statement's truth."""
    rng = np.random.default_rng(0)
    mean_b = mean_a - margin + (gap if not above else -gap)  # mean_a - (mean_b + margin) = ±gap
    a = mean_a + rng.normal(0, 0.01, 6)
    b = mean_b + rng.normal(0, 0.01, 6)
    metric = "final_test_widget" if other_metric else "final_test_acc"
    arms = {"x": arm("x", a, others={metric: a}), "y": arm("y", b, others={metric: b})}
    h = Hypothesis(kind="compare", a="x", b="y", op=op, margin=margin, metric=metric)
    truth = (mean_a > mean_b + margin) if op == ">" else (mean_a < mean_b + margin)
    v = evaluate(h, arms, higher_is_better=higher_is_better)
    assert v.verdict == (REPRODUCED if truth else NOT_REPRODUCED)
    bound = Hypothesis(kind="bound", a="x", op=op, value=mean_a - gap if above else mean_a + gap, metric=metric)
    truth = (gap if above else -gap) > 0 if op == ">" else (gap if above else -gap) < 0
    assert evaluate(bound, arms, higher_is_better=higher_is_better).verdict == (REPRODUCED if truth else NOT_REPRODUCED)


def _null_family(rng, n, k=10):
    """k hypotheses 'xi > yi' whose arms have equal true means: every REPRODUCED is false."""
    arms, hyps = {}, []
    for i in range(k):
        arms[f"x{i}"] = arm(f"x{i}", rng.normal(0.7, 0.05, n))
        arms[f"y{i}"] = arm(f"y{i}", rng.normal(0.7, 0.05, n))
        hyps.append(Hypothesis(kind="compare", a=f"x{i}", b=f"y{i}"))
    return arms, hyps


def _mc_bound(alpha, reps):
    return alpha + 2 * np.sqrt(alpha * (1 - alpha) / reps)  # two Monte Carlo standard errors above α


def test_family_wise_error_is_controlled_under_each_multiplicity_option():
    rng = np.random.default_rng(20261130)
    reps = 200
    rates = {}
    for method in ("holm", "bonferroni", "none"):
        bad = 0
        for _ in range(reps):
            arms, hyps = _null_family(rng, 5)
            verdicts = evaluate_family(hyps, arms, Rules(multiplicity=method, details=False))
            bad += any(v.verdict == REPRODUCED for v in verdicts)
        rates[method] = bad / reps
    assert rates["holm"] <= _mc_bound(0.05, reps) and rates["bonferroni"] <= _mc_bound(0.05, reps)
    assert rates["none"] > 0.2  # without control, ten tests at 5% each: about 40% of claims have a false verdict


def test_family_wise_error_is_controlled_over_sequential_looks():
    rng = np.random.default_rng(7)
    reps = 200
    looks = schedule(5, 11, 2)  # 5, 7, 9, 11 seeds per arm: 4 looks
    assert looks == [5, 7, 9, 11]
    bad = 0
    for _ in range(reps):
        pool = {}
        hyps = []
        for i in range(10):
            pool[f"x{i}"] = rng.normal(0.7, 0.05, 11)
            pool[f"y{i}"] = rng.normal(0.7, 0.05, 11)
            hyps.append(Hypothesis(kind="compare", a=f"x{i}", b=f"y{i}"))

        def score_at(counts, pool=pool):
            return {name: arm(name, pool[name][: counts[name]]) for name in pool}

        verdicts, made, _ = run_looks(hyps, Rules(details=False), looks, score_at, list(pool))
        bad += any(v.verdict == REPRODUCED for v in verdicts)
    assert bad / reps <= _mc_bound(0.05, reps)


def test_sequential_looks_stop_when_everything_is_decided_and_record_where():
    pool = {"a": np.linspace(0.9, 0.91, 20), "b": np.linspace(0.5, 0.51, 20), "c": np.linspace(0.5, 0.6, 20)}

    def score_at(counts):
        return {name: arm(name, pool[name][: counts[name]]) for name in pool}

    hyps = [Hypothesis(kind="compare", a="a", b="b")]
    verdicts, made, arms = run_looks(hyps, Rules(), schedule(3, 20, 2), score_at, list(pool))
    assert verdicts[0].verdict == REPRODUCED and verdicts[0].decided_at == 3 and len(made) == 1
    assert arms["a"].n == 3
