"""The crops probe: several image protocols on the raw images of a trial's eval split, as result fields and tables."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torch.utils.data import TensorDataset

from scrutiny.data._bundle import DataBundle
from scrutiny.errors import ScrutinyError
from scrutiny.probes import ProbeContext
from scrutiny.probes.crops import crops, scaled_args
from scrutiny.protocols._base import ProtocolError


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class RawSet(torch.utils.data.Dataset):
    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.images[i], self.labels[i]


class TinyNet(nn.Module):
    """Conv, global average pool, fc: fully convolutional."""

    def __init__(self, k: int = 6) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, k)

    def forward(self, x):
        return self.fc(self.pool(torch.relu(self.conv(x))).flatten(1))


class ChannelMean(nn.Module):
    """Position-, crop-, scale- and mirror-invariant on uniform images: a linear map of the channel means."""

    def __init__(self, k: int = 6) -> None:
        super().__init__()
        self.fc = nn.Linear(3, k)

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3)))


def _sizes(n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    return [(int(rng.integers(20, 34)), int(rng.integers(20, 34))) for _ in range(n)]


def _noise_images(n: int, seed: int = 0) -> tuple[list[torch.Tensor], list[int]]:
    rng = np.random.default_rng(seed)
    images = [torch.from_numpy(rng.integers(0, 256, size=(3, h, w), dtype=np.uint8)) for w, h in _sizes(n, rng)]
    return images, [int(i % 6) for i in range(n)]


def _ctx(model: nn.Module, bundle: DataBundle, split: str = "test", result: dict | None = None) -> ProbeContext:
    spec = SimpleNamespace(eval=SimpleNamespace(split=split), data=SimpleNamespace(num_workers=0))
    return ProbeContext(model.eval(), spec, bundle, None, torch.device("cpu"), 0, result=result or {})


def _bundle(images, labels, split: str = "test", k: int = 6) -> DataBundle:
    views = TensorDataset(torch.zeros(len(labels), 3, 16, 16), torch.tensor(labels))
    return DataBundle(
        splits={split: views, f"{split}_raw": RawSet(images, labels)}, num_classes=k, in_channels=3, image_size=(16, 16)
    )


def test_geometry_is_the_papers_scaled_to_the_crop():
    assert scaled_args("single_crop", 224, {}) == {"crop": 224, "resize": 256}
    assert scaled_args("ten_crop", 16, {}) == {"crop": 16, "resize": 18}
    assert scaled_args("multi_scale", 28, {})["scales"] == [28, 32, 48, 60, 80]
    assert scaled_args("multi_scale", 224, {"flip": True}) == {"scales": [224, 256, 384, 480, 640], "flip": True}
    assert scaled_args("single_crop", 16, {"crop_pct": 0.875}) == {"crop": 16, "crop_pct": 0.875}


def test_counts_metrics_and_tables_of_every_protocol():
    torch.manual_seed(0)
    images, labels = _noise_images(13)
    out = crops(_ctx(TinyNet(), _bundle(images, labels)), batch_size=4)
    for key in ("single", "ten", "multi"):
        for field in ("top1_err", "top1_acc", "top5_err", "top5_acc"):
            assert 0.0 <= out.metrics[f"{key}_{field}"] <= 1.0
        assert out.metrics[f"{key}_top1_err"] == pytest.approx(1 - out.metrics[f"{key}_top1_acc"])
        assert out.metrics[f"{key}_top5_err"] <= out.metrics[f"{key}_top1_err"]
    assert out.metrics["n"] == 13
    rows = {r["key"]: r for r in out.tables["protocols"]}
    assert [r["protocol"] for r in rows.values()] == ["single_crop", "ten_crop", "multi_scale"]
    assert all(r["n"] == 13 for r in rows.values())
    assert rows["single"]["params"]["resize"] == 18 and rows["single"]["params"]["crop"] == 16
    assert rows["multi"]["params"]["scales"] == [16, 18, 27, 34, 46]
    assert [rows[k]["views_per_image"] for k in ("single", "ten", "multi")] == [1, 10, 5]
    assert out.tables["source"]["kind"] == "raw split" and out.tables["crop"] == 16


def test_batch_size_changes_nothing_and_a_dict_entry_sets_args_and_key():
    torch.manual_seed(1)
    images, labels = _noise_images(9, seed=3)
    model, bundle = TinyNet(), _bundle(images, labels)
    a = crops(_ctx(model, bundle), protocols=["single", "multi"], batch_size=1)
    b = crops(_ctx(model, bundle), protocols=["single", "multi"], batch_size=9)
    assert a.metrics == b.metrics
    c = crops(
        _ctx(model, bundle),
        protocols=["single", {"protocol": "multi", "key": "multi_flip", "flip": True}],
        average="logit",
    )
    rows = {r["key"]: r for r in c.tables["protocols"]}
    assert rows["multi_flip"]["params"]["flip"] is True and rows["multi_flip"]["views_per_image"] == 10
    assert rows["single"]["params"]["average"] == "logit" and "multi_flip_top1_err" in c.metrics


def test_a_model_invariant_to_the_views_scores_the_same_under_every_protocol():
    rng = np.random.default_rng(5)
    colours = rng.integers(0, 256, size=(40, 3))
    images = [
        torch.from_numpy(np.broadcast_to(c[:, None, None], (3, h, w)).astype(np.uint8).copy())
        for c, (w, h) in zip(colours, _sizes(40, rng), strict=True)
    ]
    labels = [int(np.argmax(c[:2] * [1, 1.1])) * 3 + int(c[2] > 128) for c in colours]
    torch.manual_seed(0)
    out = crops(_ctx(ChannelMean(), _bundle(images, labels)), protocols=["single", "ten", "multi"])
    errs = {out.metrics[f"{k}_top1_err"] for k in ("single", "ten", "multi")}
    assert len(errs) == 1 and 0.0 < errs.pop() < 1.0  # identical, and not a degenerate all-right/all-wrong score
    assert len({out.metrics[f"{k}_top5_err"] for k in ("single", "ten", "multi")}) == 1


def test_an_imagefolder_split_is_read_from_its_folder_and_agrees_with_the_same_images_in_memory(tmp_path: Path):
    import torchvision

    images, labels = _noise_images(8, seed=7)
    for i, (img, y) in enumerate(zip(images, labels, strict=True)):
        folder = tmp_path / "val" / f"c{y}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(folder / f"{i}.png")
    folder_ds = torchvision.datasets.ImageFolder(str(tmp_path / "val"))
    bundle = DataBundle(splits={"val": folder_ds}, num_classes=6, in_channels=3, image_size=(16, 16))
    torch.manual_seed(2)
    model = TinyNet()
    from_folder = crops(_ctx(model, bundle, split="val"), batch_size=3)
    assert from_folder.tables["source"] == {"kind": "imagefolder", "split": "val", "root": str(tmp_path / "val")}
    # the same files, in ImageFolder's order (sorted class folders), held in memory
    loaded = [folder_ds.loader(p) for p, _ in folder_ds.samples]
    raw = [torch.from_numpy(np.array(im)).permute(2, 0, 1).contiguous() for im in loaded]
    targets = [t for _, t in folder_ds.samples]
    in_memory = crops(_ctx(model, _bundle(raw, targets, split="val"), split="val"), batch_size=3)
    assert in_memory.metrics == from_folder.metrics


def test_a_split_without_raw_images_and_a_bad_entry_fail_in_one_line():
    bundle = DataBundle(
        splits={"test": TensorDataset(torch.zeros(4, 3, 8, 8), torch.zeros(4, dtype=torch.long))},
        num_classes=6,
        in_channels=3,
        image_size=(8, 8),
    )
    with pytest.raises(ScrutinyError, match=r"crops: split 'test' holds transformed tensors only.*test_raw"):
        crops(_ctx(TinyNet(), bundle))
    images, labels = _noise_images(3)
    with pytest.raises(ScrutinyError, match=r"crops.protocols.1: key 'single' used twice"):
        crops(_ctx(TinyNet(), _bundle(images, labels)), protocols=["single", "single_crop"])
    with pytest.raises(ScrutinyError, match=r"crops.protocols.0: expected a name"):
        crops(_ctx(TinyNet(), _bundle(images, labels)), protocols=[{"crop": 3}])


def test_intervals_over_images_and_paired_differences():
    torch.manual_seed(0)
    images, labels = _noise_images(40)
    out = crops(_ctx(TinyNet(), _bundle(images, labels)), batch_size=8, reps=4000)
    m = out.metrics
    for key in ("single", "ten", "multi"):
        assert m[f"{key}_top1_err_low"] <= m[f"{key}_top1_err"] <= m[f"{key}_top1_err_high"]
    # differences of the same images: the estimate is exactly the difference of the two errors
    assert m["single_minus_ten_top1_err"] == pytest.approx(m["single_top1_err"] - m["ten_top1_err"])
    assert m["ten_minus_multi_top1_err"] == pytest.approx(m["ten_top1_err"] - m["multi_top1_err"])
    assert m["single_minus_ten_top1_err_low"] <= m["single_minus_ten_top1_err"] <= m["single_minus_ten_top1_err_high"]
    again = crops(_ctx(TinyNet(), _bundle(images, labels)), batch_size=8, reps=4000, differences=[("single", "multi")])
    assert "single_minus_multi_top1_err" in again.metrics and "single_minus_ten_top1_err" not in again.metrics
    with pytest.raises(ProtocolError, match="differences"):
        crops(_ctx(TinyNet(), _bundle(images, labels)), differences=[("single", "tenn")])
