"""check's modes beyond one run: scores brought in a file, sequential seeds, pre-registration, declared tuning; the
public ``check_claim`` from a path, and its errors naming parameters (the CLI names flags)."""

import json

import pytest
from typer.testing import CliRunner

from scrutiny.analysis.check import score_claim_file
from scrutiny.cli import app
from scrutiny.errors import ScrutinyError
from scrutiny.store import Store
from scrutiny.workflows.check import MissingInputsError, check_claim, plan_claim, weights_by_arm

CLAIM = """
title: modes
source: {paper: none}
seeds: 0-2
arms:
  good: {spec: s.yaml}
  bad: {spec: s.yaml, set: [train.epochs=0]}
hypotheses:
  - good > bad
  - good > bad + 0.9
  - {kind: bound, a: bad, op: "<", value: 0.5, exploratory: true}
tuning: {seeds: 1-2, split: test, configurations: {good: 3, bad: 1}}
"""
SPEC = """
model: {name: small_cnn, width: 8}
data: {name: digits, batch_size: 32, eval_batch_size: 500}
optim: {name: sgd, lr: 0.1, momentum: 0.9}
train: {epochs: 1, device: cpu}
"""


@pytest.fixture()
def claim(tmp_path):
    (tmp_path / "s.yaml").write_text(SPEC)
    (tmp_path / "claim.yaml").write_text(CLAIM)
    return tmp_path / "claim.yaml"


def _csv(tmp_path, rows):
    path = tmp_path / "scores.csv"
    path.write_text("arm,seed,status,final_test_acc\n" + "\n".join(rows) + "\n")
    return path


