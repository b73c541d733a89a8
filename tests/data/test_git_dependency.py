"""A GIT classifier's generator is a trial of its own: run once, shared, recorded, waited for, failed loudly."""

import json

import pytest
import torch

from scrutiny.data.augment import AugmentedDataset
from scrutiny.data.git_augment import generator_spec, load_generator
from scrutiny.data.long_tail import class_sizes
from scrutiny.errors import DataError
from scrutiny.registry import DATASETS
from scrutiny.running import ensure_trial
from scrutiny.spec import load_spec, trial_id
from scrutiny.store import Store
from scrutiny.trials.dependencies import run_dependency
from scrutiny.trials.loop import run_trial

CLASSIFIER = """
model: {name: small_cnn, width: 4}
data: {name: digits_lt, size: 8, val_per_class: 0, head: 60, alpha: 1.5, transform: rotation, batch_size: 64,
       sampler: drs, drs_start_epoch: 2,
       augment: {name: git, fit: {epochs: 1, batch_size: 64, lr: 0.001, seed: 3}, model: {width: 4},
                 threshold: 16, start_epoch: 2}}
train: {epochs: 2, device: cpu}
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "git.yaml"
    path.write_text(CLASSIFIER)
    return load_spec(path)


def test_seeds_share_one_generator_trial_and_record_it(spec, tmp_path):
    store = Store(tmp_path / "runs")
    first = run_trial(spec, 0, store, threads=1)
    second = run_trial(spec, 1, store, threads=1)
    assert first["status"] == second["status"] == "complete", (first.get("error"), second.get("error"))
    generator = trial_id(generator_spec(spec, spec.data.model_dump()["augment"]), 3)  # fit seed 3
    assert sorted(store.trial_ids()) == sorted([first["trial_id"], second["trial_id"], generator])
    assert store.result(generator)["task"] == "transformation" and store.spec(generator)["seed"] == 3
    digest = (store.trial_dir(generator) / "checkpoint.pt.sha256").read_text().split()[0]
    expected = [{"trial": generator, "role": "data.augment generator", "checkpoint_sha256": digest}]
    for record in (first, second):
        assert record["depends_on"] == expected
        data = json.loads((store.trial_dir(record["trial_id"]) / "data.json").read_text())
        assert data["depends_on"] == expected and data["info"]["git"]["generator"] == expected[0]
        assert sorted(data["info"]["class_sizes"], reverse=True) == class_sizes(10, 1.5, 60, 5)
    assert load_generator(str(store.trial_dir(generator)))[1] == digest


def test_a_failed_generator_trial_fails_the_classifier_in_one_line(spec, tmp_path):
    store = Store(tmp_path / "runs")
    generator = generator_spec(spec, spec.data.model_dump()["augment"])
    gid = trial_id(generator, 3)
    writer = store.begin(gid, {"trial_id": gid, "seed": 3, "spec": generator.to_dict()})
    writer.finish({"trial_id": gid, "status": "failed", "error": "boom"})
    record = run_trial(spec, 0, store, threads=1)
    assert record["status"] == "failed"
    error = record["error"]
    assert "\n" not in error and f"the trial it depends on, {gid}, failed (boom)" in error
    assert str(store.trial_dir(gid)) in error


def test_waiting_for_a_generator_another_process_runs_gives_up_in_one_line(spec, tmp_path):
    store = Store(tmp_path / "runs")
    generator = generator_spec(spec, spec.data.model_dump()["augment"])
    lock = store.lock(trial_id(generator, 3))  # as if another worker were training it
    try:
        with pytest.raises(DataError) as info:
            run_dependency(store, 1, generator, 3, "data.augment.fit", wait_s=0.0, poll_s=0.0)
    finally:
        lock.release()
    assert "\n" not in str(info.value) and "which another process runs" in str(info.value)
    with pytest.raises(DataError, match="only be run from inside a trial"):
        ensure_trial(generator, 3, role="data.augment.fit")
    assert run_dependency(store, 1, generator, 3, "data.augment.fit") == trial_id(generator, 3)  # free: run here
    assert store.status(trial_id(generator, 3)) == "complete"


def test_git_starts_at_start_epoch():
    config = {"name": "git", "fit": {"epochs": 1, "seed": 0}, "model": {"width": 4}, "threshold": None,
              "gen_frac": 1.0, "start_epoch": 3}  # fmt: skip
    bundle = DATASETS.get("digits_lt")(
        size=8, alpha=1.5, head=60, val_per_class=0, transform="rotation", augment=config
    )
    assert bundle.info["git"]["generator"] == {"fitted_in_process": True} and bundle.info["git"]["start_epoch"] == 3
    ds = AugmentedDataset(bundle.splits["train"], bundle.augment, 0)
    base = bundle.splits["train"].base.tensors[0]

    def epoch(n):
        ds.set_epoch(n)
        return torch.stack([ds[i][0] for i in range(len(ds))])

    assert torch.equal(epoch(1), base) and torch.equal(epoch(2), base)  # before start_epoch: the real images
    assert not torch.equal(epoch(3), base)  # gen_frac 1 on every class: every image is generated from then on
    with pytest.raises(DataError, match="data.augment.start_epoch"):
        DATASETS.get("digits_lt")(size=8, head=60, val_per_class=0, augment={**config, "start_epoch": 0})
