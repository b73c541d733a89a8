"""``protocol_table``: one decision rule per number (the verdict engine's), and shared trials shown once."""

from types import SimpleNamespace

import numpy as np

from scrutiny.analysis.scores import ArmScores
from scrutiny.analysis.sections.protocol_table import protocol_table
from scrutiny.analysis.verdicts import Rules, evaluate_family
from scrutiny.spec.claim import Hypothesis

PUBLISHED = {"resnet50": {"single": [24.7, 7.8], "ten": [22.85, 6.71]}, "resnet101": {"single": [23.6, 7.1]}}


def _arm(name: str, spec_hash: str, others: dict[str, float]) -> ArmScores:
    fields = {k: np.array([v]) for k, v in others.items()}
    return ArmScores(
        name=name,
        label=name,
        spec_hash=spec_hash,
        metric="crops_single_top1_err",
        seeds=[0],
        scores=fields["crops_single_top1_err"],
        complete_seeds=[0],
        status={"complete": 1},
        others=fields,
        seed_status={0: "complete"},
    )


def _paper_arm(name: str, spec_hash: str = "h50") -> ArmScores:
    # one trial of fixed weights: the probe's own intervals over images (fields <metric>_low / _high)
    return _arm(
        name,
        spec_hash,
        {
            "crops_n": 50000.0,
            "crops_single_top1_err": 0.2480,
            "crops_single_top1_err_low": 0.2442,
            "crops_single_top1_err_high": 0.2518,
            "crops_single_top5_err": 0.078,
            "crops_ten_top1_err": 0.2400,
            "crops_ten_top1_err_low": 0.2363,
            "crops_ten_top1_err_high": 0.2437,
        },
    )


def test_at_the_paper_scale_the_match_column_is_the_engines_verdict_not_a_point_rule():
    arms = {"resnet50": _paper_arm("resnet50")}
    claim_h = [
        Hypothesis(kind="matches_reported", a="resnet50", metric="crops_single_top1_err", value=0.247, tol=0.005),
        Hypothesis(kind="matches_reported", a="resnet50", metric="crops_ten_top1_err", value=0.2285, tol=0.005),
    ]
    verdicts = evaluate_family(claim_h, arms, Rules(claim_metric="crops_single_top1_err"))
    # 24.80 [24.42, 25.18] inside 24.7 ± 0.5: REPRODUCED; 24.00 [23.63, 24.37] wholly above 22.85 + 0.5: NOT
    # REPRODUCED. A 0.3-point point rule would have said "yes" and "no" too, but for other reasons: here the
    # interval decides.
    result = SimpleNamespace(scale="paper", arms=arms, verdicts=verdicts, claim=None)
    section = protocol_table(result, None, published=PUBLISHED)
    rows = {r[1]: r for r in section.tables[0].rows}
    assert rows["1-crop"][9] == verdicts[0].verdict and rows["10-crop"][9] == verdicts[1].verdict
    assert [v.verdict for v in verdicts] == ["REPRODUCED", "NOT REPRODUCED"]
    assert rows["1-crop"][8] == 0.1 and rows["10-crop"][8] == 1.15
    assert section.verdict == "1/2 MATCH"
    half = 100 * 1.96 * (0.248 * 0.752 / 50000) ** 0.5  # one seed: the binomial interval over the images
    assert rows["1-crop"][4] == f"{24.8 - half:.2f} … {24.8 + half:.2f}"
    # a number no hypothesis covers gets no verdict unless the section is given a tolerance, and then it is
    # decided by the same engine on its own, and marked as such
    bare = SimpleNamespace(scale="paper", arms=arms, verdicts=[], claim=None)
    assert all(r[9] == "—" for r in protocol_table(bare, None, published=PUBLISHED).tables[0].rows)
    own = {r[1]: r[9] for r in protocol_table(bare, None, published=PUBLISHED, tol=0.5).tables[0].rows}
    assert own["10-crop"] == "NOT REPRODUCED (exploratory)"


def test_arms_with_the_same_trials_are_evaluated_once():
    arms = {"resnet50": _paper_arm("resnet50"), "resnet101": _paper_arm("resnet101")}
    result = SimpleNamespace(scale="cpu", arms=arms, verdicts=[], claim=None)
    section = protocol_table(result, None, published=PUBLISHED)
    rows = section.tables[0].rows
    assert [r[:2] for r in rows] == [
        ["resnet50", "1-crop"],
        ["resnet50", "10-crop"],
        ["resnet101", "same trials as resnet50"],
    ]
    assert section.data["resnet101"] == {"same_trials_as": "resnet50"} and section.verdict is None
    assert rows[0][6] == 24.7 and rows[0][8] is None  # published shown for context, not compared off the paper scale
