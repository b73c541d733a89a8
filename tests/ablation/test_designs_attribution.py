"""Designs and attribution on synthetic score functions whose true contributions are known."""

import itertools

import numpy as np
import pytest

from scrutiny.ablation import attribute, make_factors, plan_design
from scrutiny.errors import ScrutinyError
from scrutiny.spec import ABSENT, Difference

TRUE = {"x": 0.10, "y": 0.05, "z": -0.02}
NOISE = np.array([0.0, 0.01, -0.01, 0.02])  # a per-seed offset shared by every arm


def scores(plan, interaction=0.0):
    def v(arm):
        return sum(TRUE[f] for f in arm) + (interaction if {"x", "y"} <= arm else 0.0)

    return {arm: 0.5 + v(arm) + NOISE for arm in plan.arms}


def estimates(result):
    return {e.name: e.estimate for e in result.effects}


@pytest.mark.parametrize("design", ["one-at-a-time", "leave-one-out", "factorial", "shapley"])
def test_additive_function_every_design_recovers_the_true_contributions(design):
    plan = plan_design(design, list(TRUE))
    result = attribute(plan, scores(plan), reps=500)
    assert estimates(result) == pytest.approx(TRUE)
    assert result.gap.estimate == pytest.approx(sum(TRUE.values()))
    assert result.a.estimate == pytest.approx(0.5 + NOISE.mean())
    if result.residual is not None:
        assert result.residual.estimate == pytest.approx(0.0, abs=1e-12)
    for e in result.effects:  # the seed offset cancels in every contrast: a zero-width interval
        assert e.low == pytest.approx(e.estimate) and e.high == pytest.approx(e.estimate)


def test_an_interaction_is_split_equally_by_shapley_and_missed_by_single_switches():
    k = 0.06
    exact = plan_design("shapley", list(TRUE))
    sh = attribute(exact, scores(exact, k), reps=500)
    assert estimates(sh) == pytest.approx({"x": 0.10 + k / 2, "y": 0.05 + k / 2, "z": -0.02})
    assert sum(estimates(sh).values()) == pytest.approx(sh.gap.estimate)
    assert {e.name: e.estimate for e in sh.interactions} == pytest.approx({"x × y": k, "x × z": 0, "y × z": 0})

    oat_plan = plan_design("one-at-a-time", list(TRUE))
    oat = attribute(oat_plan, scores(oat_plan, k), reps=500)
    assert estimates(oat) == pytest.approx(TRUE)
    assert oat.residual.estimate == pytest.approx(k)
    loo_plan = plan_design("leave-one-out", list(TRUE))
    loo = attribute(loo_plan, scores(loo_plan, k), reps=500)
    assert estimates(loo) == pytest.approx({"x": 0.10 + k, "y": 0.05 + k, "z": -0.02})
    assert loo.residual.estimate == pytest.approx(-k)

    fac_plan = plan_design("factorial", list(TRUE))
    fac = attribute(fac_plan, scores(fac_plan, k), reps=500)
    assert [e.estimate for e in fac.shapley] == pytest.approx([e.estimate for e in sh.effects])


def test_sampled_shapley_sums_to_the_gap_is_seeded_and_converges():
    k = 0.06
    plan = plan_design("shapley", list(TRUE), permutations=7, seed=3)
    assert not plan.exact and len(plan.orders) == 7
    result = attribute(plan, scores(plan, k), reps=500)
    assert sum(estimates(result).values()) == pytest.approx(result.gap.estimate)
    assert plan_design("shapley", list(TRUE), permutations=7, seed=3).orders == plan.orders
    big = plan_design("shapley", list(TRUE), permutations=600, seed=0)
    assert estimates(attribute(big, scores(big, k), reps=200))["x"] == pytest.approx(0.13, abs=0.005)
    # every order once (a balanced sample) gives the exact values
    orders = tuple(itertools.permutations(TRUE))
    full = plan_design("factorial", list(TRUE))
    balanced = type(full)("shapley", full.factors, full.arms, orders, exact=False)
    assert estimates(attribute(balanced, scores(balanced, k), reps=200))["x"] == pytest.approx(0.13)


def test_bootstrap_interval_reflects_seed_noise_and_needs_two_seeds():
    plan = plan_design("one-at-a-time", ["x"])
    rng = np.random.default_rng(0)
    noisy = {arm: 0.5 + 0.1 * len(arm) + rng.normal(0, 0.02, 8) for arm in plan.arms}
    e = attribute(plan, noisy, reps=2000, seed=1).effects[0]
    assert e.low < e.estimate < e.high and e.high - e.low > 0.005
    one = attribute(plan, {arm: v[:1] for arm, v in noisy.items()})
    assert one.effects[0].low is None and one.gap.high is None


def test_arm_counts_and_bounds():
    f = ["a", "b", "c", "d"]
    assert len(plan_design("one-at-a-time", f).arms) == 6
    assert len(plan_design("leave-one-out", f).arms) == 6
    assert len(plan_design("factorial", f).arms) == 16
    plan = plan_design("factorial", f)
    assert plan.arms[0] == frozenset() and plan.arms[1] == frozenset(f)
    with pytest.raises(ScrutinyError, match="^max_factorial: design factorial over 4 factors"):
        plan_design("factorial", f, max_factorial=3)
    assert len(plan_design("shapley", f, max_factorial=3, force=True).arms) == 16
    with pytest.raises(ScrutinyError, match="^seed: required with permutations"):
        plan_design("shapley", f, permutations=3)
    with pytest.raises(ScrutinyError, match="no gap"):
        plan_design("factorial", [])
    with pytest.raises(ScrutinyError, match="^design: expected one of"):
        plan_design("anova", f)
    with pytest.raises(ScrutinyError, match="no scores"):
        attribute(plan, {frozenset(): [1.0]})


def test_factors_groups_prefixes_and_coupled_absent_keys():
    diffs = [
        Difference("model.name", "small_cnn", "pnn_resnet18"),
        Difference("model.nfilters", ABSENT, 64),
        Difference("model.width", 32, ABSENT),
        Difference("optim.betas", [0.9, 0.99], [0.9, 0.999]),
        Difference("optim.lr", 0.1, 0.01),
        Difference("optim.name", "sgd", "adam"),
    ]
    factors = {f.name: f.keys for f in make_factors(diffs, {"optimizer": ["optim.name", "optim.betas"]})}
    assert factors == {
        "optimizer": ("optim.betas", "optim.name"),
        "model": ("model.name", "model.nfilters", "model.width"),
        "optim.lr": ("optim.lr",),
    }
    assert {f.name for f in make_factors(diffs, {"opt": ["optim"]})} == {"opt", "model"}
    with pytest.raises(ScrutinyError, match="not a differing key"):
        make_factors(diffs, {"g": ["train.epochs"]})
    with pytest.raises(ScrutinyError, match="already in group"):
        make_factors(diffs, {"g": ["optim.lr"], "h": ["optim"]})
