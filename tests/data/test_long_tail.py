"""Long-tailed class sizes and instances, the digits_lt and kuzushiji49_lt builders, and training-order samplers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scrutiny.data.long_tail import (
    alpha_for_imbalance,
    bundle_transform,
    class_sizes,
    long_tail_indices,
)
from scrutiny.data.samplers import class_balanced_order, sampler_order
from scrutiny.data.transforms import Rotation, TransformAugment
from scrutiny.errors import DataError, ScrutinyError
from scrutiny.registry import DATASETS

# The reference's K49-LT sizes (alpha 2.0, head 4800, 49 classes): max(floor(4800 / i^2), 5).
K49_SIZES = [4800, 1200, 533, 300, 192, 133, 97, 75, 59, 48, 39, 33, 28, 24, 21, 18, 16, 14, 13, 12, 10, 9, 9, 8, 7]
K49_SIZES += [7, 6, 6] + [5] * 21


def test_class_sizes_match_the_reference_k49_lt():
    sizes = class_sizes(49, alpha=2.0, head=4800, min_per_class=5)
    assert sizes == K49_SIZES and sum(sizes) == 7822 and sizes.count(5) == 21
    assert sum(class_sizes(49, 1.02, 4800)) == 20771 and min(class_sizes(49, 1.02, 4800)) == 90
    assert sum(class_sizes(49, 1.2, 4800)) == 15822 and min(class_sizes(49, 1.2, 4800)) == 44


def test_class_sizes_by_hand():
    # 100/1, 100/4, floor(100/9 = 11.1), floor(100/16 = 6.25), then 100/25 = 4 and below floor to the minimum 5
    assert class_sizes(10, 2.0, 100, 5) == [100, 25, 11, 6, 5, 5, 5, 5, 5, 5]
    # 1000 / i^1.5: 1000, 353.6, 192.5, 125 (exact: 4^1.5 = 8), 89.4; the float zipf-pmf path gives 999 and 124
    assert class_sizes(5, 1.5, 1000, 0) == [1000, 353, 192, 125, 89]
    assert class_sizes(3, 0.0, 7, 0) == [7, 7, 7]  # alpha 0: balanced
    assert alpha_for_imbalance(100, 10) == pytest.approx(2.0)  # 10^2 = 100
    assert class_sizes(10, alpha_for_imbalance(100, 10), 100, 0)[-1] == 1  # head / imbalance
    with pytest.raises(DataError, match="num_classes >= 1"):
        class_sizes(0)


def test_long_tail_indices_assign_sizes_by_seeded_class_order_and_cycle():
    labels = np.repeat(np.arange(4), [10, 10, 3, 10])
    inst = long_tail_indices(labels, [8, 4, 2, 1], order_seed=0, select_seed=1)
    assert sorted(inst.class_order.tolist()) == [0, 1, 2, 3]
    assert [inst.sizes[c] for c in inst.class_order] == [8, 4, 2, 1]
    assert np.bincount(labels[inst.indices], minlength=4).tolist() == inst.sizes.tolist()
    again = long_tail_indices(labels, [8, 4, 2, 1], order_seed=0, select_seed=1)
    assert np.array_equal(inst.indices, again.indices)
    orders = {tuple(long_tail_indices(labels, [8, 4, 2, 1], order_seed=s).class_order) for s in range(10)}
    assert len(orders) > 3  # instances differ by class order
    first = long_tail_indices(np.repeat(np.arange(2), [3, 5]), [5, 1], order_seed=0)  # dataset order, cycled
    head = int(first.class_order[0])
    picked = first.indices[np.repeat(np.arange(2), [3, 5])[first.indices] == head]
    pool = np.flatnonzero(np.repeat(np.arange(2), [3, 5]) == head)
    assert picked.tolist() == pool[np.arange(5) % pool.size].tolist()
    assert first.repeats[head] == 5 - pool.size


def test_digits_lt_end_to_end():
    bundle = DATASETS.get("digits_lt")(instance=0)
    info = bundle.info
    assert sorted(info["class_sizes"]) == sorted([100, 25, 11, 6, 5, 5, 5, 5, 5, 5])
    assert [info["class_sizes"][c] for c in info["class_order"]] == [100, 25, 11, 6, 5, 5, 5, 5, 5, 5]
    train, val, test = (bundle.splits[s] for s in ("train", "val", "test"))
    assert torch.bincount(train.tensors[1], minlength=10).tolist() == info["class_sizes"]
    assert torch.bincount(val.tensors[1], minlength=10).tolist() == [30] * 10
    assert torch.bincount(test.tensors[1], minlength=10).tolist() == [43] * 10  # balanced: the smallest class
    assert train.tensors[0].shape == (172, 1, 28, 28) and bundle.image_size == (28, 28)
    assert abs(float(train.tensors[0].mean())) < 1e-5 and abs(float(train.tensors[0].std()) - 1) < 1e-4
    assert info["n_repeated"] == [0] * 10 and "test_clean" not in bundle.splits and bundle.augment is None
    other = DATASETS.get("digits_lt")(instance=1)
    assert other.info["class_order"] != info["class_order"]
    assert torch.equal(other.splits["test"].tensors[1], test.tensors[1])  # the test split does not depend on it


def test_digits_lt_transformed_once_at_build_time():
    plain = DATASETS.get("digits_lt")(size=16)
    rot = DATASETS.get("digits_lt")(size=16, transform="rotation", augment="rotation")
    assert rot.info["class_sizes"] == plain.info["class_sizes"]  # same instance: same images, now rotated
    assert not torch.allclose(rot.splits["train"].tensors[0], plain.splits["train"].tensors[0])
    assert torch.equal(rot.splits["train"].tensors[1], plain.splits["train"].tensors[1])
    clean = rot.splits["test_clean"].tensors[0]
    norm = rot.info["normalize"]
    plain_raw = plain.splits["test"].tensors[0] * plain.info["normalize"]["std"] + plain.info["normalize"]["mean"]
    assert torch.allclose(clean * norm["std"] + norm["mean"], plain_raw, atol=1e-5)  # untransformed test images
    again = DATASETS.get("digits_lt")(size=16, transform="rotation")
    assert torch.equal(again.splits["train"].tensors[0], rot.splits["train"].tensors[0])  # seeded by the instance
    assert isinstance(rot.augment, TransformAugment) and rot.augment.transform.mean == pytest.approx(norm["mean"])
    tfm = bundle_transform(rot, "rotation")
    assert isinstance(tfm, Rotation) and tfm.std == pytest.approx(norm["std"])
    with pytest.raises(DataError, match="data.transform: expected one of"):
        DATASETS.get("digits_lt")(transform="shear")
    with pytest.raises(DataError, match="either alpha or imbalance"):
        DATASETS.get("digits_lt")(alpha=1.0, imbalance=10.0)


def test_kuzushiji49_lt_missing_files_say_how_to_get_them(tmp_path):
    with pytest.raises(DataError, match="data.root: required for kuzushiji49_lt"):
        DATASETS.get("kuzushiji49_lt")()
    with pytest.raises(DataError, match=r"k49-train-imgs.npz' is missing; download .*rois-codh/kmnist") as err:
        DATASETS.get("kuzushiji49_lt")(root=str(tmp_path))
    assert "\n" not in str(err.value)


def test_kuzushiji49_lt_reads_the_published_npz_layout(tmp_path):
    rng = np.random.default_rng(0)
    train_y, test_y = np.repeat(np.arange(49), 60), np.repeat(np.arange(49), 2)
    for split, y in (("train", train_y), ("test", test_y)):
        np.savez(tmp_path / f"k49-{split}-imgs.npz", rng.integers(0, 256, (y.size, 28, 28), dtype=np.uint8))
        np.savez(tmp_path / f"k49-{split}-labels.npz", y.astype(np.uint8))
    bundle = DATASETS.get("kuzushiji49_lt")(root=str(tmp_path), head=10, val_per_class=2)
    assert sorted(bundle.info["class_sizes"], reverse=True) == class_sizes(49, 2.0, 10, 5)  # [10, 5 x 48]
    assert torch.bincount(bundle.splits["train"].tensors[1], minlength=49).tolist() == bundle.info["class_sizes"]
    assert torch.bincount(bundle.splits["val"].tensors[1], minlength=49).tolist() == [2] * 49
    assert len(bundle.splits["test"]) == 98 and bundle.in_channels == 1 and bundle.num_classes == 49
    with pytest.raises(DataError, match="data.val_per_class: class .* fewer than the 40 asked for"):
        DATASETS.get("kuzushiji49_lt")(root=str(tmp_path), head=10, val_per_class=40)


def test_class_balanced_order_has_equal_class_frequencies_over_many_draws():
    labels = torch.repeat_interleave(torch.tensor([0, 2, 3]), torch.tensor([100, 10, 1]))  # class 1 absent
    g = torch.Generator().manual_seed(0)
    draws = torch.cat([class_balanced_order(labels, g) for _ in range(200)])  # 200 epochs of 111 = 22,200 draws
    freq = torch.bincount(labels[draws], minlength=4).double() / draws.numel()
    assert freq[1] == 0 and torch.allclose(freq[[0, 2, 3]], torch.full((3,), 1 / 3, dtype=torch.float64), atol=0.015)
    within = torch.bincount(draws[labels[draws] == 2] - 100, minlength=10).double()  # class 2: uniform over 10
    assert (within / within.sum() - 0.1).abs().max() < 0.02
    assert torch.equal(draws[labels[draws] == 3], torch.full_like(draws[labels[draws] == 3], 110))
    a = class_balanced_order(labels, torch.Generator().manual_seed(5), n=50)
    b = class_balanced_order(labels, torch.Generator().manual_seed(5), n=50)
    assert torch.equal(a, b) and a.shape == (50,)


def test_sampler_order_uniform_class_balanced_and_drs():
    labels = torch.repeat_interleave(torch.arange(3), torch.tensor([50, 5, 1]))
    uniform = sampler_order(labels, torch.Generator().manual_seed(1), epoch=1, kind="uniform")
    assert torch.equal(uniform, torch.randperm(56, generator=torch.Generator().manual_seed(1)))  # as train_batches
    early = sampler_order(labels, torch.Generator().manual_seed(1), epoch=2, kind="drs", drs_start_epoch=3)
    late = sampler_order(labels, torch.Generator().manual_seed(1), epoch=3, kind="drs", drs_start_epoch=3)
    assert torch.equal(early, uniform)
    assert torch.equal(late, class_balanced_order(labels, torch.Generator().manual_seed(1)))
    with pytest.raises(ScrutinyError, match="drs_start_epoch"):
        sampler_order(labels, torch.Generator(), epoch=1, kind="drs")
    with pytest.raises(ScrutinyError, match="unknown kind 'balanced'"):
        sampler_order(labels, torch.Generator(), epoch=1, kind="balanced")
