"""What ``--dry-run`` tells a new user before anything runs (issue 15, items 3 and 5): the resolved spec with every
default written out (``--show-spec``), every model built on the meta device so that a builder's constraints and an
adapter's arguments fail in one line naming the spec file and the key, and an estimate of each arm's time that says
what it rests on.

The specs and claims are written in a temporary folder, as a user writes them, and run through the CLI in-process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from scrutiny.cli import app
from scrutiny.errors import ScrutinyError
from scrutiny.spec import load_spec, spec_hash

# Seconds per trial: synthetic 8×8 images, 64 to train on, one epoch of a narrow CNN.
SPEC = """
model: {name: small_cnn, width: 4}
data: {name: synthetic, channels: 1, size: 8, n_train: 64, n_test: 32, batch_size: 32}
train: {epochs: 2, device: cpu}
"""
CLAIM = """
title: wider is better
source: {paper: a user's own experiment}
seeds: 0-1
arms:
  wide: {spec: net.yaml, set: [model.width=8]}
  narrow: {spec: net.yaml}
hypotheses:
  - wide > narrow
scales:
  smoke: {seeds: 0, set: [train.epochs=1]}
"""


def _invoke(folder: Path, *args: str):
    """``scrutiny ARGS`` run from ``folder``, as a user types it there."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.delenv("SCRUTINY_STORE", raising=False)
        mp.setenv("COLUMNS", "200")
        return CliRunner().invoke(app, list(args))


def _one_line_error(res) -> str:
    assert res.exit_code != 0 and isinstance(res.exception, ScrutinyError), res.output
    message = str(res.exception)
    assert "\n" not in message
    return message


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "net.yaml").write_text(SPEC)
    (tmp_path / "claim.yaml").write_text(CLAIM)
    return tmp_path


def test_show_spec_prints_the_resolved_spec_with_every_default(folder):
    res = _invoke(folder, "run", "net.yaml", "--dry-run", "--show-spec", "--set", "optim.lr=0.05", "--store", "runs")
    assert res.exit_code == 0, res.output
    text = res.stdout[res.stdout.index("label:") : res.stdout.index("probes:") + len("probes: []")]
    printed = yaml.safe_load(text)
    assert printed["optim"]["lr"] == 0.05 and printed["optim"]["momentum"] == 0.9  # the default, written out
    assert printed["model"]["dropout"] == 0.0 and printed["data"]["data_seed"] == 0  # builders' defaults too
    assert printed["eval"]["protocol"] == "plain" and printed["train"]["precision"] == "fp32"
    (folder / "printed.yaml").write_text(text)
    assert spec_hash(load_spec(folder / "printed.yaml")) == spec_hash(load_spec(folder / "net.yaml", ["optim.lr=0.05"]))
    assert not (folder / "runs").exists()


def test_show_spec_of_a_claim_gives_every_arm_at_the_scale(folder):
    res = _invoke(folder, "check", "claim.yaml", "--scale", "smoke", "--dry-run", "--show-spec", "--json")
    assert res.exit_code == 0, res.output
    specs = json.loads(res.stdout)["specs"]
    assert specs["wide"]["model"] == {"name": "small_cnn", "weights": None, "width": 8, "dropout": 0.0}
    assert specs["narrow"]["train"]["epochs"] == 1 and specs["narrow"]["optim"]["name"] == "sgd"
    human = _invoke(folder, "check", "claim.yaml", "--scale", "smoke", "--dry-run", "--show-spec")
    assert "# arm wide: " in human.stdout and "width: 8" in human.stdout


@pytest.mark.parametrize(
    ("overrides", "key", "words"),
    [
        (["model.name=torchvision:resnet18", "model.width=32"], "model.width", "unexpected keyword argument 'width'"),
        (["model.name=preact_resnet", "model.depth=10"], "model.depth", "depth must be one of"),
    ],
)
def test_a_model_that_cannot_be_built_fails_the_dry_run_in_one_line(folder, overrides, key, words):
    args = [a for o in overrides for a in ("--set", o)]
    res = _invoke(folder, "run", "net.yaml", "--dry-run", *args, "--store", "runs")
    message = _one_line_error(res)
    assert message.startswith(f"net.yaml: {key}: ") and words in message
    res = _invoke(folder, "run", "net.yaml", *args, "--store", "runs")  # and before any trial runs
    assert _one_line_error(res) == message
    assert not (folder / "runs").exists()  # nothing stored


def test_a_claims_arm_that_cannot_be_built_fails_before_anything_is_stored(folder):
    claim = CLAIM.replace("{spec: net.yaml}", "{spec: net.yaml, set: [model.name=preact_resnet, model.depth=10]}")
    (folder / "claim.yaml").write_text(claim)
    for extra in (["--dry-run"], []):
        res = _invoke(folder, "check", "claim.yaml", "--scale", "smoke", "--store", "runs", *extra)
        message = _one_line_error(res)
        assert message.startswith("net.yaml: model.depth: ") and "arm 'narrow' of claim.yaml" in message
    assert not (folder / "runs").exists()  # no trial, no pre-registration record


