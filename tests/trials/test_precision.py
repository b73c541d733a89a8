"""``train.precision`` on the CPU: fp16's skipped steps are not divergence, evaluation is fp32 unless asked, and the
evaluation dtype is part of a spec's identity only where it changes the numbers of an old id."""

import json
import math

import pytest
import torch
from torch import nn

import scrutiny.trials._epoch as epoch_module
from scrutiny.spec import load_spec, spec_hash
from scrutiny.spec.identity import identity_dict
from scrutiny.store import Store
from scrutiny.trials import run_trial
from scrutiny.trials.precision import Precision, dtype_name, eval_dtype
from scrutiny.trials.tasks import Task

# 1347 training examples in 22 steps of 64 (the last one of 3); 450 test examples
DIGITS = """
model: {name: small_cnn, width: 8}
data: {name: digits, batch_size: 64, eval_batch_size: 450}
optim: {name: sgd, lr: 0.1, momentum: 0.9}
train: {epochs: 1, device: cpu}
"""
STEPS = 22


def _run(tmp_path, name, overrides=()):
    path = tmp_path / "digits.yaml"
    path.write_text(DIGITS)
    store = Store(tmp_path / name)
    record = run_trial(load_spec(path, list(overrides)), 0, store, threads=1)
    lines = (store.trial_dir(record["trial_id"]) / "metrics.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    return record, rows


def _poison_loss(monkeypatch, value: float, calls: set[int] | None = None) -> None:
    """Multiply the training loss of the given calls of ``Task.loss`` (from 0; all where ``None``) by ``value``."""
    original, count = Task.loss, {"n": 0}

    def loss(self, outputs, targets, label_smoothing=0.0):
        out = original(self, outputs, targets, label_smoothing)
        n, count["n"] = count["n"], count["n"] + 1
        return out * value if calls is None or n in calls else out

    monkeypatch.setattr(Task, "loss", loss)


# ---- Precision.step ------------------------------------------------------------------------------------------


def _linear_step(precision: Precision, factor: float) -> tuple[object, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    before = model.weight.detach().clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with precision.autocast():
        loss = model(torch.ones(4, 3)).float().pow(2).mean() * factor
    skipped = precision.step(loss, model, optimizer, grad_clip=1.0)
    return skipped, before, model.weight.detach()


def test_fp16_step_says_it_skipped_an_overflow():
    precision = Precision.of("fp16", torch.device("cpu"))
    assert precision.scaler is not None and precision.scaler.get_scale() == 65536.0
    skipped, before, after = _linear_step(precision, math.inf)
    assert bool(skipped) is True and torch.equal(before, after)  # no update
    assert precision.scaler.get_scale() == 32768.0  # and the scale halved
    skipped, before, after = _linear_step(precision, 1.0)
    assert bool(skipped) is False and not torch.equal(before, after)


@pytest.mark.parametrize("name", ["fp32", "bf16"])
def test_steps_without_a_scaler_are_never_skipped(name):
    skipped, before, after = _linear_step(Precision.of(name, torch.device("cpu")), 1.0)
    assert skipped is False and not torch.equal(before, after)


def test_eval_dtype_is_fp32_unless_asked():
    bf16 = Precision.of("bf16", torch.device("cpu"))
    assert eval_dtype(bf16, "fp32") is None and eval_dtype(bf16, "train") is torch.bfloat16
    assert dtype_name(None) == "float32" and dtype_name(torch.float16) == "float16"


# ---- trials --------------------------------------------------------------------------------------------------


def test_an_fp16_overflow_is_skipped_not_diverged(tmp_path, monkeypatch):
    # a loss 4096 times larger (the learning rate 4096 times smaller): at the initial scale 65536 the scaled
    # gradients overflow fp16, so the scaler skips steps and lowers its scale until they fit
    _poison_loss(monkeypatch, 4096.0)
    record, rows = _run(tmp_path, "fp16", ["train.precision=fp16", f"optim.lr={0.1 / 4096}"])
    assert record["status"] == "complete", record.get("error")
    assert 1 <= rows[0]["skipped_steps"] < STEPS
    assert math.isfinite(rows[0]["train_loss_epoch_avg"]) and rows[0]["train_n"] == 1347


def test_an_injected_infinite_fp16_loss_is_skipped(tmp_path, monkeypatch):
    _poison_loss(monkeypatch, math.inf, calls={3})
    record, rows = _run(tmp_path, "fp16", ["train.precision=fp16"])
    assert record["status"] == "complete", record.get("error")
    assert rows[0]["skipped_steps"] >= 1
    assert math.isfinite(rows[0]["train_loss_epoch_avg"])  # the skipped step's infinite loss is not averaged
    assert math.isfinite(record["final_test_loss"])


def test_fp16_diverges_when_every_step_of_an_epoch_is_skipped(tmp_path, monkeypatch):
    _poison_loss(monkeypatch, math.inf)
    record, rows = _run(tmp_path, "fp16", ["train.precision=fp16"])
    assert record["status"] == "diverged"
    assert record["diverged_at"] == {"epoch": 1, "step": STEPS - 1}
    assert "skipped every step of epoch 1 (22)" in record["error"]
    assert rows == [
        {"epoch": 1, "lr": 0.1, "train_loss_epoch_avg": None, "diverged_step": STEPS - 1, "skipped_steps": STEPS}
    ]


@pytest.mark.parametrize("name", ["fp32", "bf16"])
def test_a_nan_loss_without_a_scaler_still_diverges(tmp_path, monkeypatch, name):
    _poison_loss(monkeypatch, math.nan, calls={3})
    record, rows = _run(tmp_path, name, [f"train.precision={name}"])
    assert record["status"] == "diverged"
    assert record["diverged_at"] == {"epoch": 1, "step": 3}
    assert "skipped_steps" not in rows[-1] and rows[-1]["diverged_step"] == 3


def test_fp32_rows_have_no_skipped_steps_and_record_the_eval_dtype(tmp_path):
    record, rows = _run(tmp_path, "fp32")
    assert record["status"] == "complete" and record["eval_dtype"] == "float32"
    assert "skipped_steps" not in rows[0] and "compile_time_s" not in record
    assert record["device_time_s"] == pytest.approx(sum(r["epoch_time_s"] for r in rows))


def test_bf16_is_evaluated_in_fp32_unless_asked(tmp_path, monkeypatch):
    seen: list[torch.dtype | None] = []
    evaluate = epoch_module.evaluate

    def spy(*args, **kwargs):
        seen.append(kwargs["autocast_dtype"])
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(epoch_module, "evaluate", spy)
    exact, _ = _run(tmp_path, "exact", ["train.precision=bf16"])
    autocast, _ = _run(tmp_path, "autocast", ["train.precision=bf16", "eval.precision=train"])
    assert seen == [None, torch.bfloat16]
    assert exact["eval_dtype"] == "float32" and autocast["eval_dtype"] == "bfloat16"
    # the same training, evaluated in two precisions
    assert exact["final_train_loss_epoch_avg"] == autocast["final_train_loss_epoch_avg"]
    assert exact["final_test_loss"] != autocast["final_test_loss"]
    assert exact["final_test_loss"] == pytest.approx(autocast["final_test_loss"], rel=0.05)


def test_fp16_evaluated_under_its_autocast_records_float16(tmp_path):
    record, rows = _run(tmp_path, "fp16", ["train.precision=fp16", "eval.precision=train"])
    assert record["status"] == "complete" and record["eval_dtype"] == "float16"
    assert isinstance(rows[0]["skipped_steps"], int) and math.isfinite(record["final_test_loss"])


# ---- identity ------------------------------------------------------------------------------------------------


def _spec(tmp_path, overrides=()):
    path = tmp_path / "digits.yaml"
    path.write_text(DIGITS)
    return load_spec(path, list(overrides))


@pytest.mark.parametrize(
    ("overrides", "in_identity"),
    [
        ([], False),  # fp32 evaluated in fp32: what it always was
        (["eval.precision=train"], True),  # the same numbers, but another id: harmless
        (["train.precision=bf16", "eval.precision=train"], False),  # what a bf16 spec used to be evaluated in
        (["train.precision=bf16"], True),  # bf16 evaluated in fp32 (the default now): new numbers, a new id
        (["train.precision=fp16"], True),
    ],
)
def test_eval_precision_is_in_the_identity_only_where_old_ids_would_change_numbers(tmp_path, overrides, in_identity):
    spec = _spec(tmp_path, overrides)
    assert ("precision" in identity_dict(spec)["eval"]) is in_identity


def test_an_old_bf16_id_keeps_its_numbers(tmp_path):
    # the id that a bf16 spec had before eval.precision existed (evaluated under the bf16 autocast) is the id of
    # eval.precision: train, and not that of the new default
    old_style = _spec(tmp_path, ["train.precision=bf16", "eval.precision=train"])
    new_default = _spec(tmp_path, ["train.precision=bf16"])
    old, new = identity_dict(old_style), identity_dict(new_default)
    assert new["eval"].pop("precision") == "fp32" and new == old  # the key alone tells them apart
    assert spec_hash(old_style) != spec_hash(new_default)


def test_an_unknown_eval_precision_is_one_line_naming_the_key(tmp_path):
    from scrutiny.errors import SpecError

    with pytest.raises(SpecError, match=r"eval\.precision"):
        _spec(tmp_path, ["eval.precision=fp16"])
