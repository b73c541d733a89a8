"""The resnet_eval case: the scales resolve, the smoke scale runs end to end, the paper scale asks for its inputs."""

from __future__ import annotations

import json
import subprocess
import sys

import torch

from scrutiny.cases import case_claim, case_names
from scrutiny.spec.claim import arm_specs, load_claim

ARMS = ["resnet50", "resnet101", "resnet152", "fb_resnet101", "fb_resnet152"]


def _cli(args, env, cwd):
    return subprocess.run(
        [sys.executable, "-m", "scrutiny", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_the_scales_resolve_to_published_weights_at_paper_and_trained_nets_at_cpu(tmp_path):
    assert "resnet_eval" in case_names()
    path = case_claim("resnet_eval")
    claim = load_claim(path)
    assert list(claim.arms) == ARMS and set(claim.scales) == {"smoke", "cpu", "paper"}
    paper = arm_specs(claim, path, "paper")
    assert {n: (s.model.kwargs["depth"], s.model.kwargs["stride_in"]) for n, s in paper.items()} == {
        "resnet50": (50, "1x1"),
        "resnet101": (101, "1x1"),
        "resnet152": (152, "1x1"),
        "fb_resnet101": (101, "3x3"),
        "fb_resnet152": (152, "3x3"),
    }
    assert all(s.train.epochs == 0 and s.data.name == "imagefolder" and s.eval.split == "val" for s in paper.values())
    assert all([p.name for p in s.probes] == ["crops"] for s in paper.values())
    cpu = arm_specs(claim, path, "cpu")
    assert all(s.train.epochs > 0 and s.data.kwargs["size"] == 28 for s in cpu.values())
    assert cpu["resnet50"] == cpu["resnet152"] and cpu["fb_resnet101"].data.kwargs["train_aug"] == "scale_aspect"
    assert claim.scales["cpu"].note and "not expected here" in claim.scales["cpu"].note
    # the orderings are bounds on the probe's paired per-image differences, at every scale; the published
    # numbers are tested at the paper scale only
    orderings = [h for h in claim.hypotheses if h.scales is None]
    assert len(orderings) == 8 and all(h.kind == "bound" and "_minus_" in h.metric for h in orderings)
    published = [h for h in claim.hypotheses if h.scales == ("paper",)]
    assert len(published) == 13 and all(h.kind == "matches_reported" and h.value for h in published)
    assert claim.scales["paper"].requires == ("data_root", "weights")


def test_smoke_scale_end_to_end_through_the_cli(tmp_path, cli_env):
    proc = _cli(
        [
            "case",
            "resnet_eval",
            "--scale",
            "smoke",
            "--threads",
            "1",
            "--store",
            str(tmp_path / "runs"),
            "--out",
            str(tmp_path / "report"),
            "--json",
        ],
        cli_env,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert len(results["verdicts"]) == 8
    assert {v["verdict"] for v in results["verdicts"]} <= {"REPRODUCED", "NOT REPRODUCED", "INCONCLUSIVE"}
    section = next(s for s in results["sections"] if s["name"] == "protocol_table")
    rows = section["tables"][0]["rows"]
    assert [r[:3] for r in rows[:3]] == [
        ["resnet50", "1-crop", 2],
        ["resnet50", "10-crop", 2],
        ["resnet50", "multi-scale", 2],
    ]
    published = {(r[0], r[1]): r[6] for r in rows}  # published numbers next to ours, not compared at smoke
    assert published[("resnet50", "1-crop")] == 24.7 and published[("fb_resnet152", "10-crop")] == 20.69
    assert published[("fb_resnet152", "multi-scale")] is None and all(r[9] == "—" for r in rows)
    assert section["verdict"] is None
    trial = next(p for p in (tmp_path / "runs").iterdir() if (p / "probes" / "crops.json").is_file())
    table = json.loads((trial / "probes" / "crops.json").read_text())
    assert [r["n"] for r in table["protocols"]] == [20, 20, 20]
    assert table["protocols"][2]["params"]["scales"] == [28, 32, 48, 60, 80]


def test_paper_scale_without_inputs_is_one_line_and_non_zero(tmp_path, cli_env):
    proc = _cli(["case", "resnet_eval", "--scale", "paper", "--store", str(tmp_path / "runs")], cli_env, tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr + proc.stdout
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "--data-root" in lines[0] and "--weights ARM=FILE for resnet50" in lines[0]
    # data given, weights for one arm only: the line names the arms still missing
    (tmp_path / "imagenet" / "val").mkdir(parents=True)
    w = tmp_path / "r50.pth"
    torch.save({}, w)
    proc = _cli(
        [
            "case",
            "resnet_eval",
            "--scale",
            "paper",
            "--data-root",
            str(tmp_path / "imagenet"),
            "--weights",
            f"resnet50={w}",
            "--store",
            str(tmp_path / "runs"),
            "--dry-run",
        ],
        cli_env,
        tmp_path,
    )
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert proc.returncode != 0 and len(lines) == 1 and "Traceback" not in proc.stderr
    assert "--data-root" not in lines[0] and "resnet101, resnet152, fb_resnet101, fb_resnet152" in lines[0]
    proc = _cli(["case", "resnet_eval", "--scale", "paper", "--weights", "resnet5=x.pth"], cli_env, tmp_path)
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert proc.returncode != 0 and len(lines) == 1 and "unknown arm(s) resnet5" in lines[0]


def test_protocol_table_at_paper_scale_uses_binomial_intervals_and_compares_with_published():
    from types import SimpleNamespace

    import numpy as np

    from scrutiny.analysis.sections.protocol_table import protocol_table

    others = {
        "crops_n": np.array([50000.0]),
        "crops_single_top1_err": np.array([0.2480]),
        "crops_single_top5_err": np.array([0.078]),
        "crops_ten_top1_err": np.array([0.2340]),
    }
    result = SimpleNamespace(scale="paper", arms={"resnet50": SimpleNamespace(others=others)})
    section = protocol_table(result, None, published={"resnet50": {"single": [24.7, 7.8], "ten": [22.85, 6.71]}})
    rows = section.tables[0].rows
    assert [r[1] for r in rows] == ["1-crop", "10-crop"]  # no multi-scale field: no row
    half = 100 * 1.96 * (0.248 * 0.752 / 50000) ** 0.5
    assert rows[0][4] == f"{24.8 - half:.2f} … {24.8 + half:.2f}"
    assert rows[0][8] == 0.1 and rows[0][9] == "yes" and rows[1][8] == 0.55 and rows[1][9] == "no"
    assert section.verdict == "1/2 MATCH"
    cpu = protocol_table(
        SimpleNamespace(scale="cpu", arms=result.arms), None, published={"resnet50": {"single": [24.7]}}
    )
    assert cpu.tables[0].rows[0][8] is None and cpu.verdict is None


def test_the_paper_scale_path_end_to_end_on_a_tiny_val_folder_and_local_weights(tmp_path, cli_env):
    """Published weights, one trial per arm: every verdict comes from the crops probe's intervals over images."""
    import numpy as np
    from PIL import Image

    from scrutiny.models import build_model

    rng = np.random.default_rng(0)
    for c in range(3):
        d = tmp_path / "imagenet" / "val" / f"n{c:08d}"
        d.mkdir(parents=True)
        for i in range(6):
            w, h = int(rng.integers(36, 52)), int(rng.integers(36, 52))
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(d / f"{i}.png")
    torch.manual_seed(0)
    model = build_model({"name": "resnet", "depth": 18, "num_classes": 3}, {})
    weights = tmp_path / "r18.pt"
    torch.save(model.state_dict(), weights)
    args = ["case", "resnet_eval", "--scale", "paper", "--data-root", str(tmp_path / "imagenet")]
    for arm in ARMS:
        args += ["--weights", f"{arm}={weights}"]
    args += [
        "--set",
        "model.depth=18",
        "--set",
        "model.stride_in=3x3",
        "--set",
        "data.size=32",
        "--set",
        "data.resize=36",
    ]
    args += [
        "--set",
        "data.num_workers=0",
        "--set",
        "probes=[{name: crops, protocols: [single, ten, multi], batch_size: 6}]",
    ]
    args += ["--store", str(tmp_path / "runs"), "--out", str(tmp_path / "report"), "--json"]
    proc = _cli(args, cli_env, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    assert data["scale"] == "paper" and all(a["n"] == 1 for a in data["arms"].values())
    verdicts = data["verdicts"]
    assert len(verdicts) == 21  # 8 orderings + 13 published numbers, all tested at this scale
    assert all(v["test"].startswith("one trial") for v in verdicts), {v["test"] for v in verdicts}
    # an untrained 3-class net is nowhere near ImageNet's published errors
    published = [v for v in verdicts if v["kind"] == "matches_reported"]
    assert {v["verdict"] for v in published} == {"NOT REPRODUCED"}
