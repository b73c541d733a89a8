"""The CoordConv case at its smoke scale, end to end through the claims machinery."""

import pytest

from scrutiny.cases import case_claim, case_names
from scrutiny.spec.claim import arm_specs, claim_seeds, load_claim
from scrutiny.store import Store
from scrutiny.workflows.check import check_claim, plan_claim


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
    # every arm gets the same declared search, on a tuning seed that is no verdict seed, on a validation split
    assert claim.tuning.split == "val" and set(claim.tuning.configurations.values()) == {3}
    assert set(claim.tuning.configurations) == set(claim.arms)
    assert min(claim_seeds(claim, "cpu")) >= 1000
    bound = [h for h in claim.hypotheses if h.kind == "bound" and h.a == "conv_uniform"]
    assert len(bound) == 1 and bound[0].scales == ("paper",) and bound[0].value == 0.865


def test_smoke_scale_end_to_end(tmp_path):
    store = Store(tmp_path / "runs")
    plan = plan_claim(case_claim("coordconv"), "smoke", store)
    assert len(plan.trials) == 18
    result = check_claim(plan, store, threads=1)
    assert all(arm.n == 2 for arm in result.arms.values())
    assert len(result.verdicts) == 10  # the paper-scale bound on the baseline's 86% is not tested here
    assert result.verdicts[5].metric == "final_test_dist"
    assert {v.metric for v in result.verdicts[6:]} == {"final_test_iou"}
    # the baseline's ≈ 0% on the held-out quadrant is true by construction: outside the family
    setup = [v for v in result.verdicts if v.exploratory]
    assert [v.a for v in setup] == ["conv_quadrant"] and result.rules()["family_size"] == 9
    # fixed smoke data (seeds 0-1, 2 epochs on 16×16): direction and size of two verdicts' estimates
    reg = result.verdicts[5]
    assert reg.estimate == pytest.approx(-2.1943, abs=1e-3) and reg.low < reg.estimate < 0 < reg.high
    assert reg.verdict == "INCONCLUSIVE"
    uniform = result.verdicts[1]
    assert uniform.estimate == pytest.approx(1 / 92, abs=1e-9) and uniform.verdict == "INCONCLUSIVE"
    sections = {s.name: s for s in result.sections}
    assert list(sections) == ["threshold_counts", "metrics_table", "handbuilt_network", "budget", "seeds_needed_table"]
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

    from scrutiny.models import analytic
    from scrutiny.workflows import sections as section

    good = section.check_locator(8, 8)
    assert good["exact"] == 64 and good["max_abs_error"] == 0.0

    class Broken(analytic.PiekniewskiLocator):
        def forward(self, onehot: torch.Tensor) -> torch.Tensor:
            return super().forward(onehot) + (onehot[:, 0, -1, -1:] * 1.0)  # wrong in the last corner only

    monkeypatch.setattr(analytic, "PiekniewskiLocator", Broken)
    bad = section.check_locator(8, 8)
    assert bad["exact"] == 63 and bad["max_abs_error"] == 1.0


def test_the_validation_splits_keep_the_test_set_and_carve_val_from_training():
    import torch

    from scrutiny.data.not_so_clevr import not_so_clevr

    for split in ("uniform", "quadrant"):
        plain = not_so_clevr(split=split, canvas=32, square=5)
        carved = not_so_clevr(split=f"{split}_val", canvas=32, square=5)
        assert set(plain.splits) == {"train", "test"} and set(carved.splits) == {"train", "val", "test"}
        assert torch.equal(plain.splits["test"].tensors[0], carved.splits["test"].tensors[0])
        train = {tuple(x.tolist()) for x in plain.splits["train"].tensors[0]}
        new_train = {tuple(x.tolist()) for x in carved.splits["train"].tensors[0]}
        val = {tuple(x.tolist()) for x in carved.splits["val"].tensors[0]}
        assert not new_train & val and new_train | val == train
        assert 0.15 < len(val) / len(train) < 0.25 and carved.info["n_val"] == len(val)
