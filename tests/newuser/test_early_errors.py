"""Errors a new user meets before anything runs (issue 15, items 3 and 6): a typo in a hypothesis's metric, an epoch
the spec never reaches, an unknown arm, and ``--set a=1 b=2``, each one line naming the file and the key, at
``--dry-run`` and before any trial.

The specs and claims are written in a temporary folder, as a user writes them, and run through the CLI in-process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scrutiny.cli import app
from scrutiny.errors import ScrutinyError

SPEC = """
model: {name: small_cnn, width: 4}
data: {name: synthetic, channels: 1, size: 8, n_train: 64, n_test: 32, batch_size: 32}
train: {epochs: 4, device: cpu}
eval: {every_epochs: 2}
"""
CLAIM = """
title: a typo
source: {paper: a user's own experiment}
seeds: 0-1
arms:
  adam: {spec: net.yaml, set: [optim.name=adam, optim.lr=0.001]}
  sgd: {spec: net.yaml}
hypotheses:
  - adam > sgd
  - HYPOTHESIS
scales:
  smoke: {seeds: 0, set: [train.epochs=2]}
"""


def _invoke(folder: Path, *args: str):
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.delenv("SCRUTINY_STORE", raising=False)
        mp.setenv("COLUMNS", "200")
        return CliRunner().invoke(app, list(args))


def _claim(folder: Path, hypothesis: str, **replace: str) -> None:
    text = CLAIM.replace("HYPOTHESIS", hypothesis)
    for old, new in replace.items():
        text = text.replace(old, new)
    (folder / "net.yaml").write_text(SPEC)
    (folder / "claim.yaml").write_text(text)


def _error(folder: Path, *args: str) -> str:
    res = _invoke(folder, *args)
    assert res.exit_code != 0 and isinstance(res.exception, ScrutinyError), res.output
    message = str(res.exception)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("hypothesis", "says"),
    [
        ("adam[final_tst_acc] > sgd[final_tst_acc]", "no field 'final_tst_acc'; did you mean 'final_test_acc'"),
        ("adam[best_test_los] < sgd[best_test_los]", "did you mean 'best_test_loss'"),
        ("adam[tset_acc@2] > sgd[tset_acc@2]", "no epoch row has 'tset_acc'; did you mean 'test_acc'"),
        ("adam[test_acc@6] > sgd[test_acc@6]", "'test_acc' is evaluated at epochs 2, 4, not at epoch 6"),
        ("adam[test_acc@3] > sgd[test_acc@3]", "'test_acc' is evaluated at epochs 2, 4, not at epoch 3"),
        ("adam[train_loss_epoch_avg@5] < sgd[train_loss_epoch_avg@5]", "the spec trains epochs 1-4, not epoch 5"),
        ("adam[final_test_iou] > 0.5", "no field 'final_test_iou'"),  # a classification dataset has no IoU
    ],
)
def test_a_hypothesis_naming_a_field_the_trials_will_not_hold_fails_at_dry_run(tmp_path, hypothesis, says):
    _claim(tmp_path, hypothesis)
    for extra in (["--dry-run"], []):
        message = _error(tmp_path, "check", "claim.yaml", "--store", "runs", *extra)
        assert message.startswith("claim.yaml: hypotheses.1: "), message
        assert "arm 'adam'" in message and says in message
    assert not (tmp_path / "runs").exists()  # nothing stored, nothing registered


def test_the_epoch_is_checked_against_the_scale_that_runs(tmp_path):
    _claim(tmp_path, "adam[test_acc@4] > sgd[test_acc@4]")
    assert _invoke(tmp_path, "check", "claim.yaml", "--dry-run", "--store", "runs").exit_code == 0  # 4 epochs
    message = _error(tmp_path, "check", "claim.yaml", "--scale", "smoke", "--dry-run", "--store", "runs")
    assert "arm 'adam' at scale smoke: 'test_acc@4': 'test_acc' is evaluated at epoch 2, not at epoch 4" in message
    # a hypothesis kept to another scale is checked for its field only, not for that scale's epochs
    _claim(tmp_path, "{kind: compare, a: adam, b: sgd, metric: test_acc@4, scales: [cpu]}")
    assert _invoke(tmp_path, "check", "claim.yaml", "--scale", "smoke", "--dry-run", "--store", "runs").exit_code == 0


def test_the_fields_that_exist_are_accepted(tmp_path):
    hypotheses = [
        "adam[best_test_acc] > sgd[best_test_acc]",
        "adam[final_train_loss_epoch_avg] < sgd[final_train_loss_epoch_avg]",
        "adam[test_loss@2] < sgd[test_loss@2]",
        "adam[lr@1] < sgd[lr@1]",
        "adam[test_acc@4] > adam[test_acc@2]",
    ]
    _claim(tmp_path, hypotheses[0], **{"  - adam > sgd": "\n".join(f"  - {h}" for h in hypotheses[1:])})
    res = _invoke(tmp_path, "check", "claim.yaml", "--dry-run", "--json", "--store", "runs")
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["trials"]) == 4


def test_the_claims_metric_is_checked_for_every_arm(tmp_path):
    _claim(tmp_path, "adam > sgd", **{"seeds: 0-1": "seeds: 0-1\nmetric: final_test_accuracy"})
    message = _error(tmp_path, "check", "claim.yaml", "--dry-run")
    assert message.startswith("claim.yaml: metric: arm 'adam': no field 'final_test_accuracy'; did you mean")
    _claim(tmp_path, "adam > sgd", **{"seeds: 0-1": "seeds: 0-1\nmetric: test_acc@2"})
    assert "name an epoch in a hypothesis instead" in _error(tmp_path, "check", "claim.yaml", "--dry-run")
    _claim(tmp_path, "adam > sgd", **{"seeds: 0-1": "seeds: 0-1\nmetric: n_params"})  # any number of the record
    assert _invoke(tmp_path, "check", "claim.yaml", "--dry-run", "--store", "runs").exit_code == 0


def test_an_unknown_arm_is_named_with_the_arms_there_are(tmp_path):
    _claim(tmp_path, "adma > sgd")
    message = _error(tmp_path, "check", "claim.yaml", "--dry-run")
    assert message == "claim.yaml: hypotheses.1: unknown arm 'adma'; arms are ['adam', 'sgd']"


@pytest.mark.parametrize("command", ["run", "check"])
def test_set_with_two_assignments_after_one_flag_says_to_repeat_the_flag(tmp_path, command):
    _claim(tmp_path, "adam > sgd")
    target = "net.yaml" if command == "run" else "claim.yaml"
    message = _error(tmp_path, command, target, "--set", "optim.lr=0.01", "train.epochs=1", "--dry-run")
    assert "repeat --set for each assignment: --set a=1 --set b=2" in message and "'train.epochs=1'" in message
    message = _error(tmp_path, command, "--set", "optim.lr=0.01", "train.epochs=1", target, "--dry-run")
    assert "repeat --set for each assignment" in message
    res = _invoke(tmp_path, command, target, "--set", "optim.lr=0.01", "--set", "train.epochs=1", "--dry-run")
    assert res.exit_code == 0, res.output
    assert "unexpected extra argument(s): other.yaml" in _error(tmp_path, command, target, "other.yaml")
