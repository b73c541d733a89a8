"""Fixtures for the protocol tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from .helpers import SmallCNN, write_images


@pytest.fixture(autouse=True)
def one_thread():
    """Small tensors: intra-op threads only add wake-up overhead (large on a loaded 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def small_cnn() -> SmallCNN:
    torch.manual_seed(0)
    return SmallCNN().eval()


@pytest.fixture
def odd_images(tmp_path: Path) -> list[Image.Image]:
    """Random images of odd sizes, written to PNG and read back (as an evaluation would see them)."""
    paths = write_images(tmp_path / "odd", [(500, 375), (301, 227), (257, 389), (333, 333), (256, 300)])
    return [Image.open(p).convert("RGB") for p in paths]
