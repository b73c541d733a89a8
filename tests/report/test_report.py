"""A claim end to end at the smoke scale: trials, verdicts, report files, escaping, and the page in a browser."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scrutiny.cases import case_claim
from scrutiny.report.render import write_report
from scrutiny.store import Store
from scrutiny.workflows.check import check_claim, plan_claim

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("claim")
    src = case_claim("digits_width").parent
    for f in src.iterdir():
        if f.is_file():  # the claim and its specs (results/ holds the case's reference results)
            shutil.copy(f, tmp / f.name)
    claim = tmp / "claim.yaml"
    claim.write_text(
        claim.read_text().replace('title: "Width matters', 'title: "<script>alert(1)</script> Width matters')
    )
    store = Store(tmp / "runs")
    plan = plan_claim(claim, "smoke", store)
    result = check_claim(plan, store, threads=1)
    paths = write_report(result, tmp / "report")
    return result, paths


def test_every_arm_ran_and_every_hypothesis_has_a_verdict(smoke_report):
    result, paths = smoke_report
    assert all(arm.n == 2 for arm in result.arms.values())
    assert [v.verdict in ("REPRODUCED", "NOT REPRODUCED", "INCONCLUSIVE") for v in result.verdicts] == [True, True]
    data = json.loads(paths["results.json"].read_text())
    assert data["scale"] == "smoke" and len(data["verdicts"]) == 2
    assert data["costs"]["wide"]["flops_per_train_step"] > data["costs"]["narrow"]["flops_per_train_step"] > 0
    assert {d["key"] for d in data["differences"]} >= {"model.width", "optim.nesterov"}
    for name in ("scores.png", "curves.png", "forest.png"):
        assert paths[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[name].stat().st_size > 5000


def test_html_is_self_contained_and_escapes_text(smoke_report):
    _, paths = smoke_report
    html = paths["report.html"].read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("data:image/png;base64,") == 3 and 'src="http' not in html
    md = paths["report.md"].read_text()
    assert "## Verdicts" in md and "How the verdicts are decided" in md


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found (install Debian's 'chromium' package; .ci/run does)")
def test_the_page_renders_in_headless_chromium(smoke_report, tmp_path):
    result, paths = smoke_report
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    url = paths["report.html"].resolve().as_uri()
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    ).stdout
    for v in result.verdicts:
        assert v.verdict in dom and v.hypothesis.replace("<", "&lt;").split()[0] in dom
    shot = tmp_path / "shot.png"
    subprocess.run(
        [CHROMIUM, *flags, "--window-size=1200,1600", f"--screenshot={shot}", url], capture_output=True, timeout=120
    )
    assert shot.exists() and shot.stat().st_size > 20_000


def test_case_command_end_to_end(tmp_path, cli_env):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrutiny",
            "case",
            "digits_width",
            "--scale",
            "smoke",
            "--store",
            str(tmp_path / "runs"),
            "--out",
            str(tmp_path / "out"),
            "--threads",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert Path(data["report"]["report.html"]).exists() and len(data["verdicts"]) == 2
    dry = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrutiny",
            "case",
            "digits_width",
            "--scale",
            "smoke",
            "--store",
            str(tmp_path / "runs"),
            "--dry-run",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=600,
    )
    planned = json.loads(dry.stdout)
    assert len(planned["trials"]) == 6 and not any(t["run"] for t in planned["trials"])
    assert all(v is not None for v in planned["estimated_seconds"].values())
    bad = subprocess.run(
        [sys.executable, "-m", "scrutiny", "case", "digits_widht"],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=600,
    )
    assert bad.returncode == 2 and "did you mean 'digits_width'" in bad.stderr


def test_compare_from_a_csv(tmp_path, cli_env):
    csv = tmp_path / "scores.csv"
    csv.write_text("base,new\n0.80,0.90\n0.81,0.91\n0.79,0.92\n0.80,0.90\n")
    proc = subprocess.run(
        [sys.executable, "-m", "scrutiny", "compare", "--file", str(csv), "--a", "new", "--b", "base", "--json"],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["verdict"] == "new better" and data["a"]["n"] == 4
    human = subprocess.run(
        [sys.executable, "-m", "scrutiny", "compare", "--file", str(csv)],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=600,
    )
    assert "verdict: new better" in human.stdout or "verdict: base better" in human.stdout
