import math

import pytest
import torch

from scrutiny.errors import ScrutinyError
from scrutiny.spec.schema import ScheduleSection
from scrutiny.trials import STREAMS, TrialSeeds, derive_seed, parse_seeds
from scrutiny.trials.batches import train_batches
from scrutiny.trials.optim import lr_factor, param_groups


def test_streams_are_distinct_and_stable():
    seeds = TrialSeeds.from_root(0)
    values = [getattr(seeds, s) for s in STREAMS]
    assert len(set(values)) == len(values)
    assert all(0 <= v < 2**63 for v in values)
    assert TrialSeeds.from_root(0) == seeds and TrialSeeds.from_root(1) != seeds


def test_derive_seed_matches_its_definition():
    import hashlib

    expected = int.from_bytes(hashlib.sha256(b"7:data_order").digest()[:8], "little") >> 1
    assert derive_seed(7, "data_order") == expected


@pytest.mark.parametrize(
    ("text", "seeds"),
    [("0", [0]), ("0-4", [0, 1, 2, 3, 4]), ("0,3,7", [0, 3, 7]), ("0-2,9", [0, 1, 2, 9]), ("2,2,1", [2, 1])],
)
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a", "3-1", "-1", "1-", "1.5"])
def test_parse_seeds_rejects(text):
    with pytest.raises(ScrutinyError, match="seeds"):
        parse_seeds(text)


def test_training_order_is_randomsampler_order():
    from torch.utils.data import RandomSampler, TensorDataset

    ds = TensorDataset(torch.arange(10).float(), torch.arange(10))
    fast = torch.cat(
        [y for _, y in train_batches(ds, 3, torch.Generator().manual_seed(5), drop_last=False, num_workers=0)]
    )
    reference = list(RandomSampler(ds, generator=torch.Generator().manual_seed(5)))
    assert fast.tolist() == reference
    dropped = list(train_batches(ds, 3, torch.Generator().manual_seed(5), drop_last=True, num_workers=0))
    assert [len(y) for _, y in dropped] == [3, 3, 3]


def test_schedules():
    assert lr_factor(ScheduleSection(name="constant"), 3.3, 10) == 1.0
    multistep = ScheduleSection(name="multistep", milestones=(2, 4), gamma=0.1)
    assert [lr_factor(multistep, t, 6) for t in (0, 1.99, 2, 4.5)] == [1.0, 1.0, 0.1, pytest.approx(0.01)]
    assert lr_factor(ScheduleSection(name="step", step_size=3, gamma=0.5), 6.0, 10) == 0.25
    cosine = ScheduleSection(name="cosine")
    assert lr_factor(cosine, 0, 10) == 1.0 and lr_factor(cosine, 5, 10) == pytest.approx(0.5)
    warm = ScheduleSection(name="cosine", warmup_epochs=2)
    assert lr_factor(warm, 1.0, 10) == 0.5 and lr_factor(warm, 2.0, 10) == 1.0
    assert lr_factor(warm, 6.0, 10) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))


def test_weight_decay_on_weights_only():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    groups = param_groups(model, 5e-4, "weights_only")
    assert [len(g["params"]) for g in groups] == [1, 3] and groups[1]["weight_decay"] == 0.0
    assert len(param_groups(model, 5e-4, "all")) == 1
