"""specs/cifar10_airbench94.yaml and claims/airbench94_paper.yaml load, resolve, and hold airbench's numbers."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from scrutiny.errors import ScrutinyError
from scrutiny.spec import load_spec
from scrutiny.spec.claim import arm_specs, check_fields, load_claim

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "cifar10_airbench94.yaml"
CLAIM = ROOT / "claims" / "airbench94_paper.yaml"


def test_spec_resolves_with_airbench_numbers():
    spec = load_spec(SPEC, ["data.root=/data/cifar10"])
    assert spec.model.name == "airbench94" and spec.data.name == "cifar10" and spec.data.root == "/data/cifar10"
    # legacy/airbench94.py, main: lr = 11.5 / kilostep_scale and wd = 0.0153 * 1024 / kilostep_scale on a loss
    # summed over the batch of 1024; SGD's weight_decay = wd / lr. The spec's mean-loss values give the same steps.
    momentum, batch = 0.85, 1024
    kilostep_scale = 1024 * (1 + 1 / (1 - momentum))
    lr_sum, wd = 11.5 / kilostep_scale, 0.0153 * batch / kilostep_scale
    assert spec.optim.momentum == momentum and spec.data.batch_size == batch and spec.optim.nesterov
    assert math.isclose(spec.optim.lr, lr_sum * batch, rel_tol=1e-12)
    assert math.isclose(spec.optim.weight_decay, wd / lr_sum / batch, rel_tol=1e-12)
    assert spec.optim.norm_bias_lr_scale == 64.0 and spec.optim.lookahead_every == 5
    assert math.isclose(spec.optim.lookahead_decay, 0.95**5)
    assert spec.schedule.knots == ((0.0, 0.2), (0.23, 1.0), (1.0, 0.07))
    # total_train_steps = ceil(len(train_loader) * 9.9), 50000 // 1024 batches per epoch
    assert spec.train.max_steps == math.ceil(50000 // batch * 9.9) and spec.train.epochs == 10
    assert spec.data.drop_last and spec.train.label_smoothing == 0.2
    assert spec.eval.protocol == "flip_translate" and spec.eval.protocol_args == {"level": 2}


def test_claim_loads_and_needs_the_data_root():
    claim = load_claim(CLAIM)
    assert claim.default_scale == "paper" and claim.scales["paper"].requires == ("data_root",)
    reported = claim.arms["airbench94"].reported
    assert reported is not None and reported.value == 0.9401 and reported.runs == 1000
    specs = arm_specs(claim, CLAIM, "paper", ["data.root=/data/cifar10"])
    check_fields(claim, CLAIM, "paper", specs)
    assert {h.value for h in claim.hypotheses} == {0.94, None, 3.83, 3.29}


def test_claim_without_data_root_is_one_line(tmp_path):
    from scrutiny.workflows.plan import check_inputs, plan_claim

    with pytest.raises(ScrutinyError, match="data") as info:
        check_inputs(plan_claim(CLAIM, "paper", tmp_path / "store"))
    assert "\n" not in str(info.value)
    check_inputs(plan_claim(CLAIM, "paper", tmp_path / "store", data_root=tmp_path))  # a folder: accepted
