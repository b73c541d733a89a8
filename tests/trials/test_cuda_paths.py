"""The trial loop's CUDA paths: bf16 and fp16 autocast (with the fp16 loss scaler), channels_last for image and
coordinate inputs, ``torch.compile`` and device-resident data (``data.on_device``), each a small trial on generated
or bundled data through :func:`~scrutiny.trials.run_trial`. Skipped where CUDA is not available; on a GPU machine,
run this file by itself: ``pytest tests/trials/test_cuda_paths.py``."""

import json
import math

import pytest
import torch

from scrutiny.spec import load_spec
from scrutiny.spec.schema import DataSection
from scrutiny.store import Store
from scrutiny.trials import run_trial
from scrutiny.trials.tasks import Task

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

DIGITS = """
model: {name: small_cnn, width: 8}
data: {name: digits, batch_size: 64, eval_batch_size: 450}
optim: {name: sgd, lr: 0.1, momentum: 0.9}
train: {epochs: 2, device: cuda}
"""
STEPS = 22  # 1347 training examples in steps of 64
RENDER = """
model: {name: coordconv_rendering}
data: {name: not_so_clevr, task: rendering, split: quadrant, canvas: 16, square: 3, batch_size: 64,
       eval_batch_size: 256}
optim: {name: adam, lr: 0.005}
train: {epochs: 1, device: cuda, channels_last: true}
"""


def _run(tmp_path, name, overrides=(), text=DIGITS):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    store = Store(tmp_path / name)
    record = run_trial(load_spec(path, list(overrides)), 0, store)
    folder = store.trial_dir(record["trial_id"])
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return record, rows, folder


def _scale_loss(monkeypatch, factor: float) -> None:
    original = Task.loss
    monkeypatch.setattr(Task, "loss", lambda self, out, y, ls=0.0: original(self, out, y, ls) * factor)


@pytest.mark.parametrize(("name", "dtype"), [("bf16", "bfloat16"), ("fp16", "float16")])
def test_half_precision_trains_on_cuda_and_evaluates_in_fp32(tmp_path, name, dtype):
    exact, rows, _ = _run(tmp_path, f"{name}-exact", [f"train.precision={name}"])
    autocast, _, _ = _run(tmp_path, f"{name}-autocast", [f"train.precision={name}", "eval.precision=train"])
    assert exact["status"] == autocast["status"] == "complete", exact.get("error") or autocast.get("error")
    assert exact["device"].startswith("cuda") and exact["eval_dtype"] == "float32" and autocast["eval_dtype"] == dtype
    assert rows[1]["train_loss_epoch_avg"] < rows[0]["train_loss_epoch_avg"]  # it learns
    assert exact["final_test_acc"] > 0.2  # ten classes: chance is 0.1
    assert exact["final_test_loss"] == pytest.approx(autocast["final_test_loss"], rel=0.05)
    assert ("skipped_steps" in rows[0]) is (name == "fp16")


def test_an_fp16_overflow_on_cuda_is_skipped_not_diverged(tmp_path, monkeypatch):
    # a loss 4096 times larger: at the initial scale 65536 the scaled gradients overflow fp16
    _scale_loss(monkeypatch, 4096.0)
    record, rows, _ = _run(tmp_path, "fp16-overflow", ["train.precision=fp16", f"optim.lr={0.1 / 4096}"])
    assert record["status"] == "complete", record.get("error")
    assert 1 <= rows[0]["skipped_steps"] < STEPS and math.isfinite(rows[0]["train_loss_epoch_avg"])


def test_fp16_on_cuda_diverges_when_every_step_is_skipped(tmp_path, monkeypatch):
    _scale_loss(monkeypatch, math.inf)
    record, rows, _ = _run(tmp_path, "fp16-inf", ["train.precision=fp16"])
    assert record["status"] == "diverged" and record["diverged_at"] == {"epoch": 1, "step": STEPS - 1}
    assert rows[-1]["skipped_steps"] == STEPS


def test_a_nan_fp32_loss_on_cuda_diverges(tmp_path, monkeypatch):
    _scale_loss(monkeypatch, math.nan)
    record, _, _ = _run(tmp_path, "fp32-nan")
    assert record["status"] == "diverged" and record["diverged_at"] == {"epoch": 1, "step": 0}


def test_channels_last_images_on_cuda_give_the_same_numbers(tmp_path):
    plain, _, _ = _run(tmp_path, "plain", ["train.deterministic=true"])
    moved, _, _ = _run(tmp_path, "moved", ["train.deterministic=true", "train.channels_last=true"])
    assert plain["status"] == moved["status"] == "complete"
    assert moved["final_test_loss"] == pytest.approx(plain["final_test_loss"], rel=1e-3)
    assert moved["final_test_correct"] == pytest.approx(plain["final_test_correct"], abs=3)


def test_channels_last_coordinate_inputs_on_cuda(tmp_path):
    # CoordConv's (N, 2) coordinates have no channels to move: only 4-D batches change memory format
    record, rows, _ = _run(tmp_path, "render", text=RENDER)
    assert record["status"] == "complete", record.get("error")
    assert math.isfinite(rows[0]["train_loss_epoch_avg"])


def test_bf16_channels_last_together_on_cuda(tmp_path):
    record, _, _ = _run(tmp_path, "bf16-cl", ["train.precision=bf16", "train.channels_last=true"])
    assert record["status"] == "complete" and record["eval_dtype"] == "float32"


@pytest.mark.slow
def test_compile_on_cuda_gives_eager_numbers_and_times_its_compilation(tmp_path, own_inductor_cache):
    overrides = ["data.drop_last=true", "train.deterministic=true"]
    eager, _, _ = _run(tmp_path, "eager", overrides)
    compiled, rows, _ = _run(tmp_path, "compiled", [*overrides, "train.compile=true"])
    assert eager["status"] == compiled["status"] == "complete", compiled.get("error")
    assert compiled["final_test_loss"] == pytest.approx(eager["final_test_loss"], rel=1e-3)
    first = rows[0]["compile_time_s"]
    assert compiled["compile_time_s"] == first and 0 < first < rows[0]["epoch_time_s"]
    assert compiled["device_time_s"] == pytest.approx(sum(r["epoch_time_s"] for r in rows) - first)
    assert compiled["flops_per_train_step"] is None


@pytest.mark.skipif("on_device" not in DataSection.model_fields, reason="data.on_device is not in the schema yet")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_device_resident_data_on_cuda_gives_the_numbers_of_the_loader(tmp_path, precision):
    common = [f"train.precision={precision}", "train.deterministic=true"]
    loader, _, _ = _run(tmp_path, f"loader-{precision}", [*common, "data.on_device=false"])
    held, _, folder = _run(tmp_path, f"held-{precision}", [*common, "data.on_device=true"])
    assert loader["status"] == held["status"] == "complete", held.get("error")
    assert json.loads((folder / "data.json").read_text())["loading"]["on_device"] is True
    assert held["final_test_loss"] == pytest.approx(loader["final_test_loss"], rel=1e-4)
    assert held["final_train_loss_epoch_avg"] == pytest.approx(loader["final_train_loss_epoch_avg"], rel=1e-4)
