"""``evaluate_imagefolder`` on a tiny class-folder dataset: exact counts and errors."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from scrutiny.errors import DataError
from scrutiny.protocols import ProtocolError, evaluate_imagefolder, multi_scale, single_crop, ten_crop
from scrutiny.registry import PROTOCOLS

from .helpers import SmallCNN, write_images

SIZES = [(40, 30), (31, 47), (64, 64), (50, 23)]


class Fixed(nn.Module):
    """Ignores its input: the same logits for every example, ranking 0, 1, 5, 6, 7 best (10 classes)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("logits", torch.tensor([9.0, 8.0, -5.0, -6.0, -7.0, 7.0, 6.0, 5.0, 0.0, -1.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(x.shape[0], -1)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "val"
    for c, name in enumerate(["apple", "banana", "cherry"]):  # labels 0, 1, 2
        write_images(root / name, SIZES, seed=10 * c)
    return root


@pytest.mark.parametrize("protocol", [single_crop(), ten_crop(average="logit"), multi_scale(scales=(32, 64))])
def test_always_class_zero_gets_the_exact_error(folder, protocol):
    result = evaluate_imagefolder(Fixed(), folder, protocol, batch_size=5, progress=False, save_predictions=True)
    assert result.n == 12 and result.classes == ["apple", "banana", "cherry"]
    assert (result.top1_correct, result.top5_correct, result.k) == (4, 8, 5)  # class 1 is in the top 5, 2 is not
    assert result.top1_error == pytest.approx(8 / 12) and result.top5_error == pytest.approx(4 / 12)
    assert result.protocol == protocol.name and result.params == protocol.params()
    preds = result.predictions
    assert preds is not None and len(preds.paths) == 12
    assert preds.targets.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert preds.topk.shape == (12, 5) and preds.topk[:, 0].tolist() == [0] * 12
    assert preds.topk[0].tolist() == [0, 1, 5, 6, 7] and preds.topk_scores.shape == (12, 5)
    json.dumps(result.to_dict())


def test_counts_and_batching_do_not_change_results(folder):
    torch.manual_seed(0)
    model = SmallCNN().train()
    a = evaluate_imagefolder(model, folder, "ten_crop", batch_size=12, progress=False, save_predictions=True)
    b = evaluate_imagefolder(model, folder, ten_crop(), batch_size=1, progress=False, save_predictions=True)
    assert model.training  # mode restored
    assert a.n == b.n == 12 and (a.top1_correct, a.top5_correct) == (b.top1_correct, b.top5_correct)
    assert (a.predictions.topk == b.predictions.topk).all()
    assert a.predictions is not None and a.predictions.topk_scores == pytest.approx(b.predictions.topk_scores, abs=1e-5)
    assert a.params == PROTOCOLS.get("ten_crop")().params()


def test_progress_goes_to_stderr(folder, capsys):
    evaluate_imagefolder(Fixed(), folder, single_crop(), batch_size=8, progress=True)
    captured = capsys.readouterr()
    assert "single_crop: 12/12" in captured.err and captured.out == ""


def test_bad_inputs_fail_loudly(folder, tmp_path):
    with pytest.raises(ProtocolError, match="K>=3"):
        evaluate_imagefolder(nn.Sequential(nn.Flatten(), nn.LazyLinear(2)), folder, single_crop(), progress=False)
    with pytest.raises(ProtocolError, match="raw images"):
        evaluate_imagefolder(Fixed(), folder, "plain", progress=False)
    with pytest.raises(DataError, match="root"):
        evaluate_imagefolder(Fixed(), tmp_path / "missing", single_crop(), progress=False)
