"""The GIT augmentation: keep probabilities, replay from the augment seed, value range, threshold, checkpoints."""

import numpy as np
import pytest
import torch

from scrutiny.data.augment import AugmentedDataset
from scrutiny.data.git_augment import GITTrainSplit, keep_probabilities, load_generator
from scrutiny.data.samplers import sampler_order
from scrutiny.errors import DataError
from scrutiny.models.git_generator import git_generator
from scrutiny.registry import DATASETS
from scrutiny.trials.batches import labels_of

FIT = {"epochs": 1, "batch_size": 32, "lr": 1e-3, "seed": 0}


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: on a loaded 2-core machine two threads make these small convolutions ten times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _bundle(**git):
    config = {"name": "git", "fit": FIT, "model": {"width": 8}, "threshold": 16, **git}
    if config["fit"] is None:  # a generator from a checkpoint instead of a fit
        del config["fit"]
    return DATASETS.get("digits_lt")(
        size=12, alpha=1.5, head=130, val_per_class=0, transform="rotation", augment=config
    )


def test_keep_probabilities_follow_the_reference_ramp():
    # reference core/train_baselines.py: max((K - n_c) / (K - n_min), 0)
    assert keep_probabilities(np.array([130, 16, 11, 5]), 16).tolist() == pytest.approx([0, 0, 5 / 11, 1])
    assert keep_probabilities(np.array([130, 16, 5]), None).tolist() == [1, 1, 1]
    assert keep_probabilities(np.array([130, 16, 5]), 5).tolist() == [0, 0, 0]


def test_the_augmentation_replays_from_the_seed_keeps_shape_and_range_and_spares_head_classes():
    bundle = _bundle(gen_frac=1.0)
    split, augment = bundle.splits["train"], bundle.augment
    assert isinstance(split, GITTrainSplit) and bundle.info["git"]["threshold"] == 16
    sizes = np.asarray(bundle.info["class_sizes"])
    assert augment.keep.tolist() == pytest.approx(keep_probabilities(sizes, 16).tolist())
    x_all, y_all = split.base.tensors
    low, high = float(x_all.min()), float(x_all.max())

    def epoch(seed, n_epoch=1):
        ds = AugmentedDataset(split, augment, seed)
        ds.set_epoch(n_epoch)
        return torch.stack([ds[i][0] for i in range(len(ds))])

    first, again, other_seed, other_epoch = epoch(3), epoch(3), epoch(4), epoch(3, 2)
    assert torch.equal(first, again) and first.shape == x_all.shape
    assert first.min() >= low and first.max() <= high
    changed = (first - x_all).flatten(1).abs().amax(1) > 0
    head = torch.as_tensor(sizes[y_all.numpy()] >= 16)
    tail = torch.as_tensor(sizes[y_all.numpy()] == sizes.min())
    assert not changed[head].any()  # keep = 0 at or above K: never generated
    assert changed[tail].all()  # keep = 1 and gen_frac = 1: always generated
    assert not torch.equal(first[tail], other_seed[tail]) and not torch.equal(first[tail], other_epoch[tail])


def test_it_combines_with_the_drs_sampler():
    bundle = _bundle()
    ds = AugmentedDataset(bundle.splits["train"], bundle.augment, 0)
    labels = labels_of(ds)
    assert torch.equal(labels, bundle.splits["train"].base.tensors[1])
    order = sampler_order(labels, torch.Generator().manual_seed(0), 3, "drs", 2)
    sizes = np.bincount(labels[order].numpy(), minlength=10)
    assert sizes.min() > 0 and len(order) == len(labels)


def test_a_generator_trained_by_a_trial_is_loaded_by_trial_id_and_folder(tmp_path):
    from scrutiny.cases import case_claim
    from scrutiny.spec import load_spec, trial_id
    from scrutiny.store import Store
    from scrutiny.trials.loop import run_trial

    path = case_claim("invariance").parent / "git_generator.yaml"
    spec = load_spec(path, ["train.epochs=1", "data.size=12", "model.width=8"])
    store = Store(tmp_path / "runs")
    record = run_trial(spec, 0, store, threads=1)
    assert record["status"] == "complete" and record["task"] == "transformation", record.get("error")
    assert record["final_test_recon"] > 0 and record["final_test_baseline"] > 0
    tid = trial_id(spec, 0)
    by_id, digest = load_generator(tid, str(tmp_path / "runs"))
    by_folder, digest_2 = load_generator(str(tmp_path / "runs" / tid))
    assert digest == digest_2
    for a, b in zip(by_id.state_dict().values(), by_folder.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    bundle = _bundle(generator=tid, store=str(tmp_path / "runs"), fit=None)
    assert bundle.info["git"]["generator"] == {"checkpoint_sha256": digest}


def test_a_checkpoint_that_does_not_fit_is_one_line(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    torch.save(git_generator(width=4).state_dict(), narrow := tmp_path / "narrow.pt")
    torch.save({"model": torch.nn.Linear(2, 2).state_dict()}, linear := tmp_path / "linear.pt")
    cases = [
        (str(garbage), "not a readable torch checkpoint"),
        (str(narrow), "has shape"),
        (str(linear), "missing keys"),
        (str(tmp_path / "absent.pt"), "no generator checkpoint"),
        ("0123456789ab-s0", "no generator checkpoint"),
    ]
    for ref, words in cases:
        with pytest.raises(DataError) as info:
            _bundle(generator=ref, fit=None, model={"width": 8})
        message = str(info.value)
        assert "\n" not in message and message.startswith("data.augment.generator: ") and words in message, message
        assert ref in message or str(tmp_path) in message


@pytest.mark.parametrize(
    ("git", "words"),
    [
        ({"colour": 1}, "data.augment: unknown key 'colour'"),
        ({"name": "gan"}, "data.augment.name"),
        ({"generator": "x.pt"}, "exactly one of 'generator'"),
        ({"threshold": 0}, "data.augment.threshold"),
        ({"gen_frac": 2.0}, "data.augment.gen_frac"),
        ({"fit": {"epoch": 1}}, "data.augment.fit: unknown key 'epoch'"),
        ({"model": {"depth": 3}}, "data.augment.model"),
    ],
)
def test_bad_settings_are_one_line(git, words):
    with pytest.raises(DataError) as info:
        _bundle(**git)
    assert "\n" not in str(info.value) and words in str(info.value)


def test_the_generator_dataset_has_the_transformation_task():
    bundle = DATASETS.get("git_lt")(size=12, transform="rotation", val_per_class=0)
    assert bundle.task == "transformation" and set(bundle.splits) == {"train", "test"} and bundle.augment is None
    with pytest.raises(DataError, match="data.augment"):
        DATASETS.get("git_lt")(size=12, augment="rotation")
