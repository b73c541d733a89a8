"""The resnet_eval case: the scales resolve, the smoke scale runs end to end, the paper scale asks for its inputs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from scrutiny.cases import case_claim, case_names
from scrutiny.spec.claim import arm_specs, claim_seeds, load_claim

ARMS = ["resnet50", "resnet101", "resnet152", "fb_resnet101", "fb_resnet152"]
# The smoke scale's net is untrained (one epoch on 40 images): 10-crop is 5 points worse than 1-crop there, on the
# mean over seeds 0-1, and two seeds leave the interval wide open.
SMOKE_SINGLE_MINUS_TEN = -0.05
SMOKE_SINGLE_MINUS_TEN_VERDICT = "INCONCLUSIVE"


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
    orderings = [h for h in claim.hypotheses if h.kind == "bound"]
    assert len(orderings) == 8 and all("_minus_" in h.metric for h in orderings)
    # at the cpu scale the MSRA arms share one spec and the fb arms another: one arm of each carries hypotheses
    assert {h.a for h in orderings if h.scales is None} == {"resnet50", "fb_resnet101"}
    assert all(h.scales == ("paper",) for h in orderings if h.a not in ("resnet50", "fb_resnet101"))
    published = [h for h in claim.hypotheses if h.kind == "matches_reported"]
    assert len(published) == 13 and all(h.scales == ("paper",) and h.value for h in published)
    assert set(claim.tuning.configurations.values()) == {1} and claim_seeds(claim, "cpu")[0] >= 1000
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
    verdicts = {v["hypothesis"]: v for v in results["verdicts"]}
    assert len(verdicts) == 3  # resnet50's two orderings and fb_resnet101's one
    # fixed smoke data (seeds 0-1, one epoch on 40 images): 1-crop against 10-crop on the same weights
    first = verdicts["resnet50: 1-crop top-1 error > 10-crop"]
    assert first["estimate"] == pytest.approx(SMOKE_SINGLE_MINUS_TEN, abs=1e-6)
    assert first["verdict"] == SMOKE_SINGLE_MINUS_TEN_VERDICT and first["low"] < first["estimate"] < 0 < first["high"]
    section = next(s for s in results["sections"] if s["name"] == "protocol_table")
    rows = section["tables"][0]["rows"]
    # every arm is the same spec at smoke: evaluated once, the others named as the same trials
    assert [r[:3] for r in rows[:3]] == [
        ["resnet50", "1-crop", 2],
        ["resnet50", "10-crop", 2],
        ["resnet50", "multi-scale", 2],
    ]
    assert [r[:2] for r in rows[3:]] == [[a, "same trials as resnet50"] for a in ARMS[1:]]
    assert rows[0][6] == 24.7 and all(r[9] in ("—", None) for r in rows)  # published shown, not compared at smoke
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
