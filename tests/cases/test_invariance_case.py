"""The invariance (eKLD) case: its scales resolve, and the smoke scale runs end to end through the CLI."""

import json
import sys

import pytest

from scrutiny.cases import case_claim, case_names
from scrutiny.spec import spec_hash
from scrutiny.spec.claim import arm_specs, claim_seeds, load_claim


def test_the_case_is_listed_and_its_scales_resolve():
    assert "invariance" in case_names()
    path = case_claim("invariance")
    claim = load_claim(path)
    assert set(claim.scales) == {"smoke", "cpu", "paper"} and claim.default_scale == "cpu"
    assert any("GIT" in note and "weighted_gen" in note for note in claim.notes)
    cpu = arm_specs(claim, path, "cpu")
    assert len({spec_hash(s) for s in cpu.values()}) == 15 and len(claim_seeds(claim, "cpu")) >= 3
    assert {s.data.model_dump()["instance"] for s in cpu.values()} == {0, 1, 2}
    assert {a: s.data.sampler for a, s in cpu.items() if a.startswith("drs")} == dict.fromkeys(
        ["drs_i0", "drs_i1", "drs_i2"], "drs"
    )
    assert {s.data.model_dump()["augment"] for a, s in cpu.items() if a.startswith("oracle")} == {"rotation"}
    assert {s.data.model_dump()["augment"] for a, s in cpu.items() if a[:3] in ("erm", "drs")} == {"none"}
    paper = arm_specs(claim, path, "paper", ["data.root=/nonexistent"])
    k49 = paper["erm_i1"]
    assert k49.data.name == "kuzushiji49_lt" and k49.data.model_dump()["head"] == 4800 and k49.train.epochs == 50
    assert k49.model.name == "preact_resnet" and k49.probes[0].kwargs["n_transforms"] == 100
    assert paper["drs_i2"].data.drs_start_epoch == 31
    assert len({spec_hash(s) for s in arm_specs(claim, path, "smoke").values()}) == 5  # instances collapse


@pytest.mark.parametrize("kind", ["bound", "compare"])
def test_hypotheses_read_in_the_right_direction(kind):
    claim = load_claim(case_claim("invariance"))
    hs = [h for h in claim.hypotheses if h.kind == kind]
    assert len(hs) == (6 if kind == "bound" else 9)
    if kind == "bound":
        assert all(h.op == "<" and h.value == 0 and h.metric == "ekld_spearman" for h in hs)
    else:  # literally: the oracle's tail eKLD is lower than ERM's
        hs = [h for h in hs if h.a.startswith("oracle")]
        assert len(hs) == 3
        assert all(h.a.startswith("oracle") and h.b.startswith("erm") and h.op == "<" for h in hs)
        assert all(h.metric == "ekld_tail" for h in hs)


def test_smoke_scale_end_to_end(tmp_path, monkeypatch, capsys):
    from scrutiny.cli import main

    out = tmp_path / "report"
    argv = ["scrutiny", "case", "invariance", "--scale", "smoke", "--workers", "1", "--threads", "1"]
    monkeypatch.setattr(sys, "argv", [*argv, "--store", str(tmp_path / "runs"), "--out", str(out), "--json"])
    try:
        main()
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    assert len(results["verdicts"]) == 15
    assert {v["verdict"] for v in results["verdicts"]} <= {"REPRODUCED", "NOT REPRODUCED", "INCONCLUSIVE"}
    sections = {s["name"]: s for s in results["sections"]}
    pooled = sections["invariance_figure"]["data"]
    assert set(pooled) == {
        "ERM",
        "DRS",
        "ERM + true rotations (oracle)",
        "DRS + GIT (K = 27)",
        "DRS + GIT (all classes)",
    }
    # at smoke every instance arm is instance 0: each group pools its 2 distinct trials, not 3 copies of them
    assert all(len(g["trials"]) == 2 == len(set(g["trials"])) for g in pooled.values())
    erm = pooled["ERM"]
    assert len(erm["sizes"]) == len(erm["curve"]["mean"]) and erm["sizes"] == sorted(erm["sizes"])
    stored = [json.loads((tmp_path / "runs" / t / "result.json").read_text())["ekld_spearman"] for t in erm["trials"]]
    assert erm["spearman"]["per_trial"] == stored
    assert (out / "ekld_by_class_size.png").read_bytes()[:4] == b"\x89PNG"
    # a verdict's estimate is the difference of the arms' stored means, and its direction and decision are fixed
    verdicts = {v["hypothesis"]: v for v in results["verdicts"]}
    oracle = verdicts["instance 0: oracle[ekld_tail] < erm[ekld_tail] (true rotations lower tail-class eKLD)"]

    def tail_mean(group):
        values = [json.loads((tmp_path / "runs" / t / "result.json").read_text())["ekld_tail"] for t in group]
        return sum(values) / len(values)

    expected = tail_mean(pooled["ERM + true rotations (oracle)"]["trials"]) - tail_mean(pooled["ERM"]["trials"])
    assert oracle["estimate"] == pytest.approx(expected, rel=1e-9) and oracle["estimate"] < 0
    assert oracle["verdict"] == "INCONCLUSIVE" and oracle["p_adjusted"] > 0.05  # 2 seeds, 2 epochs: no decision
    # per-class accuracy sits next to eKLD, and the preconditions are listed per arm
    assert all(len(g["accuracy_by_size"]) == len(g["sizes"]) for g in pooled.values())
    assert pooled["ERM"]["accuracy_by_size"][-1] == pytest.approx(1.0)  # 2 epochs: the head class takes everything
    titles = [s["title"] for s in results["sections"]]
    assert any(t.startswith("Precondition: head-class accuracy") for t in titles)
    # every GIT trial names the generator trial it used, and one generator serves both seeds and both GIT arms
    git_trials = pooled["DRS + GIT (K = 27)"]["trials"] + pooled["DRS + GIT (all classes)"]["trials"]
    used = {
        json.loads((tmp_path / "runs" / t / "result.json").read_text())["depends_on"][0]["trial"] for t in git_trials
    }
    assert len(used) == 1 and (tmp_path / "runs" / used.pop() / "checkpoint.pt").is_file()