def test_scores_file_decides_without_training(claim, tmp_path):
    rows = [f"good,{s},complete,{0.9 + 0.01 * s}" for s in range(5)] + [f"bad,{s},,{0.1 + 0.01 * s}" for s in range(4)]
    rows.append("bad,4,diverged,")
    result = score_claim_file(claim, _csv(tmp_path, rows))
    v = {x.hypothesis: x for x in result.verdicts}
    assert v["good > bad"].verdict == "REPRODUCED" and v["good > bad"].n_b == 5  # the diverged seed scored 0
    assert "1 of 5 diverged (scored 0, the worst value)" in v["good > bad"].reason
    assert v["good > bad + 0.9"].verdict == "NOT REPRODUCED"
    assert v["bad < 0.5"].exploratory and v["bad < 0.5"].family_size == 2
    assert result.to_dict()["tuning"]["flags"][:2] == [
        "settings were tuned on verdict seeds [1, 2]",
        "settings were chosen on the test split",
    ]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["good,0,,0.9", "good,0,,0.8", "bad,0,,0.1"], "row 2: arm 'good' seed 0 appears twice"),
        (["good,0,,abc", "bad,0,,0.1"], "row 1: column 'final_test_acc': expected a number, got 'abc'"),
        (["good,0,,0.9", "ugly,0,,0.1"], "column 'arm': unknown arm(s) ugly"),
        (["good,0,,0.9"], "no rows for arm(s) bad"),
        (["good,x,,0.9", "bad,0,,0.1"], "row 1: column 'seed': expected an integer"),
    ],
)
def test_scores_file_mistakes_are_one_line(claim, tmp_path, rows, message):
    with pytest.raises(ScrutinyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        score_claim_file(claim, _csv(tmp_path, rows))


def test_scores_file_through_the_cli(claim, tmp_path):
    rows = [f"good,{s},,{0.9 + 0.01 * s}" for s in range(4)] + [f"bad,{s},,{0.1 + 0.01 * s}" for s in range(4)]
    path = _csv(tmp_path, rows)
    res = CliRunner().invoke(app, ["check", str(claim), "--scores", str(path), "--json", "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["scores_file"] == str(path) and data["verdicts"][0]["verdict"] == "REPRODUCED"
    assert "Holm" in (tmp_path / "r" / "report.md").read_text()
    missing = tmp_path / "nope.csv"
    res = CliRunner().invoke(app, ["check", str(claim), "--scores", str(missing)])
    assert res.exit_code != 0


def test_until_decisive_adds_seeds_and_preregistration_is_recorded(claim, tmp_path):
    store = Store(tmp_path / "runs")
    p = plan_claim(claim, "cpu", store, seeds="0-1")
    result = check_claim(p, store, threads=1, max_seeds=6, round_size=2)
    looks = result.looks
    assert [look["n"] for look in looks] == [2, 4, 6]
    assert sum(look["level"] for look in looks) == pytest.approx(0.05)
    first, second = result.verdicts[:2]
    assert (first.verdict, first.decided_at) == ("REPRODUCED", 6)
    assert (second.verdict, second.decided_at) == ("NOT REPRODUCED", 4)
    assert result.arms["good"].n == 6
    reg = result.preregistration
    assert reg["registered"] and reg["changed_after_results"] == []
    assert reg["first_seen"] <= reg["first_trial_at"]  # recorded before the first trial of these seeds started
    # editing a tolerance after results exist is flagged
    claim.write_text(CLAIM.replace("good > bad + 0.9", "good > bad + 0.8"))
    again = check_claim(plan_claim(claim, "cpu", store, seeds="0-1"), store, threads=1)
    assert again.preregistration["changed_after_results"] == ["good > bad + 0.8"]
    assert again.preregistration["earlier_hashes"]


def test_scores_file_in_json(claim, tmp_path):
    rows = [{"arm": "good", "seed": s, "final_test_acc": 0.9 + 0.01 * s} for s in range(4)]
    rows += [{"arm": "bad", "seed": s, "final_test_acc": 0.1 + 0.01 * s, "status": "complete"} for s in range(4)]
    path = tmp_path / "scores.json"
    path.write_text(json.dumps(rows))
    assert score_claim_file(claim, path).verdicts[0].verdict == "REPRODUCED"
    path.write_text(json.dumps({"good": [0.9]}))
    with pytest.raises(ScrutinyError, match="expected a list of objects"):
        score_claim_file(claim, path)
    rows[0]["final_test_acc"] = True
    path.write_text(json.dumps(rows))
    with pytest.raises(ScrutinyError, match="row 1: column 'final_test_acc': expected a number, got True"):
        score_claim_file(claim, path)


def test_check_claim_from_a_path_runs_what_the_store_lacks_and_then_nothing(claim, tmp_path):
    from scrutiny import check_claim as public

    assert public is check_claim
    store = tmp_path / "runs"
    first = check_claim(claim, store, scale="cpu", seeds="0-1", threads=1)
    assert first.sweep["ran"] == 4 and first.arms["good"].n == 2 and first.preregistration["registered"]
    again = check_claim(claim, store, scale="cpu", seeds="0-1")
    assert again.sweep == {}  # nothing to run: no sweep at all
    assert [v.verdict for v in again.verdicts] == [v.verdict for v in first.verdicts]
    by_file = check_claim(claim, scores=_csv(tmp_path, ["good,0,,0.9", "good,1,,0.91", "bad,0,,0.1", "bad,1,,0.2"]))
    assert by_file.scores_file and by_file.arms["good"].n == 2


def test_check_claim_errors_name_parameters(claim, tmp_path):
    store = Store(tmp_path / "runs")
    with pytest.raises(ScrutinyError, match=r"^weights: expected ARM=FILE, got 'good'$"):
        weights_by_arm(["good"])
    with pytest.raises(ScrutinyError, match=r"^weights: arm 'good' given twice$"):
        weights_by_arm(["good=a.pt", "good=b.pt"])
    assert weights_by_arm({"good": tmp_path / "w.pt"}) == {"good": str(tmp_path / "w.pt")}
    with pytest.raises(ScrutinyError, match=r"^weights: unknown arm\(s\) ugly; arms are good, bad$"):
        plan_claim(claim, "cpu", store, weights={"ugly": "w.pt"})
    (tmp_path / "w.pt").write_bytes(b"")
    p = plan_claim(claim, "cpu", store, weights={"good": tmp_path / "w.pt"})
    assert p.specs["good"].model.weights == str(tmp_path / "w.pt") and p.specs["bad"].model.weights is None
    with pytest.raises(ScrutinyError, match=r"^claim: a ClaimPlan fixes scale, seeds"):
        check_claim(p, store, scale="cpu", seeds="0")
    with pytest.raises(ScrutinyError, match=r"^scores: decides on the file's scores: it takes no max_seeds$"):
        check_claim(claim, store, scores=tmp_path / "s.csv", max_seeds=4)
    with pytest.raises(ScrutinyError, match=r"^round_size: expected at least 1"):
        check_claim(claim, store, scale="cpu", seeds="0-1", max_seeds=4, round_size=0)


def test_missing_inputs_name_parameters_and_the_cli_names_flags():
    from scrutiny.cli._common import flag_message

    err = MissingInputsError("resnet_eval at scale paper", {"data_root": "(a local dataset folder; got None)"})
    assert str(err) == (
        "resnet_eval at scale paper needs local inputs: give data_root (a local dataset folder; got None)"
    )
    flags = {"data_root": "--data-root", "weights": "--weights"}
    err = MissingInputsError("x at scale paper", {"data_root": "(got None)", "weights": "for resnet50"})
    assert err.with_flags(flags) == (
        "x at scale paper needs local inputs: give --data-root DIR (got None) and --weights ARM=FILE for resnet50"
    )
    assert flag_message("round_size: expected at least 1, got 0", {"round_size": "--round"}) == (
        "--round: expected at least 1, got 0"
    )
    assert flag_message("claim.yaml: arms: bad", {"round_size": "--round"}) == "claim.yaml: arms: bad"


def test_the_cli_maps_parameters_to_flags(claim, tmp_path):
    res = CliRunner().invoke(
        app, ["check", str(claim), "--scale", "cpu", "--weights", "ugly=w.pt", "--store", str(tmp_path / "r")]
    )
    assert res.exit_code != 0 and "--weights: unknown arm(s) ugly" in str(res.exception)
    res = CliRunner().invoke(
        app,
        ["check", str(claim), "--until-decisive", "--max-seeds", "2", "--round", "1", "--seeds", "0-2"]
        + ["--store", str(tmp_path / "r")],
    )
    assert res.exit_code != 0 and str(res.exception).startswith("--max-seeds: expected at least the scale's 3 seeds")
