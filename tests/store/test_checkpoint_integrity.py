"""Checkpoints carry a SHA-256 written with them and checked on load; foreign files fail in one line."""

from __future__ import annotations

import os

import pytest
import torch

from scrutiny.errors import CheckpointError
from scrutiny.store import Store, load_checkpoint, verify_checkpoint


def _checkpoint(tmp_path):
    writer = Store(tmp_path).begin("t-s0", {})
    digest = writer.save_checkpoint({"model": {"w": torch.arange(1000, dtype=torch.float32)}})
    writer.finish({"status": "complete"})
    return tmp_path / "t-s0" / "checkpoint.pt", digest


def test_the_digest_is_written_and_checked(tmp_path):
    path, digest = _checkpoint(tmp_path)
    assert (tmp_path / "t-s0" / "checkpoint.pt.sha256").read_text() == f"{digest}  checkpoint.pt\n"
    assert verify_checkpoint(path)
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.arange(1000, dtype=torch.float32))


def test_flipped_bytes_are_caught_before_loading(tmp_path):
    path, _ = _checkpoint(tmp_path)
    data = bytearray(path.read_bytes())
    start = len(data) // 2  # inside the tensor's bytes: torch alone would load altered weights silently
    for i in range(start, start + 64):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(path)


@pytest.mark.parametrize("kind", ["text", "empty", "fifo", "folder", "bad_digest_file"])
def test_foreign_files_are_one_line_errors(tmp_path, kind):
    path = tmp_path / "weights.pt"
    if kind == "text":
        path.write_text("these are not weights\n" * 10)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "fifo":
        os.mkfifo(path)  # reading it would block forever
    elif kind == "folder":
        path.mkdir()
    else:
        torch.save({"w": torch.zeros(2)}, path)
        (tmp_path / "weights.pt.sha256").write_text("not-hex  weights.pt\n")
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
