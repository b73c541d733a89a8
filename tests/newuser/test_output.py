"""Output a person would accept, met as a new user meets it: a claim and specs written in a folder of their own, the
command line run as a subprocess with its output piped (not a terminal). A report folder holding another claim's
report is not overwritten without ``--force``; a piped message stays on one line; the terminal and the report
write a number the same way; ``ablate`` speaks plainly and shows no progress when nothing runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SPEC = """
model: {name: small_cnn, width: 4}
data: {name: digits, batch_size: 64, eval_batch_size: 200}
optim: {name: sgd, lr: 0.1, momentum: 0.9}
train: {epochs: 1, device: cpu}
"""
CLAIM = """
title: {title}
source: {{paper: none}}
seeds: 0-3
arms:
  wide: {{spec: spec.yaml, set: [model.width=8]}}
  narrow: {{spec: spec.yaml}}
hypotheses:
  - wide > narrow
"""
SCORES = "arm,seed,final_test_acc\n" + "".join(
    f"{arm},{seed},{value}\n"
    for arm, values in (("wide", [0.91, 0.93, 0.92, 0.94]), ("narrow", [0.81, 0.84, 0.8, 0.83]))
    for seed, value in enumerate(values)
)


def scrutiny(*args: object, cwd: Path, ok: bool = True) -> subprocess.CompletedProcess:
    """The command line as a user runs it, its output piped; no COLUMNS set, as in a script or a cron job."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "SCRUTINY_STORE")}
    done = subprocess.run(
        [sys.executable, "-m", "scrutiny", *map(str, args)],
        cwd=cwd,
        env={**env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (done.returncode == 0) == ok, f"{done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def claim(folder: Path, title: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spec.yaml").write_text(SPEC)
    (folder / "claim.yaml").write_text(CLAIM.format(title=title))
    (folder / "scores.csv").write_text(SCORES)
    return folder / "claim.yaml"


def test_out_refuses_another_claims_report_unless_forced(tmp_path):
    first, second = claim(tmp_path / "mine", "first claim"), claim(tmp_path / "theirs", "second claim")
    out = tmp_path / "reports"
    scrutiny("check", first, "--scores", first.parent / "scores.csv", "--out", out, cwd=tmp_path)
    scrutiny("check", first, "--scores", first.parent / "scores.csv", "--out", out, cwd=tmp_path)  # its own: fine
    refused = scrutiny("check", second, "--scores", second.parent / "scores.csv", "--out", out, cwd=tmp_path, ok=False)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "--out" in refused.stderr and "--force" in refused.stderr and "first claim" in refused.stderr
    assert "# first claim" in (out / "report.md").read_text()  # untouched
    scrutiny("check", second, "--scores", second.parent / "scores.csv", "--out", out, "--force", cwd=tmp_path)
    assert "# second claim" in (out / "report.md").read_text()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    other = scrutiny("check", first, "--scores", first.parent / "scores.csv", "--out", "notes", cwd=tmp_path, ok=False)
    assert "holds no scrutiny report" in other.stderr and not (tmp_path / "notes" / "report.md").exists()


def test_the_terminal_and_the_report_write_numbers_the_same_way(tmp_path):
    path = claim(tmp_path, "numbers")
    done = scrutiny("check", path, "--scores", "scores.csv", "--out", "report", cwd=tmp_path)
    row = next(line for line in done.stdout.splitlines() if "wide > narrow" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    estimate, interval, p = cells[2], cells[3], cells[4].split(" / ")[0]
    md = (tmp_path / "report" / "report.md").read_text()
    html = (tmp_path / "report" / "report.html").read_text()
    assert f"| {estimate} | {interval} | > 0 | {p} |" in md
    assert f'<td class="num">{estimate}</td><td class="num wrap">{interval}</td>' in html
    assert f'<td class="num">{p}</td>' in html
    # scores from a file: no empty curves figure, and no cost sentence built on unmeasured time and FLOPs
    assert not (tmp_path / "report" / "curves.png").exists() and "curves.png" not in md and "Cost per" not in md


def test_a_piped_message_is_one_line(tmp_path):
    store = tmp_path / ("a-store-folder-with-a-name-long-enough-to-pass-eighty-columns-" + "x" * 40)
    done = scrutiny("runs", "--store", store, cwd=tmp_path)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].count(str(store)) == 2, lines  # not broken at 80 columns


def test_ablate_speaks_plainly_and_shows_no_progress_when_nothing_runs(tmp_path):
    (tmp_path / "a.yaml").write_text(SPEC)
    (tmp_path / "b.yaml").write_text(SPEC.replace("momentum: 0.9", "momentum: 0.9, nesterov: true"))
    args = ("ablate", "a.yaml", "b.yaml", "--seeds", "0", "--store", "runs")
    plan = scrutiny(*args, "--dry-run", cwd=tmp_path).stdout
    assert "1 factor from 1 differing key" in plan and "2 arms × 1 seed = 2 trials" in plan
    assert "│ false │ true │" in plan and "False" not in plan and "True" not in plan
    first = scrutiny(*args, cwd=tmp_path)
    assert "1 seed [0]" in first.stdout and "trials" in first.stderr  # it ran: progress shown
    again = scrutiny(*args, cwd=tmp_path)
    assert "(0 not in the store)" in again.stdout and again.stderr.strip() == "", again.stderr  # nothing ran
    assert (
        again.stdout.split("one-at-a-time: final_test_acc")[1] == first.stdout.split("one-at-a-time: final_test_acc")[1]
    )
