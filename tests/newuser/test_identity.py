"""Identity follows the code, as a new user meets it: a user module and a spec written outside the package, run
through the CLI. Editing the builder (or a module of its package that it imports) gives new trials to run;
editing anything else does not; a weights file is identified by its bytes; ``spec.json`` and ``trial.json`` record
what the trial ran; a report whose trials ran on different scrutiny commits says so, and its files, like the
trials', are readable by others as the umask allows."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import scrutiny
from scrutiny.cli import app
from scrutiny.spec import load_spec, spec_hash

NETS = """
from torch import nn

from mylab.blocks import block


def cnn(in_channels: int, num_classes: int, width: int = 4) -> nn.Module:
    pool = nn.AdaptiveAvgPool2d(1)
    return nn.Sequential(block(in_channels, width), pool, nn.Flatten(), nn.Linear(width, num_classes))
"""
BLOCKS = """
from torch import nn


def block(cin: int, cout: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU())
"""
SPEC = """
label: mine
model: {name: mylab.nets:cnn, width: 4}
data: {name: synthetic, channels: 3, size: 8, n_train: 64, n_test: 32, batch_size: 32}
train: {epochs: 1, device: cpu}
"""
CLAIM = """
title: wider is better on noise
source: {paper: none}
metric: final_test_acc
seeds: 0-1
arms:
  wide: {spec: spec.yaml, set: [model.width=8]}
  narrow: {spec: spec.yaml}
hypotheses:
  - wide > narrow
"""


def _forget(package: str) -> None:
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A user's folder: ``mylab/`` (a builder importing a block from its package), ``spec.yaml``, ``claim.yaml``."""
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".")])
    _forget("mylab")
    folder = tmp_path / "project"
    (folder / "mylab").mkdir(parents=True)
    (folder / "mylab" / "__init__.py").write_text("")
    (folder / "mylab" / "nets.py").write_text(NETS)
    (folder / "mylab" / "blocks.py").write_text(BLOCKS)
    (folder / "spec.yaml").write_text(SPEC)
    (folder / "claim.yaml").write_text(CLAIM)
    (folder / "notes.py").write_text("# not imported by the builder\n")
    monkeypatch.chdir(folder)
    yield folder
    _forget("mylab")


def cli(*args: object):
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, f"{res.output}\n{res.exception!r}"
    return res


def dry_run(store: Path) -> list[dict]:
    """The planned trials of ``spec.yaml``, seeds 0-1, as ``run --dry-run --json`` lists them (a new process each
    time, as a user's commands are: the module is imported afresh)."""
    _forget("mylab")
    out = cli("run", "spec.yaml", "--seeds", "0-1", "--dry-run", "--store", store, "--json")
    return json.loads(out.stdout)["trials"]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_editing_the_builder_or_a_module_it_imports_gives_new_trials_to_run(project, tmp_path):
    store = tmp_path / "runs"
    cli("run", "spec.yaml", "--seeds", "0-1", "--store", store, "--threads", "1")
    first = dry_run(store)
    assert [t["run"] for t in first] == [False, False]  # the same code: nothing to run

    edit(project / "mylab" / "nets.py", "pool = nn.AdaptiveAvgPool2d(1)", "pool = nn.AdaptiveMaxPool2d(1)")
    changed = dry_run(store)
    assert [t["run"] for t in changed] == [True, True]
    assert {t["trial_id"] for t in changed}.isdisjoint(t["trial_id"] for t in first)

    edit(project / "mylab" / "nets.py", "pool = nn.AdaptiveMaxPool2d(1)", "pool = nn.AdaptiveAvgPool2d(1)")
    assert dry_run(store) == first  # back to the code that ran: its trials are found again

    edit(project / "mylab" / "blocks.py", "nn.ReLU()", "nn.GELU()")  # imported by the builder's module
    assert [t["run"] for t in dry_run(store)] == [True, True]
    edit(project / "mylab" / "blocks.py", "nn.GELU()", "nn.ReLU()")

    (project / "notes.py").write_text("# edited, and still not imported by the builder\n")
    assert dry_run(store) == first


