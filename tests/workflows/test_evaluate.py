"""``scrutiny eval`` and :func:`scrutiny.evaluate_weights` end to end on a tiny ImageFolder with a small random ResNet
whose weights are saved to a file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from scrutiny.cli import main
from scrutiny.models import build_model
from scrutiny.protocols import evaluate_imagefolder, evaluate_protocols, multi_scale, ten_crop
from scrutiny.workflows.evaluate import evaluate_weights, resolve_data

CLASSES = ("ant", "bee", "cow")
SMALL = [
    "--set",
    "single.resize=40",
    "--set",
    "single.crop=32",
    "--set",
    "ten.resize=40",
    "--set",
    "ten.crop=32",
    "--set",
    "multi.scales=[32,48]",
]


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model({"name": "resnet", "depth": 18, "num_classes": 3}, {})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """ROOT/val/<3 classes>/2 images (JPEG and PNG, odd sizes), a state_dict file and a scrutiny checkpoint."""
    tmp = tmp_path_factory.mktemp("eval")
    rng = np.random.default_rng(0)
    for c in CLASSES:
        folder = tmp / "data" / "val" / c
        folder.mkdir(parents=True)
        for i, (w, h) in enumerate([(50, 40), (41, 57)]):
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
                folder / f"{i}.{'png' if i else 'jpg'}"
            )
    model = _model()
    torch.save(model.state_dict(), tmp / "weights.pt")
    torch.save({"model": model.state_dict(), "optimizer": {}, "epoch": 1}, tmp / "checkpoint.pt")
    (tmp / "corrupt.pt").write_bytes(b"not a torch file")
    return {
        "tmp": tmp,
        "root": tmp / "data",
        "weights": tmp / "weights.pt",
        "ckpt": tmp / "checkpoint.pt",
        "corrupt": tmp / "corrupt.pt",
    }


def run_main(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["scrutiny", *map(str, args)])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def test_eval_json_rows_match_the_library(tiny, monkeypatch, capsys):
    code, out, err = run_main(
        monkeypatch,
        capsys,
        "eval",
        "--model",
        "resnet",
        "--set",
        "model.depth=18",
        "--set",
        "model.num_classes=3",
        "--weights",
        str(tiny["weights"]),
        "--data",
        f"imagefolder:{tiny['root']}",
        "--protocols",
        "single,ten,multi",
        "--batch-size",
        "4",
        "--device",
        "cpu",
        *SMALL,
        "--json",
        "--save-predictions",
        str(tiny["tmp"] / "preds"),
    )
    assert code == 0, err
    payload = json.loads(out)
    assert payload["data"]["which"] == "val" and payload["data"]["classes"] == list(CLASSES)
    assert payload["weights"]["format"] == "state_dict"
    rows = {r["protocol"]: r for r in payload["rows"]}
    assert list(rows) == ["single_crop", "ten_crop", "multi_scale"]
    assert rows["ten_crop"]["params"]["resize"] == 40 and rows["multi_scale"]["params"]["scales"] == [32, 48]
    assert [rows[p]["views_per_image"] for p in rows] == [1, 10, 2]
    model = _model()
    for name, protocol in [("ten_crop", ten_crop(resize=40, crop=32)), ("multi_scale", multi_scale(scales=(32, 48)))]:
        ref = evaluate_imagefolder(model, tiny["root"] / "val", protocol, batch_size=4, progress=False)
        row = rows[name]
        assert row["n"] == 6 and row["k"] == 3
        assert (row["top1_correct"], row["top5_correct"]) == (ref.top1_correct, ref.top5_correct)
        assert row["top1_error"] == pytest.approx(ref.top1_error) and row["images_per_s"] > 0
        saved = np.load(row["predictions"])
        assert saved["topk"].shape == (6, 3) and list(saved["targets"]) == [0, 0, 1, 1, 2, 2]


def test_eval_human_output_checkpoint_and_root_as_class_folders(tiny, monkeypatch, capsys):
    code, out, err = run_main(
        monkeypatch,
        capsys,
        "eval",
        "--model",
        "resnet",
        "--set",
        "model.depth=18",
        "--set",
        "model.num_classes=3",
        "--weights",
        tiny["ckpt"],
        "--data",
        f"imagefolder:{tiny['root'] / 'val'}",
        "--protocols",
        "single",
        "--device",
        "cpu",
        "--set",
        "single.resize=40",
        "--set",
        "single.crop=32",
    )
    assert code == 0, err
    assert "single_crop" in out and "top-1 err" in out and "resize=40 crop=32" in out
    err = " ".join(err.split())
    assert "its subfolders are the classes" in err and "checkpoint['model']" in err


def test_eval_trial_id_in_a_store_names_its_own_model(tiny, monkeypatch, capsys):
    store = tiny["tmp"] / "store"
    trial = store / "0123456789ab-s0"
    trial.mkdir(parents=True, exist_ok=True)
    (trial / "spec.json").write_text(json.dumps({"spec": {"model": {"name": "resnet", "depth": 18}}}))
    (trial / "checkpoint.pt").write_bytes(tiny["ckpt"].read_bytes())
    code, out, err = run_main(
        monkeypatch,
        capsys,
        "eval",
        "--weights",
        "01234",
        "--store",
        store,
        "--data",
        f"imagefolder:{tiny['root']}",
        "--protocols",
        "single",
        "--device",
        "cpu",
        "--json",
        "--set",
        "single.resize=40",
        "--set",
        "single.crop=32",
    )
    assert code == 0, err
    payload = json.loads(out)
    assert payload["weights"]["source"] == "trial 0123456789ab-s0" and payload["model"]["name"] == "resnet"


@pytest.mark.parametrize(
    "case, match",
    [
        ("missing", "weights file not found"),
        ("corrupt", "corrupt or unsafe checkpoint"),
        (
            "mismatch",
            "does not fit the model: fc.weight: shape (3, 512) in the file, (1000, 512) in the model; "
            "set model.num_classes=3",
        ),
        ("wrong_depth", "missing keys"),
        ("no_data", "does not exist or is not a folder"),
        ("bad_scheme", "expected imagefolder:ROOT"),
        ("bad_set", "--set: expected model.KEY=VALUE"),
        ("no_model", "--model: required (only a trial's checkpoint names its own model)"),
        ("bad_protocol_arg", "ten_crop: "),
    ],
)
def test_eval_errors_are_one_line_and_exit_2(tiny, monkeypatch, capsys, case, match):
    weights, data = tiny["weights"], f"imagefolder:{tiny['root']}"
    extra = ["--set", "model.num_classes=3"]
    if case == "missing":
        weights = tiny["tmp"] / "nope.pt"
    elif case == "corrupt":
        weights = tiny["corrupt"]
    elif case == "mismatch":
        extra = []
    elif case == "wrong_depth":
        extra += ["--set", "model.depth=34"]
    elif case == "no_data":
        data = f"imagefolder:{tiny['tmp'] / 'nowhere'}"
    elif case == "bad_scheme":
        data = str(tiny["root"])
    elif case == "bad_set":
        extra += ["--set", "optim.lr=0.1"]
    elif case == "bad_protocol_arg":
        extra += ["--set", "ten.nonsense=1"]
    model = [] if case == "no_model" else ["--model", "resnet"]
    args = [
        "eval",
        *model,
        "--set",
        "model.depth=18",
        *extra,
        "--weights",
        weights,
        "--data",
        data,
        "--device",
        "cpu",
    ]
    code, out, err = run_main(monkeypatch, capsys, *args)
    assert code == 2
    assert err.startswith("scrutiny: error: ") and err.count("\n") == 1 and match in err, err


def test_eval_refuses_a_fixed_size_head_for_multi_before_any_work(tiny, monkeypatch, capsys):
    """A flatten + fc head fails the multi-scale probe (a non-square image), with exit 2 and no evaluation."""
    mod = tiny["tmp"] / "mods"
    mod.mkdir(exist_ok=True)
    (mod / "fixed_head_net.py").write_text(
        "from torch import nn\n"
        "def build(num_classes=3):\n"
        "    return nn.Sequential(nn.Conv2d(3, 4, 8, stride=8), nn.Flatten(), nn.Linear(64, num_classes))\n"
    )
    monkeypatch.syspath_prepend(str(mod))
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 8, stride=8), torch.nn.Flatten(), torch.nn.Linear(64, 3))
    torch.save(net.state_dict(), tiny["tmp"] / "fixed.pt")
    code, out, err = run_main(
        monkeypatch,
        capsys,
        "eval",
        "--model",
        "fixed_head_net:build",
        "--weights",
        tiny["tmp"] / "fixed.pt",
        "--data",
        f"imagefolder:{tiny['root']}",
        "--protocols",
        "single,multi",
        "--device",
        "cpu",
        "--set",
        "single.resize=40",
        "--set",
        "single.crop=32",
        "--set",
        "multi.scales=[32,48]",
    )
    assert code == 2 and "multi_scale: the model fails on a 44×32 input" in err
    assert "single_crop:" not in err  # nothing was evaluated


def test_resolve_data_prefers_val_and_rejects_train_only(tmp_path):
    (tmp_path / "a" / "val" / "x").mkdir(parents=True)
    assert resolve_data(f"imagefolder:{tmp_path / 'a'}").which == "val"
    (tmp_path / "b" / "train" / "x").mkdir(parents=True)
    from scrutiny.errors import DataError

    with pytest.raises(DataError, match="has train/ but no val/"):
        resolve_data(f"imagefolder:{tmp_path / 'b'}")


def test_evaluate_protocols_library_call(tiny):
    runs = evaluate_protocols(
        _model(), tiny["root"] / "val", [ten_crop(resize=40, crop=32)], batch_size=3, progress=False
    )
    (run,) = runs
    assert run.result.n == 6 and run.views_per_image == 10 and run.images_per_s > 0
    assert set(run.to_dict()) >= {"protocol", "params", "n", "top1_error", "top5_error", "images_per_s"}
    assert run.result.predictions is None and run.predictions is None


def test_evaluate_weights_is_the_public_api_and_names_parameters(tiny):
    from scrutiny import evaluate_weights as public
    from scrutiny.errors import ScrutinyError

    assert public is evaluate_weights
    notes = []
    ev = evaluate_weights(
        tiny["weights"],
        f"imagefolder:{tiny['root']}",
        model="resnet",
        protocols=["single"],
        overrides=["model.depth=18", "model.num_classes=3", "single.resize=40", "single.crop=32"],
        device="cpu",
        progress=False,
        save_predictions=tiny["tmp"] / "api-preds",
        notify=notes.append,
    )
    assert [r.result.protocol for r in ev.runs] == ["single_crop"] and ev.runs[0].result.n == 6
    assert ev.weights_source == "file" and ev.to_dict()["data"]["classes"] == list(CLASSES)
    assert ev.runs[0].predictions == tiny["tmp"] / "api-preds" / "single_crop.npz"
    assert notes[0].startswith("data: evaluating") and notes[1].startswith("weights: ")
    for kwargs, message in [
        ({"data": "folder:x"}, r"^data: expected imagefolder:ROOT"),
        ({"overrides": ["optim.lr=1"]}, r"^overrides: expected model.KEY=VALUE"),
        ({"model": None}, r"^model: required"),
        ({"device": "cuda:99" if not __import__("torch").cuda.is_available() else "nope"}, r"^device: "),
    ]:
        args = {"data": f"imagefolder:{tiny['root']}", "model": "resnet", **kwargs}
        args["overrides"] = args.get("overrides", ["model.depth=18", "model.num_classes=3"])
        with pytest.raises(ScrutinyError, match=message):
            evaluate_weights(tiny["weights"], args.pop("data"), store=None, progress=False, **args)