def test_a_builder_given_the_wrong_channels_fails_its_forward_pass_at_dry_run(folder):
    (folder / "dryrun_nets.py").write_text(
        "import torch\n\ndef gray_cnn(num_classes):  # one input channel, whatever the data have\n"
        "    layers = [torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(num_classes)]\n"
        "    return torch.nn.Sequential(*layers)\n"
    )
    spec = SPEC.replace("{name: small_cnn, width: 4}", "{name: 'dryrun_nets:gray_cnn'}").replace(
        "channels: 1", "channels: 3"
    )
    (folder / "rgb.yaml").write_text(spec)
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(folder))
        res = _invoke(folder, "run", "rgb.yaml", "--dry-run", "--store", "runs")
    message = _one_line_error(res)
    assert message.startswith("rgb.yaml: model: ") and "forward pass of a batch shaped (2, 3, 8, 8)" in message


def test_the_dry_run_says_what_each_model_check_was(folder):
    res = _invoke(folder, "check", "claim.yaml", "--scale", "smoke", "--dry-run", "--json", "--store", "runs")
    checks = json.loads(res.stdout)["model_checks"]
    assert checks["wide"]["checked"] and checks["wide"]["n_params"] > checks["narrow"]["n_params"] > 0
    assert "meta device" in checks["wide"]["note"]


def test_estimates_come_from_finished_trials_at_another_scale_else_from_a_timed_step(folder):
    fresh = _invoke(folder, "check", "claim.yaml", "--dry-run", "--json", "--store", "runs")
    assert fresh.exit_code == 0, fresh.output
    estimates = json.loads(fresh.stdout)["estimates"]
    assert {e["basis"] for e in estimates.values()} == {"from a timed step on cpu (set-up time not included)"}
    assert all(e["seconds"] > 0 and e["to_run"] == 2 for e in estimates.values())

    # the smoke scale runs one epoch of each arm; the cpu scale (two epochs) is then estimated from those trials
    smoke = _invoke(
        folder, "check", "claim.yaml", "--scale", "smoke", "--store", "runs", "--threads", "1", "--out", "r"
    )
    assert smoke.exit_code == 0, smoke.output
    res = _invoke(folder, "check", "claim.yaml", "--dry-run", "--json", "--store", "runs")
    payload = json.loads(res.stdout)
    for arm, estimate in payload["estimates"].items():
        assert estimate["basis"] == "from 1 finished trial at 1 epoch, scaled by training steps", arm
        assert estimate["seconds"] == pytest.approx(2 * estimate["per_trial"])  # two seeds to run
        assert payload["estimated_seconds"][arm] == estimate["seconds"]
    human = _invoke(folder, "check", "claim.yaml", "--dry-run", "--store", "runs")
    assert "from 1 finished trial at 1 epoch, scaled by training steps" in human.stdout
    assert "estimated time in all" in human.stdout

    again = _invoke(folder, "check", "claim.yaml", "--scale", "smoke", "--dry-run", "--json", "--store", "runs")
    assert {e["basis"] for e in json.loads(again.stdout)["estimates"].values()} == {"nothing to run"}

    # another model on the same data: a timed step, plus the set-up time of the trials on that data
    other = _invoke(folder, "run", "net.yaml", "--set", "model.width=6", "--dry-run", "--json", "--store", "runs")
    estimate = json.loads(other.stdout)["estimate"]
    assert estimate["basis"] == "from a timed step on cpu, set-up time from 2 finished trials on the same data"


def test_run_dry_run_estimates_too_and_says_unknown_with_the_reason(folder):
    res = _invoke(folder, "run", "net.yaml", "--dry-run", "--json", "--store", "runs")
    estimate = json.loads(res.stdout)["estimate"]
    assert estimate["basis"] == "from a timed step on cpu (set-up time not included)" and estimate["seconds"] > 0
    (folder / "dryrun_data.py").write_text(
        "from scrutiny.registry import DATASETS\n\ndef tiny(root=None):\n    return DATASETS.get('synthetic')()\n"
    )
    (folder / "user.yaml").write_text(
        SPEC.replace("{name: synthetic, channels: 1, size: 8, n_train: 64, n_test: 32, ", "{name: 'dryrun_data:tiny', ")
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(folder))
        res = _invoke(folder, "run", "user.yaml", "--dry-run", "--json", "--store", "runs")
    payload = json.loads(res.stdout)
    assert payload["estimate"]["seconds"] is None
    assert (
        payload["estimate"]["basis"]
        == "unknown (dataset 'dryrun_data:tiny' does not tell its size before it is loaded)"
    )
    assert not payload["model_check"]["checked"] and "does not tell its facts" in payload["model_check"]["note"]
