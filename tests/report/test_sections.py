"""Claim sections and the newer hypothesis forms, end to end on a tiny claim."""

import json

import pytest

from scrutiny.errors import SpecError
from scrutiny.report.render import write_report
from scrutiny.spec.claim import load_claim
from scrutiny.stats import seeds_needed, seeds_needed_t
from scrutiny.store import Store
from scrutiny.workflows.check import check_claim, plan_claim

SPEC = """
model: {name: small_cnn, width: 8}
data: {name: digits, batch_size: 64, eval_batch_size: 100}
optim: {name: sgd, lr: 0.1, momentum: 0.9}
train: {epochs: 1, device: cpu}
"""
CLAIM = """
title: sections
source: {paper: none}
seeds: 0-3
arms:
  wide: {spec: s.yaml, set: [model.width=12]}
  untrained: {spec: s.yaml, set: [train.epochs=0]}
  twin: {spec: s.yaml, set: [model.width=12]}
hypotheses:
  - wide > untrained
  - "wide[final_test_acc] > 0.1"
  - "untrained[final_test_acc] < 0.5"
  - "wide[best_test_acc] > wide[final_test_acc]"
  - "wide[final_test_acc] ≈ 0.9 ± 0.5"
sections:
  - {name: metrics_table, metrics: [final_test_acc, final_test_loss]}
  - {name: seeds_needed_table, difference: 0.0004, sds: [0.0005, 0.001], runs: 5}
  - {name: budget, published: [{who: paper, runs: 100, note: "grid search"}]}
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sections")
    (tmp / "s.yaml").write_text(SPEC)
    (tmp / "claim.yaml").write_text(CLAIM)
    store = Store(tmp / "runs")
    result = check_claim(plan_claim(tmp / "claim.yaml", "cpu", store), store, threads=1)
    return result, write_report(result, tmp / "report")


def test_new_hypothesis_forms_get_verdicts(report):
    result, _ = report
    v = {x.hypothesis: x for x in result.verdicts}
    from statsmodels.stats.multitest import multipletests

    family = [x for x in result.verdicts if x.p_adjusted is not None]
    holm = multipletests([x.p_value for x in family], method="holm")[1]
    assert [x.p_adjusted for x in family] == pytest.approx(list(holm))
    assert v["wide[final_test_acc] > 0.1"].verdict == "REPRODUCED"
    untrained = v["untrained[final_test_acc] < 0.5"]
    assert untrained.verdict == "REPRODUCED" and untrained.p_adjusted <= 0.05 and untrained.high < 0.5
    paired = v["wide[best_test_acc] > wide[final_test_acc]"]
    # one epoch: best == final on every seed, so the paired difference is exactly 0: no evidence either way
    assert paired.estimate == 0.0 and paired.verdict == "INCONCLUSIVE" and paired.low is None
    assert "4 seeds with tied scores cannot reach p ≤ 0.01" in paired.reason
    assert any("selected on the test split" in w for w in paired.warnings)
    assert v["wide[final_test_acc] ≈ 0.9 ± 0.5"].bound == (0.4, 1.4)


def test_sections_render_in_every_output(report):
    result, paths = report
    assert [s.name for s in result.sections] == ["metrics_table", "seeds_needed_table", "budget"]
    data = json.loads(paths["results.json"].read_text())
    table = data["sections"][1]["tables"][0]
    assert table["rows"][0][1:3] == [seeds_needed(0.0004, 0.0005), seeds_needed_t(0.0004, 0.0005)]
    assert data["sections"][2]["tables"][0]["rows"] == [["paper", 100, "grid search"]]
    ours = {row[0]: row for row in data["sections"][2]["tables"][1]["rows"]}
    assert ours["wide"][2] == 4 and ours["wide"][3] == 4 * result.arms["wide"].train_steps
    assert ours["twin"][2:] == ["same trials as wide", None, None]  # counted once, not twice
    html = paths["report.html"].read_text()
    assert "How many runs does this difference need?" in html and html.count("data:image/png;base64,") == 4
    assert paths["seeds_needed.png"].read_bytes()[:4] == b"\x89PNG"
    md = paths["report.md"].read_text()
    assert "## Budgets: the published search effort and ours" in md and "| wide | final_test_loss |" in md


def test_section_arguments_are_checked_when_the_claim_loads(tmp_path):
    (tmp_path / "s.yaml").write_text(SPEC)
    path = tmp_path / "claim.yaml"
    path.write_text(CLAIM.replace("difference: 0.0004", "diference: 0.0004"))
    with pytest.raises(SpecError, match=r"claim\.yaml: sections\.1\.diference"):
        load_claim(path)
    path.write_text(CLAIM.replace("name: budget", "name: budgett"))
    with pytest.raises(SpecError, match=r"sections\.2\.name.*budget"):
        load_claim(path)


def test_sections_name_an_unknown_arm_in_one_line(report):
    from scrutiny.analysis.sections import arm_names, probe_table
    from scrutiny.errors import ScrutinyError
    from scrutiny.registry import SECTIONS
    from scrutiny.store import Store

    result, _ = report
    with pytest.raises(ScrutinyError, match=r"sections: threshold_counts: unknown arms \['nope'\]"):
        SECTIONS.get("threshold_counts")(result, None, threshold=0.5, arms=["nope"])
    assert arm_names(result, None, "x") == ["wide", "untrained", "twin"]
    with pytest.raises(ScrutinyError, match=r"sections: spp: trial abc-s0 has no 'spp' probe table with 'rows'"):
        probe_table(Store(result.path.parent / "runs"), "abc-s0", "spp", "rows", "spp")


def test_the_training_loss_reaches_the_arms_and_the_curves(report):
    result, paths = report
    wide = result.arms["wide"]
    store = Store(paths["report.md"].parent.parent / "runs")
    logged = [
        [
            row["train_loss_epoch_avg"]
            for row in store.metrics(f"{wide.spec_hash}-s{seed}")
            if "train_loss_epoch_avg" in row
        ]
        for seed in wide.complete_seeds
    ]
    assert wide.loss_epochs.tolist() == [1] and wide.loss_curves.tolist() == logged
    assert result.arms["untrained"].loss_curves.size == 0  # no epoch trained: no loss panel for it
    assert "training loss" in paths["report.md"].read_text()


def test_threshold_counts_count_shared_trials_once(report):
    from scrutiny.registry import SECTIONS

    result, _ = report
    section = SECTIONS.get("threshold_counts")(result, None, threshold=0.0, metric="final_test_acc")
    rows = {row[0]: row for row in section.tables[0].rows}
    assert rows["wide"][1:3] == [4, 4] and rows["untrained"][1:3] == [4, 4]  # every accuracy is >= 0
    assert rows["twin"] == ["twin", None, None, None, "same trials as wide"]
    assert section.data["twin"] == {"same_trials_as": "wide"}
