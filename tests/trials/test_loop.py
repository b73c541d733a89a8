import json

import numpy as np
import pytest
import torch

from scrutiny.errors import CheckpointError
from scrutiny.spec import load_spec
from scrutiny.store import Store, load_checkpoint
from scrutiny.trials import run_trial

FAST = ["train.epochs=1"]


def test_a_trial_writes_its_folder(tiny_spec_file, store_dir):
    spec = load_spec(tiny_spec_file, ["eval.save_outputs=true"])
    record = run_trial(spec, 0, Store(store_dir), threads=1)
    folder = store_dir / record["trial_id"]
    assert record["status"] == "complete"
    assert {p.name for p in folder.iterdir()} >= {
        "spec.json",
        "trial.json",
        "metrics.jsonl",
        "result.json",
        "checkpoint.pt",
        "outputs.npz",
    }
    result = json.loads((folder / "result.json").read_text())
    assert result["schema_version"] == 1 and result["final_test_n"] == 450
    assert result["selected_on_test"] is True and result["best_selected_on"] == "test"
    assert result["final_test_acc"] == pytest.approx(
        json.loads((folder / "metrics.jsonl").read_text().splitlines()[-1])["test_acc"]
    )
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(r["test_n"] == 450 and r["train_n"] == 1347 for r in rows)
    start = json.loads((folder / "trial.json").read_text())
    assert start["backend_flags"]["num_threads"] == 1
    assert set(start["seeds"]) == {"root", "init", "data_order", "augment", "dropout", "eval"}
    assert start["environment"]["packages"]["torch"]
    outputs = np.load(folder / "outputs.npz")
    assert outputs["test_pred"].shape == (450,)
    assert (outputs["test_pred"] == outputs["test_target"]).mean() == pytest.approx(result["final_test_acc"])
    state = load_checkpoint(folder / "checkpoint.pt")
    assert state["epoch"] == 2 and "head.weight" in state["model"]


def test_same_seed_gives_identical_metrics(tiny_spec_file, tmp_path):
    spec = load_spec(tiny_spec_file, FAST)
    a = run_trial(spec, 3, Store(tmp_path / "a"), threads=1)
    b = run_trial(spec, 3, Store(tmp_path / "b"), threads=1)
    c = run_trial(spec, 4, Store(tmp_path / "c"), threads=1)
    keys = ("final_test_acc", "final_test_loss", "final_train_loss_epoch_avg")
    assert [a[k] for k in keys] == [b[k] for k in keys]
    assert a["final_test_loss"] != c["final_test_loss"]


def test_huge_learning_rate_ends_diverged(tiny_spec_file, store_dir):
    spec = load_spec(tiny_spec_file, ["optim.lr=1e20"])
    record = run_trial(spec, 0, Store(store_dir), threads=1)
    assert record["status"] == "diverged"
    assert record["diverged_at"]["epoch"] == 1 and record["diverged_at"]["step"] >= 0
    assert Store(store_dir).status(record["trial_id"]) == "diverged"


def test_a_crash_is_recorded_as_failed(tiny_spec_file, store_dir, monkeypatch):
    import scrutiny.trials.loop as loop

    def boom(*args, **kwargs):
        raise RuntimeError("kaput")

    monkeypatch.setattr(loop, "build_optimizer", boom)
    record = run_trial(load_spec(tiny_spec_file), 0, Store(store_dir), threads=1)
    assert record["status"] == "failed" and record["error"] == "RuntimeError: kaput"
    assert "Traceback" in record["traceback"]


def test_backend_flags_are_restored(tiny_spec_file, store_dir):
    before = (torch.are_deterministic_algorithms_enabled(), torch.get_num_threads())
    run_trial(load_spec(tiny_spec_file, FAST + ["train.deterministic=true"]), 0, Store(store_dir), threads=1)
    assert (torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()) == before
    start = json.loads(next(store_dir.glob("*/trial.json")).read_text())
    assert start["backend_flags"]["deterministic_algorithms"] is True


def test_corrupt_checkpoint_names_the_file(tmp_path):
    bad = tmp_path / "checkpoint.pt"
    bad.write_bytes(b"not a zip file at all")
    with pytest.raises(CheckpointError, match=r"checkpoint\.pt: corrupt or unsafe checkpoint"):
        load_checkpoint(bad)
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"model": {"w": torch.ones(2)}}, tmp_path / "good.pt")
    raw = (tmp_path / "good.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.pt: corrupt"):
        load_checkpoint(tmp_path / "cut.pt")


def test_class_balanced_and_drs_orders_are_used_by_the_loop(tiny_spec_file, tmp_path):
    from scrutiny.data.samplers import sampler_order
    from scrutiny.registry import DATASETS
    from scrutiny.trials.batches import labels_of, train_batches

    labels = labels_of(DATASETS.get("digits")().splits["train"])
    g = torch.Generator().manual_seed(0)
    order = sampler_order(labels, g, 1, "class_balanced")
    ds = DATASETS.get("digits")().splits["train"]
    seen = torch.cat([y for _, y in train_batches(ds, 64, g, drop_last=False, num_workers=0, order=order)])
    assert torch.equal(seen, labels[order])  # batches follow the given order exactly
    spec = load_spec(tiny_spec_file, ["data.sampler=drs", "data.drs_start_epoch=2"])
    record = run_trial(spec, 0, Store(tmp_path / "drs"), threads=1)
    uniform = run_trial(load_spec(tiny_spec_file), 0, Store(tmp_path / "uni"), threads=1)
    assert record["status"] == "complete"
    rows = Store(tmp_path / "drs").metrics(record["trial_id"])
    rows_u = Store(tmp_path / "uni").metrics(uniform["trial_id"])
    assert rows[0]["train_loss_epoch_avg"] == rows_u[0]["train_loss_epoch_avg"]  # epoch 1 is uniform under drs
    assert rows[1]["train_loss_epoch_avg"] != rows_u[1]["train_loss_epoch_avg"]  # epoch 2 samples balanced


def test_drs_needs_its_start_epoch(tiny_spec_file):
    from scrutiny.errors import SpecError

    with pytest.raises(SpecError, match="drs_start_epoch: required when sampler is 'drs'"):
        load_spec(tiny_spec_file, ["data.sampler=drs"])
