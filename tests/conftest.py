"""Shared fixtures: a tiny, fast digits spec and a temporary store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The numbers some tests pin (a smoke case's estimate, a verdict at the edge) were measured with PyTorch's AVX2 CPU
# kernels. On a CPU with AVX-512, oneDNN and ATen pick other kernels whose rounding differs, and a few test
# examples flip (seen: coordconv's smoke estimate 0 instead of 1/92 on an AMD EPYC with AVX-512). Capping both at
# AVX2, before torch is imported, gives the same numbers on any x86-64 machine with AVX2; subprocesses inherit it.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"

# Small and fast: 2 epochs of a narrow CNN on digits, two threads at most, seconds per trial on 2 cores.
TINY = """
label: tiny-digits
model: {name: small_cnn, width: 8}
data: {name: digits, batch_size: 64, eval_batch_size: 100}
optim: {name: sgd, lr: 0.1, momentum: 0.9}
train: {epochs: 2, device: cpu}
"""


@pytest.fixture
def tiny_spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


@pytest.fixture
def cli_env() -> dict[str, str]:
    """Environment for running the CLI in a subprocess: no colours, this source tree importable."""
    env = dict(os.environ)
    env.pop("SCRUTINY_STORE", None)
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "200"
    return env


@pytest.fixture(scope="module")
def own_inductor_cache(tmp_path_factory):
    """``torch.compile``'s on-disk cache in a folder of this test module's own, and dynamo's in-process caches
    cleared: a cache that an earlier process left in /tmp (seen here: one written before the AVX2 cap above) gave
    a compiled trial a NaN loss at its first step, so a compile test must not depend on it."""
    import torch

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path_factory.mktemp("inductor")))
        torch._dynamo.reset()
        yield
        torch._dynamo.reset()
