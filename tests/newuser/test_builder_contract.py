"""The builder contract, as a new user meets it: the README's "Your own model" example, written into a folder
outside the package and run through the CLI from that folder without ``PYTHONPATH``; the dataset's facts
(``in_channels``, ``num_classes``, ``image_size``) reach a builder that asks for them; the spec's folder is what
makes the module importable, from whatever folder the command runs."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scrutiny.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"


def _forget(package: str) -> None:
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]


@pytest.fixture
def fresh_imports(monkeypatch):
    """No ``mylab`` imported, and an import path without the working directory (as for the ``scrutiny`` command),
    restored afterwards (loading a spec appends its folder)."""
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".")])
    _forget("mylab")
    yield
    _forget("mylab")


def readme_example() -> tuple[dict[str, str], list[list[str]]]:
    """The files (path -> text) and the ``scrutiny`` commands of the README's "Your own model" example."""
    text = README.read_text()
    start = text.index("**Your own model.**")
    section = text[start : text.index("The contract:", start)]
    files: dict[str, str] = {}
    commands: list[list[str]] = []
    for lang, body in re.findall(r"```(\w+)\n(.*?)```", section, re.S):
        if lang == "bash":
            commands += [shlex.split(line, comments=True)[1:] for line in body.splitlines() if line.strip()]
            continue
        first = body.splitlines()[0]
        name = first.removeprefix("# ").split()[0].rstrip(",")  # "# mylab/nets.py (and ...)" -> mylab/nets.py
        files[name] = body
        if "empty mylab/__init__.py" in first:
            files["mylab/__init__.py"] = ""
    return files, commands


def write_files(folder: Path, files: dict[str, str]) -> None:
    for name, body in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)


def scrutiny(*args: object):
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, f"{res.output}\n{res.exception!r}"
    return res


def test_the_readme_example_runs_from_the_folder_that_holds_it(tmp_path, monkeypatch, fresh_imports):
    files, commands = readme_example()
    assert set(files) == {"mylab/nets.py", "mylab/__init__.py", "my_cnn.yaml"}
    assert [c[:2] for c in commands] == [["run", "my_cnn.yaml"]] * 2 and "--dry-run" in commands[0]
    write_files(tmp_path, files)
    monkeypatch.chdir(tmp_path)  # as the user: in the folder that holds mylab/, with no PYTHONPATH
    store = tmp_path / "runs"
    dry = scrutiny(*commands[0], "--store", store, "--json")
    planned = json.loads(dry.stdout)["trials"]
    assert [t["run"] for t in planned] == [True, True]
    done = json.loads(scrutiny(*commands[1], "--store", store, "--threads", "1", "--json").stdout)
    assert done["counts"] == {"complete": 2}
    for trial in planned:  # the trials that the dry run announced are the ones that ran
        result = json.loads((store / trial["trial_id"] / "result.json").read_text())
        assert result["status"] == "complete", result.get("error")


def test_the_spec_folder_is_importable_from_any_working_folder(tmp_path, monkeypatch, fresh_imports):
    files, _ = readme_example()
    project = tmp_path / "project"
    write_files(project, files)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    res = scrutiny("run", project / "my_cnn.yaml", "--store", tmp_path / "runs", "--threads", "1", "--json")
    assert json.loads(res.stdout)["counts"] == {"complete": 1}


BUILDER = """
from torch import nn


def flat(in_channels: int, num_classes: int, image_size: tuple[int, int]) -> nn.Module:
    \"\"\"A linear classifier on the flattened image: wrong facts from the dataset fail with a shape error.\"\"\"
    height, width = image_size
    return nn.Sequential(nn.Flatten(), nn.Linear(in_channels * height * width, num_classes))
"""


@pytest.mark.parametrize(("channels", "size", "classes"), [(3, 12, 5), (1, 8, 3)])
def test_a_builder_receives_in_channels_num_classes_and_image_size(
    tmp_path, monkeypatch, fresh_imports, channels, size, classes
):
    write_files(tmp_path, {"mylab/__init__.py": "", "mylab/linear.py": BUILDER})
    spec = tmp_path / "flat.yaml"
    spec.write_text(
        "model: {name: mylab.linear:flat}\n"
        f"data: {{name: synthetic, channels: {channels}, size: {size}, num_classes: {classes}, n_train: 64,"
        " n_test: 32, batch_size: 32}\n"
        "train: {epochs: 1, device: cpu}\n"
    )
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "runs"
    res = json.loads(scrutiny("run", spec.name, "--store", store, "--threads", "1", "--json").stdout)
    (trial,) = res["ran"]
    result = json.loads((store / trial["trial_id"] / "result.json").read_text())
    assert result["status"] == "complete", result.get("error")
    assert result["n_params"] == (channels * size * size + 1) * classes


def test_a_module_that_is_nowhere_on_the_path_is_one_line_naming_the_file_and_key(tmp_path, fresh_imports):
    spec = tmp_path / "s.yaml"
    spec.write_text("model: {name: nolab.nets:cnn}\ndata: {name: synthetic}\n")
    res = CliRunner().invoke(app, ["run", str(spec), "--dry-run", "--store", str(tmp_path / "runs")])
    assert res.exit_code != 0
    message = str(res.exception)
    assert message.startswith(f"{spec}: model.name: ") and "nolab" in message and "\n" not in message
