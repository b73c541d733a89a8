"""Arm names reach the store: a user's claim, written outside the package and checked through the CLI, is then
found by its arm names in the progress lines, in ``scrutiny runs --claim FILE`` and in ``scrutiny compare --a
claim.yaml:arm`` (issue 15, item 8).

One check of a tiny claim (two specs, two seeds, one epoch of a narrow CNN on digits) is shared by the tests.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scrutiny.cli import app

SPEC = """
model: {name: small_cnn, width: 8}
data: {name: digits, batch_size: 64, eval_batch_size: 500}
optim: {name: sgd, lr: 0.1, momentum: 0.9}
train: {epochs: 1, device: cpu}
"""
CLAIM = """
title: training helps
source: {paper: a user's own experiment}
seeds: 0-1
arms:
  trained: {spec: net.yaml}
  untrained: {spec: net.yaml, set: [train.epochs=0]}
  trained_again: {spec: net.yaml, label: the trained net once more}
hypotheses:
  - trained > untrained
"""


class Checked:
    """The claim's folder, its store and what ``scrutiny check`` printed."""

    def __init__(self, folder: Path, stderr: str) -> None:
        self.folder, self.stderr = folder, stderr
        self.claim, self.store = folder / "claim.yaml", folder / "runs"


def _invoke(folder: Path, *args: str):
    """``scrutiny ARGS`` from the claim's folder, as a user types it there (relative paths)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.setenv("COLUMNS", "200")
        return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def checked(tmp_path_factory) -> Checked:
    folder = tmp_path_factory.mktemp("mylab")
    (folder / "net.yaml").write_text(SPEC)
    (folder / "claim.yaml").write_text(CLAIM)
    res = _invoke(folder, "check", "claim.yaml", "--scale", "cpu", "--store", "runs", "--threads", "1", "--out", "rep")
    assert res.exit_code == 0, res.output
    return Checked(folder, res.stderr)


def test_progress_lines_name_the_arms(checked):
    finished = re.findall(r"^ *complete (.+?) ([0-9a-f]+-s[01]) final_test_acc=", checked.stderr, re.MULTILINE)
    assert sorted(arms for arms, _ in finished) == ["trained, trained_again"] * 2 + ["untrained"] * 2, checked.stderr


def test_check_records_which_trials_serve_which_arm(checked):
    (record,) = [json.loads(f.read_text()) for f in (checked.store / "arms").glob("*.json")]
    assert record["claim_file"] == str(checked.claim.resolve()) and record["scale"] == "cpu"
    arms = record["arms"]
    assert list(arms) == ["trained", "untrained", "trained_again"]
    assert arms["trained"]["trial_ids"] == arms["trained_again"]["trial_ids"] != arms["untrained"]["trial_ids"]
    assert arms["trained_again"]["label"] == "the trained net once more"
    assert all((checked.store / tid / "result.json").is_file() for a in arms.values() for tid in a["trial_ids"])


def test_runs_lists_a_claims_trials_by_arm(checked):
    res = _invoke(checked.folder, "runs", "--claim", "claim.yaml", "--store", "runs", "--json")
    assert res.exit_code == 0, res.output
    (scale,) = json.loads(res.stdout)["scales"]
    assert scale["scale"] == "cpu" and scale["title"] == "training helps"
    by_arm = {a["arm"]: a["trials"] for a in scale["arms"]}
    assert list(by_arm) == ["trained", "untrained", "trained_again"]
    assert [(t["seed"], t["status"]) for t in by_arm["untrained"]] == [(0, "complete"), (1, "complete")]
    assert all(isinstance(t["value"], float) for trials in by_arm.values() for t in trials)
    human = _invoke(checked.folder, "runs", "--claim", "claim.yaml", "--store", "runs").stdout
    assert "training helps — scale cpu" in human and "3 arms, 4 trials, 4 complete" in human
    assert "the trained net once more" in human and "untrained" in human
    everything = json.loads(_invoke(checked.folder, "runs", "--store", "runs", "--json").stdout)["specs"]
    assert sorted(g["arms"] for g in everything) == [
        ["claim.yaml:trained", "claim.yaml:trained_again"],
        ["claim.yaml:untrained"],
    ]  # every spec in the store says which arms it serves


def test_runs_of_a_claim_never_checked_says_so_in_one_line(checked):
    (checked.folder / "other.yaml").write_text(CLAIM)
    res = _invoke(checked.folder, "runs", "--claim", "other.yaml", "--store", "runs")
    assert res.exit_code != 0
    assert str(res.exception) == (
        "other.yaml: no check of this claim is recorded in runs/ (run 'scrutiny check other.yaml --store runs')"
    )
    res = _invoke(checked.folder, "runs", "--claim", "claim.yaml", "--scale", "paper", "--store", "runs")
    assert str(res.exception) == "--scale: claim.yaml was not checked at scale paper in runs/ (checked: cpu)"
    res = _invoke(checked.folder, "runs", "--scale", "cpu", "--store", "runs")
    assert str(res.exception) == "--scale goes with --claim (the scale of the claim's arms to list)"


def test_compare_takes_arms_of_a_claim(checked):
    res = _invoke(
        checked.folder, "compare", "--a", "claim.yaml:trained", "--b", "claim.yaml:untrained", "--store", "runs"
    )
    assert res.exit_code == 0, res.output
    assert "trained (" in res.stdout and "untrained (" in res.stdout
    as_json = _invoke(
        checked.folder, "compare", "--a", "claim.yaml:trained", "--b", "claim.yaml:untrained", "--store", "runs",
        "--scale", "cpu", "--json",
    )  # fmt: skip
    c = json.loads(as_json.stdout)
    assert c["a"]["name"].startswith("trained (") and c["b"]["name"].startswith("untrained (")
    assert c["a"]["n"] == c["b"]["n"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--a", "claim.yaml:traned", "--b", "claim.yaml:untrained"],
            "claim.yaml: no arm 'traned' at scale cpu (arms: trained, untrained, trained_again)",
        ),
        (
            ["--a", "other.yml:trained", "--b", "claim.yaml:untrained"],
            "other.yml: no check of this claim is recorded in runs/ "
            "(check it on this store first: 'scrutiny check other.yml')",
        ),
        (
            ["--a", "claim.yaml:trained", "--b", "claim.yaml:untrained", "--scale", "smoke"],
            "--scale: claim.yaml was not checked at scale smoke in runs/ (checked: cpu)",
        ),
    ],
)
def test_compare_errors_about_claim_arms_are_one_line_naming_the_claim_file(checked, args, message):
    res = _invoke(checked.folder, "compare", *args, "--store", "runs")
    assert res.exit_code != 0 and str(res.exception) == message
