import pytest
import torch

from scrutiny.data import AugmentedDataset, RandomCropFlip
from scrutiny.errors import DataError
from scrutiny.registry import DATASETS


def test_digits_split_is_fixed_stratified_and_standardised():
    bundle = DATASETS.get("digits")()
    train, test = bundle.splits["train"], bundle.splits["test"]
    assert (len(train), len(test)) == (1347, 450)
    from scrutiny.data.digits import load_digits_arrays

    per_class = torch.bincount(torch.from_numpy(load_digits_arrays()[1]), minlength=10)
    counts = torch.bincount(test.tensors[1], minlength=10)
    assert ((counts - per_class * 0.25).abs() <= 1).all()  # 25% of each class, rounded either way
    assert abs(float(train.tensors[0].mean())) < 1e-5 and abs(float(train.tensors[0].std()) - 1) < 1e-4
    again = DATASETS.get("digits")()
    assert torch.equal(again.splits["test"].tensors[1], test.tensors[1])


def test_digits_resize_and_channels():
    bundle = DATASETS.get("digits")(size=32, channels=3)
    x, _ = bundle.splits["train"][0]
    assert x.shape == (3, 32, 32) and bundle.image_size == (32, 32) and bundle.in_channels == 3


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_missing_data_says_how_to_get_it(tmp_path, name):
    with pytest.raises(DataError, match="data.root: required"):
        DATASETS.get(name)()
    with pytest.raises(DataError, match=f"{name} not found in '{tmp_path}'.*download=true"):
        DATASETS.get(name)(root=str(tmp_path))


def test_imagefolder_requires_both_splits(tmp_path):
    (tmp_path / "train" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="Found no valid file"):  # an empty class folder
        DATASETS.get("imagefolder")(root=str(tmp_path))
    from PIL import Image

    Image.new("RGB", (10, 12)).save(tmp_path / "train" / "a" / "x.png")
    with pytest.raises(DataError, match="val' does not exist"):
        DATASETS.get("imagefolder")(root=str(tmp_path))


def test_augmentation_is_replayable_per_epoch_and_index():
    base = torch.utils.data.TensorDataset(torch.arange(2 * 3 * 8 * 8).float().view(2, 3, 8, 8), torch.tensor([0, 1]))
    ds = AugmentedDataset(base, RandomCropFlip(padding=2), seed=11)
    ds.set_epoch(1)
    first = ds[0][0]
    assert torch.equal(ds[0][0], first)  # same (epoch, index): same draw
    params = ds.params(0, (3, 8, 8))
    assert torch.equal(RandomCropFlip(padding=2).apply(base[0][0], params), first)
    draws = set()
    for epoch in range(2, 12):
        ds.set_epoch(epoch)
        p = ds.params(0, (3, 8, 8))
        draws.add((p["top"], p["left"], p["flip"]))
    assert len(draws) > 3  # epochs draw differently
