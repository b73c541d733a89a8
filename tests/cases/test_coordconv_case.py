"""The CoordConv case at its smoke scale, end to end through the claims machinery."""

import pytest

from scrutiny.analysis.check import check_claim, plan_claim
from scrutiny.cases import case_claim, case_names
from scrutiny.spec.claim import arm_specs, load_claim
from scrutiny.store import Store


def test_the_case_is_listed_and_its_scales_resolve():
    assert "coordconv" in case_names()
    path = case_claim("coordconv")
    claim = load_claim(path)
    assert set(claim.scales) == {"smoke", "cpu", "paper"} and claim.default_scale == "cpu"
    cpu = arm_specs(claim, path, "cpu")
    assert {s.data.model_dump()["canvas"] for s in cpu.values()} == {32}
    paper = arm_specs(claim, path, "paper")
    assert paper["conv_quadrant"].train.epochs == 1000 and paper["coordconv_quadrant"].train.epochs == 50
    assert paper["coordconv_quadrant"].data.model_dump()["canvas"] == 64


def test_smoke_scale_end_to_end(tmp_path):
    store = Store(tmp_path / "runs")
    plan = plan_claim(case_claim("coordconv"), "smoke", store)
    assert len(plan.trials) == 12
    result = check_claim(plan, store, threads=1)
    assert all(arm.n == 2 for arm in result.arms.values())
    assert len(result.verdicts) == 6
    assert result.verdicts[-1].metric == "final_test_dist"
    # The baseline cannot predict a class it never saw in training: 0% on the held-out quadrant, on every seed.
    assert result.arms["conv_quadrant"].scores.tolist() == [0.0, 0.0]
    assert result.arms["coordconv_quadrant"].n_params == 7553
    assert result.arms["conv_quadrant"].n_params > result.arms["coordconv_quadrant"].n_params  # far fewer parameters
    costs = result.costs()
    assert all(costs[arm]["flops_per_train_step"] > 0 for arm in ("conv_quadrant", "coordconv_quadrant"))


@pytest.mark.parametrize("scale", ["smoke", "cpu", "paper"])
def test_every_scale_is_a_valid_plan(tmp_path, scale):
    plan = plan_claim(case_claim("coordconv"), scale, Store(tmp_path))
    assert len(plan.seeds) >= (2 if scale == "smoke" else 3)