def test_the_trial_records_the_user_code_and_scrutinys_own(project, tmp_path):
    store = tmp_path / "runs"
    ran = json.loads(cli("run", "spec.yaml", "--store", store, "--threads", "1", "--json").stdout)["ran"]
    folder = store / ran[0]["trial_id"]
    spec_record = json.loads((folder / "spec.json").read_text())
    sha = {name: hashlib.sha256((project / name).read_bytes()).hexdigest() for name in ("mylab/nets.py",)}
    modules = spec_record["code"]["modules"]
    assert set(modules) == {"mylab", "mylab.nets", "mylab.blocks"}
    assert modules["mylab.nets"] == sha["mylab/nets.py"]
    assert spec_record["spec_hash"] == ran[0]["trial_id"].rsplit("-s", 1)[0]

    own = json.loads((folder / "trial.json").read_text())["environment"]["scrutiny"]
    assert own["version"] == scrutiny.__version__
    assert own["path"] == str(Path(scrutiny.__file__).resolve().parent)
    if own["commit"] is not None:  # a git checkout of scrutiny (an editable install); None for a wheel
        assert re.fullmatch(r"[0-9a-f]{40}", own["commit"]) and isinstance(own["dirty"], bool)


def test_a_weights_file_is_identified_by_its_bytes(project):
    weights = project / "weights.pt"
    weights.write_bytes(b"first")
    spec = project / "spec.yaml"
    a = spec_hash(load_spec(spec, ["model.weights=weights.pt"]))
    assert spec_hash(load_spec(spec, ["model.weights=weights.pt"])) == a
    weights.write_bytes(b"second, at the same path")
    assert spec_hash(load_spec(spec, ["model.weights=weights.pt"])) != a
    weights.write_bytes(b"first")
    assert spec_hash(load_spec(spec, ["model.weights=weights.pt"])) == a


def test_a_report_whose_trials_ran_on_different_scrutiny_commits_says_so(project, tmp_path):
    store, out = tmp_path / "runs", tmp_path / "report"
    before = os.umask(0o022)
    try:
        cli("check", "claim.yaml", "--store", store, "--out", out, "--threads", "1")
    finally:
        os.umask(before)
    # readable by a colleague on a shared server (the umask allows it): the report and every trial file
    written = [p for p in [*out.iterdir(), *store.rglob("*")] if p.is_file() and ".locks" not in p.parts]
    assert {p.name for p in out.iterdir()} >= {"report.md", "report.html", "results.json", "scores.png"}
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in written} == {p.name: 0o644 for p in written}
    results = json.loads((out / "results.json").read_text())
    (version,) = results["code_versions"]
    assert version["trials"] == 4 and sorted(version["arms"]) == ["narrow", "wide"]
    assert results["code_note"].startswith("All 4 trials scored ran on scrutiny ")
    assert "Mixed code" not in (out / "report.md").read_text()

    # one trial of the narrow arm ran on another commit of scrutiny
    trial_json = store / f"{results['arms']['narrow']['spec_hash']}-s1" / "trial.json"
    record = json.loads(trial_json.read_text())
    record["environment"]["scrutiny"].update(commit="0" * 40, dirty=False)
    trial_json.write_text(json.dumps(record))

    cli("check", "claim.yaml", "--store", store, "--out", out, "--threads", "1")
    results = json.loads((out / "results.json").read_text())
    assert len(results["code_versions"]) == 2
    assert sorted(v["trials"] for v in results["code_versions"]) == [1, 3]
    other = next(v for v in results["code_versions"] if v["commit"] == "0" * 40)
    assert other["arms"] == ["narrow"] and other["label"] == f"{scrutiny.__version__} at {'0' * 12}"
    md, html = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert "Mixed code: the 4 trials scored ran on 2 versions of scrutiny" in md
    assert "Mixed code: the 4 trials scored ran on 2 versions of scrutiny" in html
