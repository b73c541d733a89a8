"""Where a report goes, and the claim's own folder as an import path, as a new user meets them through the CLI
(in-process): the default report folder names a claim file that is not ``claim.yaml``, a report folder that would be
refused is refused before any trial runs, and a claim whose specs live in a subfolder finds the user's package that
sits beside the claim."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scrutiny.cli import app
from scrutiny.errors import ScrutinyError

SPEC = """
model: {name: small_cnn, width: 4}
data: {name: digits, batch_size: 64, eval_batch_size: 500}
optim: {name: sgd, lr: 0.1}
train: {epochs: 1, device: cpu}
"""
CLAIM = """
title: {title}
source: {{paper: none}}
seeds: 0-1
arms:
  a: {{spec: {spec}}}
  b: {{spec: {spec}, set: [train.epochs=0]}}
hypotheses:
  - a > b
"""
SCORES = "arm,seed,final_test_acc\na,0,0.9\na,1,0.91\nb,0,0.1\nb,1,0.12\n"


def _invoke(folder: Path, *args: str):
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.setenv("COLUMNS", "200")
        mp.setattr(sys, "path", list(sys.path))  # the claim's folder is added for this run only
        return CliRunner().invoke(app, list(args))


def test_the_default_report_folder_names_a_claim_file_that_is_not_claim_yaml(tmp_path):
    lab = tmp_path / "mylab"
    lab.mkdir()
    (lab / "spec.yaml").write_text(SPEC)
    (lab / "other.yaml").write_text(CLAIM.format(title="other", spec="spec.yaml"))
    (lab / "scores.csv").write_text(SCORES)
    res = _invoke(lab, "check", "other.yaml", "--scale", "cpu", "--scores", "scores.csv")
    assert res.exit_code == 0, res.output
    assert (lab / "scrutiny-reports" / "mylab-other-cpu" / "report.md").is_file()


def test_a_refused_report_folder_is_refused_before_any_trial_runs(tmp_path):
    (tmp_path / "spec.yaml").write_text(SPEC)
    (tmp_path / "claim.yaml").write_text(CLAIM.format(title="mine", spec="spec.yaml"))
    (tmp_path / "rep").mkdir()
    (tmp_path / "rep" / "notes.txt").write_text("not a report")
    res = _invoke(tmp_path, "check", "claim.yaml", "--scale", "cpu", "--store", "runs", "--out", "rep")
    # in process the error reaches the caller; scrutiny's main() prints it as one line, exit 2 (test_output.py)
    assert isinstance(res.exception, ScrutinyError) and "--force" in str(res.exception)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("result.json"))


def test_a_claim_finds_the_users_package_beside_it_for_specs_in_a_subfolder(tmp_path):
    (tmp_path / "claimlab").mkdir()
    (tmp_path / "claimlab" / "__init__.py").write_text("")
    (tmp_path / "claimlab" / "nets.py").write_text(
        "from torch import nn\n\n\n"
        "def tiny(num_classes: int, in_channels: int = 1) -> nn.Module:\n"
        "    return nn.Sequential(nn.Flatten(), nn.LazyLinear(num_classes))\n"
    )
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "net.yaml").write_text(
        SPEC.replace("{name: small_cnn, width: 4}", "{name: claimlab.nets:tiny}")
    )
    (tmp_path / "claim.yaml").write_text(CLAIM.format(title="sub", spec="specs/net.yaml"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    res = _invoke(elsewhere, "check", str(tmp_path / "claim.yaml"), "--scale", "cpu", "--dry-run", "--store", "runs")
    assert res.exit_code == 0, res.output
    assert "No module named" not in res.output
