"""Batched augmentation: the same images as the per-example path for the same draws, replayable per (seed, epoch,
index), independent of batch size and order, and the published alternating flip."""

import pytest
import torch

from scrutiny.data.augment import RandomCropFlip
from scrutiny.data.batch_augment import BatchCropFlip, pad
from scrutiny.data.device_data import CompactImages, DeviceSplit


def _images(n=12, c=3, h=6, w=7):
    return torch.arange(n * c * h * w, dtype=torch.float32).reshape(n, c, h, w)


@pytest.mark.parametrize("pad_mode", ["zeros", "reflect"])
@pytest.mark.parametrize("flip", ["random", "alternating", "none"])
def test_batched_equals_per_example_for_the_same_draws(pad_mode, flip):
    x = _images()
    batched = BatchCropFlip(2, pad_mode, flip)
    draws = batched.draw(seed=5, epoch=3, n=len(x))
    out = batched.apply(x, draws)
    single = RandomCropFlip(2, flip != "none", pad_mode)
    expected = torch.stack([single.apply(x[i], BatchCropFlip.example_params(draws, i)) for i in range(len(x))])
    assert torch.equal(out, expected)


def test_crop_and_flip_by_hand():
    x = torch.tensor([[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]])[None]  # (1, 1, 3, 3)
    aug = BatchCropFlip(1, "zeros", "none")
    shift = {"top": torch.tensor([0]), "left": torch.tensor([0]), "flip": torch.tensor([False])}
    assert aug.apply(x, shift)[0, 0].tolist() == [[0, 0, 0], [0, 1, 2], [0, 4, 5]]  # moved down-right by one
    flipped = {"top": torch.tensor([1]), "left": torch.tensor([1]), "flip": torch.tensor([True])}
    assert aug.apply(x, flipped)[0, 0].tolist() == [[3, 2, 1], [6, 5, 4], [9, 8, 7]]  # centred, mirrored
    reflect = BatchCropFlip(1, "reflect", "none")
    assert reflect.apply(x, shift)[0, 0].tolist() == [[5, 4, 5], [2, 1, 2], [5, 4, 5]]  # edge not repeated
    assert pad(x, 1, "reflect")[0, 0, 0].tolist() == [5, 4, 5, 6, 5]


def test_draws_replay_and_do_not_depend_on_batching():
    aug = BatchCropFlip(4, "zeros", "random")
    first, again = aug.draw(7, 2, 100), aug.draw(7, 2, 100)
    assert all(torch.equal(first[k], again[k]) for k in first)  # (seed, epoch) -> the same draws
    other = aug.draw(7, 3, 100)
    assert not torch.equal(first["top"], other["top"])  # another epoch, other draws
    assert first["top"].min() == 0 and first["top"].max() == 8  # offsets 0..2*padding
    assert 30 < int(first["flip"].sum()) < 70

    x = _images(n=20)
    split = DeviceSplit(CompactImages(x, torch.arange(20)), torch.device("cpu"), aug, seed=7)
    split.set_epoch(2)
    order = torch.randperm(20, generator=torch.Generator().manual_seed(0))
    whole = torch.cat([b for b, _ in split.batches(order, 20, drop_last=False)])
    small = torch.cat([b for b, _ in split.batches(order, 3, drop_last=False)])
    assert torch.equal(whole, small)
    full = aug.apply(x, aug.draw(7, 2, 20))  # every example in dataset order
    assert torch.equal(whole, full[order])
    index = int(order[4])  # example `index` in epoch 2 of seed 7, replayed alone
    alone = RandomCropFlip(4).apply(x[index], BatchCropFlip.example_params(aug.draw(7, 2, 20), index))
    assert torch.equal(whole[4], alone)


def test_alternating_flip_sees_each_example_both_ways():
    aug = BatchCropFlip(0, "zeros", "alternating")
    e1, e2, e3 = (aug.draw(3, e, 1000)["flip"] for e in (1, 2, 3))
    assert torch.equal(e1, ~e2) and torch.equal(e1, e3)
    assert 400 < int(e1.sum()) < 600  # the one random mask flips about half
    assert not torch.equal(aug.draw(4, 1, 1000)["flip"], e1)  # another seed, another mask


def test_device_split_normalises_like_the_per_example_path():
    data = torch.randint(0, 256, (10, 3, 4, 4), dtype=torch.uint8)
    mean, std = torch.tensor([0.4, 0.5, 0.6]).view(3, 1, 1), torch.tensor([0.2, 0.25, 0.3]).view(3, 1, 1)
    split = DeviceSplit(CompactImages(data, torch.arange(10), 255.0, mean[None], std[None]), torch.device("cpu"))
    per_example = torch.stack([(data[i].float() / 255.0 - mean) / std for i in range(10)])
    batched = torch.cat([x for x, _ in split.eval_batches(4)])
    assert torch.equal(batched, per_example)
    assert torch.equal(split[3][0], per_example[3])
