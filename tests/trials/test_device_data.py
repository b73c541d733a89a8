"""``data.on_device``: device-resident splits with batched augmentation through the trial loop, on the CPU; and
``train.max_steps``, the fractional last epoch."""

import json

import pytest
import torch
from torch.utils.data import Dataset

from scrutiny.data import DataBundle
from scrutiny.data.cifar_files import write_random_cifar10
from scrutiny.data.device_data import place_splits
from scrutiny.errors import DataError
from scrutiny.spec import load_spec
from scrutiny.store import Store
from scrutiny.trials import run_trial

DIGITS = """
model: {name: small_cnn, width: 4}
data: {name: digits, batch_size: 128, eval_batch_size: 512}
optim: {name: sgd, lr: 0.1, momentum: 0.9}
train: {epochs: 2, device: cpu}
"""
CIFAR = """
model: {name: small_cnn, width: 4}
data: {name: cifar10, batch_size: 32, crop_padding: 2, pad_mode: reflect, flip: alternating, on_device: true}
optim: {name: sgd, lr: 0.05, momentum: 0.9}
train: {epochs: 2, device: cpu}
"""


def _run(tmp_path, text, name, overrides=()):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    store = Store(tmp_path / name)
    record = run_trial(load_spec(path, list(overrides)), 0, store, threads=1)
    return record, store.trial_dir(record["trial_id"])


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    write_random_cifar10(root, 96, 40)
    return root


def test_on_device_gives_the_numbers_of_the_tensor_path(tmp_path):
    plain, plain_dir = _run(tmp_path, DIGITS, "plain", ["data.on_device=false"])
    held, held_dir = _run(tmp_path, DIGITS, "held", ["data.on_device=true"])
    assert plain["status"] == held["status"] == "complete"
    assert held["final_test_loss"] == plain["final_test_loss"]  # same order, same values: bit for bit
    assert held["final_train_loss_epoch_avg"] == plain["final_train_loss_epoch_avg"]
    loading = json.loads((held_dir / "data.json").read_text())["loading"]
    assert loading["on_device"] is True and loading["storage"] == "float32" and loading["augment"] is None
    assert json.loads((plain_dir / "data.json").read_text())["loading"]["on_device"] is False


def test_auto_keeps_the_cpu_path(tmp_path):
    _, folder = _run(tmp_path, DIGITS, "auto")
    assert json.loads((folder / "data.json").read_text())["loading"]["on_device"] is False


def test_cifar_bytes_on_the_device_with_the_airbench_augmentation(tmp_path, cifar_root):
    record, folder = _run(tmp_path, CIFAR, "cifar", [f"data.root={cifar_root}"])
    assert record["status"] == "complete", record.get("error")
    assert record["final_test_n"] == 40 and record["train_steps"] == 2 * 3
    loading = json.loads((folder / "data.json").read_text())["loading"]
    assert loading["storage"] == "uint8" and loading["bytes"] == (96 + 40) * 3072 + (96 + 40) * 8
    assert loading["augment"] == {"name": "crop_flip", "padding": 2, "pad_mode": "reflect", "flip": "alternating"}
    again, _ = _run(tmp_path, CIFAR, "cifar_again", [f"data.root={cifar_root}"])
    assert again["final_test_loss"] == record["final_test_loss"]  # the draws replay


def test_alternating_flip_needs_the_batched_path(tmp_path, cifar_root):
    record, _ = _run(tmp_path, CIFAR, "alt", [f"data.root={cifar_root}", "data.on_device=false"])
    assert record["status"] == "failed"
    assert record["error"].startswith("DataError: data.on_device: this augmentation")
    assert "\n" not in record["error"]


class _Lazy(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return torch.zeros(1, 2, 2), 0


def test_a_split_not_in_memory_cannot_be_placed():
    bundle = DataBundle(splits={"train": _Lazy(), "test": _Lazy()}, num_classes=2, in_channels=1, image_size=(2, 2))
    cpu = torch.device("cpu")
    with pytest.raises(DataError, match=r"^data.on_device: the training split \(_Lazy\) is not held in memory"):
        place_splits(True, bundle, _Lazy(), _Lazy(), cpu, 0)
    assert place_splits("auto", bundle, _Lazy(), _Lazy(), cpu, 0) is None


def test_max_steps_cuts_the_last_epoch(tmp_path):
    # digits: 1,347 training examples, 11 steps of 128 per epoch; 3 epochs cut at 25 steps = 2 full + 3 steps
    record, folder = _run(tmp_path, DIGITS, "cut", ["train.epochs=3", "train.max_steps=25"])
    assert record["status"] == "complete" and record["train_steps"] == 25 and record["epochs"] == 3
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [r["train_n"] for r in rows] == [1347, 1347, 3 * 128]
    early, _ = _run(tmp_path, DIGITS, "early", ["train.epochs=5", "train.max_steps=22"])
    assert early["epochs"] == 2 and early["train_steps"] == 22  # stops at the end of epoch 2, evaluated there
