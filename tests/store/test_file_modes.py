"""Files are created with mode 0o666 less the umask, as ``open()`` creates them: a colleague on a shared server can
read a store and a report wherever the umask allows it (an atomic write's temporary file used to be 0o600)."""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager
from pathlib import Path

import pytest

from scrutiny.store import Store
from scrutiny.store._atomic import append_jsonl, write_atomic, write_json


@contextmanager
def umask(mask: int):
    before = os.umask(mask)
    try:
        yield
    finally:
        os.umask(before)


def modes(folder: Path) -> dict[str, int]:
    """``{relative path: permission bits}`` of every file under ``folder`` (locks aside)."""
    return {
        str(p.relative_to(folder)): stat.S_IMODE(p.stat().st_mode)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".locks" not in p.parts
    }


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o027, 0o077])
def test_atomic_writes_and_appends_respect_the_umask(tmp_path, mask):
    with umask(mask):
        write_json(tmp_path / "a.json", {"x": 1})
        write_atomic(tmp_path / "b.bin", lambda fh: fh.write(b"bytes"))
        write_json(tmp_path / "a.json", {"x": 2})  # replaced: the new file gets the mode again
        append_jsonl(tmp_path / "c.jsonl", {"epoch": 1})
    assert modes(tmp_path) == dict.fromkeys(["a.json", "b.bin", "c.jsonl"], 0o666 & ~mask)
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_trial_folder_is_readable_by_group_and_others_under_umask_022(tmp_path):
    import torch

    with umask(0o022):
        store = Store(tmp_path / "runs")
        writer = store.begin("abc-s0", {"spec_hash": "abc", "seed": 0})
        writer.write("trial.json", {"trial_id": "abc-s0"})
        writer.append_metrics({"epoch": 1})
        writer.save_checkpoint({"model": {"w": torch.zeros(2)}})
        writer.save_arrays("outputs.npz", {"test_pred": [0, 1]})
        writer.finish({"status": "complete"})
    found = modes(tmp_path / "runs")
    assert set(found) >= {
        "STORE.json",
        "abc-s0/spec.json",
        "abc-s0/trial.json",
        "abc-s0/metrics.jsonl",
        "abc-s0/checkpoint.pt",
        "abc-s0/checkpoint.pt.sha256",
        "abc-s0/outputs.npz",
        "abc-s0/result.json",
    }
    assert set(found.values()) == {0o644}, found
