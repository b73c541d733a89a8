"""ImageNet training augmentation: drawn apart from applied, replayable, and wired through ``imagefolder``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from scrutiny.data.augment import AugmentedDataset
from scrutiny.data.imagenet_aug import PCA_EIGVAL, PCA_EIGVEC, ImageNetTrainAugment, jitter, lighting
from scrutiny.errors import DataError
from scrutiny.registry import DATASETS

IMAGE = torch.randint(0, 256, (3, 60, 90), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def _aug(**kwargs) -> ImageNetTrainAugment:
    base = {"size": 32, "resize": 36, "scale_range": (36, 60)}
    return ImageNetTrainAugment(**{**base, **kwargs})


@pytest.mark.parametrize("train_aug", ["scale_jitter", "scale_aspect", "none"])
def test_same_generator_same_params_and_apply_is_deterministic(train_aug):
    aug = _aug(train_aug=train_aug, color_jitter=0.4, lighting_std=0.1)
    p1 = aug.draw(torch.Generator().manual_seed(3), tuple(IMAGE.shape))
    p2 = aug.draw(torch.Generator().manual_seed(3), tuple(IMAGE.shape))
    assert p1 == p2 and json.loads(json.dumps(p1)) == p1  # plain data: storable and replayable
    y1, y2 = aug.apply(IMAGE, p1), aug.apply(IMAGE, json.loads(json.dumps(p1)))
    assert y1.shape == (3, 32, 32) and y1.dtype == torch.float32 and torch.equal(y1, y2)
    draws = [aug.draw(torch.Generator().manual_seed(s), tuple(IMAGE.shape)) for s in range(20)]
    if train_aug != "none":
        assert len({json.dumps(d["crop"]) for d in draws}) > 1
    assert {d["flip"] for d in draws} == {True, False}
    assert {tuple(k for k, _ in d["jitter"]) for d in draws} != {("brightness", "contrast", "saturation")}


def test_scale_jitter_samples_the_shorter_side_in_range_and_crops_inside():
    aug = _aug(train_aug="scale_jitter")
    for s in range(50):
        p = aug.draw(torch.Generator().manual_seed(s), (3, 60, 90))
        h, w = p["resized"]
        assert 36 <= h <= 60 and w == int(np.floor(h * 1.5 + 0.5))  # shorter side is the height; longer rounded
        top, left, ch, cw = p["crop"]
        assert (ch, cw) == (32, 32) and 0 <= top <= h - 32 and 0 <= left <= w - 32


def test_scale_aspect_crop_area_and_ratio_and_fallback():
    aug = _aug(train_aug="scale_aspect")
    for s in range(50):
        p = aug.draw(torch.Generator().manual_seed(s), (3, 60, 90))
        top, left, h, w = p["crop"]
        if p["resized"] is None:
            assert 0 <= top <= 60 - h and 0 <= left <= 90 - w
            assert 0.06 <= h * w / (60 * 90) <= 1.0
            assert max(h / w, w / h) <= (4 / 3) ** 2 * 1.1  # fb's crop ratio is r², up to 16/9 (see module doc)
    tiny = _aug(train_aug="scale_aspect", area_range=(0.99, 1.0), ratio_range=(0.2, 0.25))
    p = tiny.draw(torch.Generator().manual_seed(0), (3, 60, 90))  # no crop of that shape fits: fb's fallback
    assert p["resized"] == [32, 48] and p["crop"] == [0, 8, 32, 32]


def test_colour_operations_match_fb_resnet_torch():
    x = torch.rand(3, 5, 7, generator=torch.Generator().manual_seed(0))
    grey = 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]
    assert torch.allclose(jitter(x, "brightness", 1.3), 1.3 * x)
    assert torch.allclose(jitter(x, "saturation", 0.0), grey.expand(3, -1, -1))
    assert torch.allclose(jitter(x, "contrast", 0.0), grey.mean().expand(3, 5, 7))
    shift = lighting(x, [1.0, 0.0, 0.0]) - x
    expected = torch.tensor([row[0] * PCA_EIGVAL[0] for row in PCA_EIGVEC])
    assert torch.allclose(shift[:, 0, 0], expected, atol=1e-6) and torch.allclose(shift, shift[:, :1, :1])


def test_flip_mirrors_and_bad_arguments_raise():
    aug = _aug(train_aug="none")
    p = aug.draw(torch.Generator().manual_seed(0), tuple(IMAGE.shape))
    assert torch.equal(aug.apply(IMAGE, {**p, "flip": True}), aug.apply(IMAGE, {**p, "flip": False}).flip(-1))
    with pytest.raises(ValueError, match="train_aug"):
        ImageNetTrainAugment(train_aug="random")
    with pytest.raises(ValueError, match="scale_range"):
        ImageNetTrainAugment(scale_range=(100, 480))


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in ("a", "b"):
            d = tmp_path / split / c
            d.mkdir(parents=True)
            for i, (w, h) in enumerate([(70, 50), (45, 66), (60, 60)]):
                Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(d / f"{i}.png")
    return tmp_path


def test_imagefolder_without_augmentation_is_unchanged(folder):
    bundle = DATASETS.get("imagefolder")(root=str(folder), size=32, resize=36)
    assert bundle.augment is None and bundle.train_split == "train" and set(bundle.splits) == {"train", "val"}


def test_imagefolder_with_augmentation_trains_on_raw_images_replayably(folder):
    bundle = DATASETS.get("imagefolder")(
        root=str(folder), size=32, resize=36, train_aug="scale_jitter", scale_range=(36, 48), lighting_std=0.1
    )
    assert bundle.train_split == "train_raw" and isinstance(bundle.augment, ImageNetTrainAugment)
    raw = bundle.split("train_raw")
    assert raw[0][0].dtype == torch.uint8 and raw[0][0].shape[1:] != raw[1][0].shape[1:]  # whole images
    ds = AugmentedDataset(raw, bundle.augment, seed=7)
    ds.set_epoch(1)
    x1, y1 = ds[2]
    assert x1.shape == (3, 32, 32) and torch.equal(ds[2][0], x1)  # replayed exactly
    ds.set_epoch(2)
    assert not torch.equal(ds[2][0], x1)
    xb, yb = next(iter(torch.utils.data.DataLoader(ds, batch_size=6)))
    assert xb.shape == (6, 3, 32, 32) and yb.tolist() == [0, 0, 0, 1, 1, 1]
    assert bundle.split("val")[0][0].shape == (3, 32, 32)
    with pytest.raises(DataError, match="scale_range"):
        DATASETS.get("imagefolder")(root=str(folder), size=32, train_aug="scale_jitter", scale_range=(16, 20))


def test_a_trial_trains_with_imagenet_augmentation(folder, tmp_path):
    """The trial loop needs nothing new: AugmentedDataset wraps the raw split and yields fixed-size crops."""
    from scrutiny.spec import load_spec
    from scrutiny.store import Store
    from scrutiny.trials import run_trial

    spec = load_spec(
        data={
            "model": {"name": "resnet", "depth": 18},
            "data": {
                "name": "imagefolder",
                "root": str(folder),
                "size": 32,
                "resize": 36,
                "batch_size": 4,
                "train_aug": "scale_aspect",
                "color_jitter": 0.4,
                "lighting_std": 0.1,
            },
            "optim": {"lr": 0.01, "weight_decay": 1e-4, "wd_on": "all"},
            "train": {"epochs": 1, "device": "cpu"},
            "eval": {"split": "val"},
        }
    )
    record = run_trial(spec, 0, Store(tmp_path / "runs"), threads=1)
    assert record["status"] == "complete", record.get("error")
    assert record["final_val_n"] == 6


def test_val_only_reads_only_the_validation_folder(folder):
    import shutil

    from scrutiny.errors import DataError

    shutil.rmtree(folder / "train")
    bundle = DATASETS.get("imagefolder")(root=str(folder), size=32, resize=36, val_only=True)
    assert set(bundle.splits) == {"val"} and bundle.train_split == "val" and bundle.num_classes == 2
    assert len(bundle.split("val")) == 6
    with pytest.raises(DataError, match="val_only: for evaluation only"):
        DATASETS.get("imagefolder")(root=str(folder), val_only=True, train_aug="scale_jitter")
    with pytest.raises(DataError, match="train"):
        DATASETS.get("imagefolder")(root=str(folder))
