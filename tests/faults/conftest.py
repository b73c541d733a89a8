"""Fixtures of the fault tests: a tiny synthetic spec (about a second a trial) and mount helpers."""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

SYNTHETIC = """
label: tiny-synthetic
model: {{name: {model}, width: 4}}
data: {{name: synthetic, num_classes: 4, channels: 1, size: 8, n_train: {n_train}, n_test: 32, batch_size: 32}}
optim: {{name: sgd, lr: 0.05}}
train: {{epochs: {epochs}, device: cpu}}
"""


def synthetic_spec(path: Path, *, model: str = "small_cnn", n_train: int = 64, epochs: int = 1) -> Path:
    path.write_text(SYNTHETIC.format(model=model, n_train=n_train, epochs=epochs))
    return path


@pytest.fixture
def synthetic_spec_file(tmp_path: Path) -> Path:
    return synthetic_spec(tmp_path / "synthetic.yaml")


@contextmanager
def tmpfs(folder: Path, options: str):
    """Mount a tmpfs on ``folder`` for the block (skips the test when this process may not mount)."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; run as root to test a full or read-only store")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode(errors='replace').strip()[:100]})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run the console entry point in this process: ``(exit code, stdout, stderr)``."""
    import sys

    from scrutiny.cli import main

    monkeypatch.delenv("SCRUTINY_STORE", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")

    def run(*args) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["scrutiny", *map(str, args)])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
