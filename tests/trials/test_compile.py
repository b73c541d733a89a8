"""``train.compile`` on the CPU: the same numbers as eager, the compilation timed apart from training."""

import json

import pytest
import torch

from scrutiny.spec import load_spec
from scrutiny.store import Store
from scrutiny.trials import run_trial

# drop_last: every batch has one shape, so the model compiles once, in the first step
DIGITS = """
model: {name: small_cnn, width: 8}
data: {name: digits, batch_size: 64, eval_batch_size: 450, drop_last: true}
optim: {name: sgd, lr: 0.1, momentum: 0.9}
train: {epochs: 2, device: cpu}
"""


@pytest.fixture(scope="module")
def compiles(own_inductor_cache):
    try:
        out = torch.compile(lambda x: x * 2 + 1)(torch.ones(3))
    except Exception as exc:  # no C++ compiler, an unsupported platform, ...
        pytest.skip(f"torch.compile does not work here: {type(exc).__name__}: {exc}")
    assert torch.equal(out, torch.full((3,), 3.0))


def _run(tmp_path, name, overrides=()):
    path = tmp_path / "digits.yaml"
    path.write_text(DIGITS)
    store = Store(tmp_path / name)
    record = run_trial(load_spec(path, list(overrides)), 0, store, threads=2)
    lines = (store.trial_dir(record["trial_id"]) / "metrics.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    return record, rows


@pytest.mark.slow
def test_a_compiled_trial_gives_eager_numbers_and_times_its_compilation(tmp_path, compiles):
    eager, _ = _run(tmp_path, "eager")
    compiled, rows = _run(tmp_path, "compiled", ["train.compile=true"])
    assert eager["status"] == compiled["status"] == "complete", compiled.get("error")
    assert compiled["final_test_loss"] == pytest.approx(eager["final_test_loss"], rel=1e-4)
    assert compiled["final_train_loss_epoch_avg"] == pytest.approx(eager["final_train_loss_epoch_avg"], rel=1e-4)
    # compilation is the first step of epoch 1, inside that epoch's time and out of the device time
    first = rows[0]["compile_time_s"]
    assert compiled["compile_time_s"] == first and 0 < first < rows[0]["epoch_time_s"]
    assert "compile_time_s" not in rows[1]
    assert compiled["device_time_s"] == pytest.approx(sum(r["epoch_time_s"] for r in rows) - first)
    assert compiled["flops_per_train_step"] is None and eager["flops_per_train_step"] > 0
    assert "compile_time_s" not in eager
