"""Stores are data: rebuilding a model from a stored spec imports nothing outside scrutiny unless trusted."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from scrutiny.models import build_model
from scrutiny.registry import MODELS, UntrustedCodeError

EVIL = """
from pathlib import Path

Path({marker!r}).write_text("imported")


def build(**kwargs):
    import torch

    return torch.nn.Linear(1, 1)
"""


@pytest.fixture
def evil(tmp_path, monkeypatch):
    """A module (a fresh name each test) that leaves a marker file when it is imported; returns the marker."""
    name = "evil_" + "".join(c if c.isalnum() else "_" for c in tmp_path.name)
    marker = tmp_path / "imported.txt"
    (tmp_path / f"{name}.py").write_text(EVIL.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    return SimpleNamespace(marker=marker, module=name)


def _stored_trial(store, model_name: str, **model_args) -> str:
    tid = "abcdef123456-s0"
    folder = store / tid
    folder.mkdir(parents=True)
    spec = {"model": {"name": model_name, **model_args}, "data": {"name": "synthetic"}}
    (folder / "spec.json").write_text(json.dumps({"trial_id": tid, "seed": 0, "spec": spec}))
    (folder / "result.json").write_text(json.dumps({"status": "complete"}))
    (folder / "checkpoint.pt").write_bytes(b"not a checkpoint")
    return tid


def test_the_registry_imports_nothing_untrusted(evil):
    with pytest.raises(UntrustedCodeError, match=f"would import module '{evil.module}'"):
        MODELS.get(f"{evil.module}:build", trust_code=False)
    with pytest.raises(UntrustedCodeError):
        build_model({"name": "os:system", "command": "touch x"}, {}, trust_code=False)
    assert not evil.marker.exists()
    assert MODELS.get("scrutiny.models.small_cnn:small_cnn", trust_code=False)  # scrutiny's own modules are fine
    assert MODELS.get("torchvision:resnet18", trust_code=False)  # and registered prefixes


@pytest.mark.parametrize("command", ["eval", "invariance"])
def test_eval_and_invariance_refuse_a_stored_spec_that_imports_code(tmp_path, evil, cli, command):
    store = tmp_path / "runs"
    tid = _stored_trial(store, f"{evil.module}:build")
    (tmp_path / "images" / "val" / "a").mkdir(parents=True)
    if command == "eval":
        args = ["eval", "--weights", store / tid, "--data", f"imagefolder:{tmp_path / 'images'}", "--device", "cpu"]
    else:
        args = ["invariance", tid, "--store", store]
    code, _, err = cli(*args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "--trust-code" in lines[0] and evil.module in lines[0], err
    assert not evil.marker.exists()  # refused before the import
    code, _, err = cli(*args, "--trust-code")
    assert evil.marker.exists() and code != 0 and "Traceback" not in err  # trusted: imported, then the checkpoint fails
