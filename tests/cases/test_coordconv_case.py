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
    assert len(plan.trials) == 18
    result = check_claim(plan, store, threads=1)
    assert all(arm.n == 2 for arm in result.arms.values())
    assert len(result.verdicts) == 10
    assert result.verdicts[5].metric == "final_test_dist"
    assert {v.metric for v in result.verdicts[6:]} == {"final_test_iou"}
    sections = {s.name: s for s in result.sections}
    assert list(sections) == ["threshold_counts", "handbuilt_network", "budget", "seeds_needed_table"]
    counts = sections["threshold_counts"].data
    assert set(counts) == {"coordconv_quadrant", "coordconv_uniform"}
    assert counts["coordconv_quadrant"]["reached"] == int((result.arms["coordconv_quadrant"].scores >= 1.0).sum())
    hand = sections["handbuilt_network"]
    assert hand.verdict == "EXACT" and hand.data["canvas"] == 16
    assert hand.data["locator"]["exact"] == hand.data["locator"]["positions"] == 256
    assert hand.data["locator"]["weights"] == 8 and hand.data["locator"]["invalid_inputs_rejected"] == "3/3"
    assert hand.data["classifier"]["exact"] == 256 and hand.data["classifier"]["weights"] == 7553
    published = {row[0]: row[1] for row in sections["budget"].tables[0].rows}
    assert published["paper, deconv classifier (per split)"] == 324
    assert published["paper, CoordConv classifier (per split)"] == 6
    runs = sections["seeds_needed_table"].data
    assert runs["difference"] == 0.04 and runs["runs"] == 5
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


def test_the_handbuilt_checks_fail_loudly_when_the_network_is_wrong(monkeypatch):
    """The section's EXACT verdict must depend on the network: break the locator's bias and it must say so."""
    import torch

    from scrutiny.analysis.sections import handbuilt_network as section
    from scrutiny.models import analytic

    good = section.check_locator(8, 8)
    assert good["exact"] == 64 and good["max_abs_error"] == 0.0

    class Broken(analytic.PiekniewskiLocator):
        def forward(self, onehot: torch.Tensor) -> torch.Tensor:
            return super().forward(onehot) + (onehot[:, 0, -1, -1:] * 1.0)  # wrong in the last corner only

    monkeypatch.setattr(analytic, "PiekniewskiLocator", Broken)
    bad = section.check_locator(8, 8)
    assert bad["exact"] == 63 and bad["max_abs_error"] == 1.0
