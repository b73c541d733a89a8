"""CIFAR-10/100 read straight from torchvision's on-disk format (``cifar-10-batches-py``, ``cifar-100-python``).

The pickled batches hold ``data`` uint8 ``(N, 3072)`` (channel-major 32×32) and ``labels`` (``fine_labels`` for
CIFAR-100). The order is torchvision's: ``data_batch_1`` .. ``_5`` for ``train`` (CIFAR-100: ``train``) and
``test_batch`` (``test``) for ``test``, so index ``i`` is the ``i``-th example of the ``cifar10``/``cifar100``
datasets. Unlike torchvision, no checksum is required, so a small file in the same format can be audited.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scrutiny.errors import DataError

_LAYOUT = {
    "cifar10": ("cifar-10-batches-py", {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}),
    "cifar100": ("cifar-100-python", {"train": ["train"], "test": ["test"]}),
}


@dataclass
class CifarSplit:
    """One split: ``data`` uint8 ``(N, 32, 32, 3)`` and ``targets`` ``(N,)``."""

    data: np.ndarray
    targets: list[int]

    def __len__(self) -> int:
        return len(self.targets)


def read_cifar(root: str | Path | None, which: str) -> dict[str, CifarSplit]:
    """``{"train": ..., "test": ...}`` of ``cifar10`` or ``cifar100`` under ``root``; errors name the file."""
    if root is None:
        raise DataError(f"data.root: required for {which} (a folder that holds '{_LAYOUT[which][0]}')")
    folder = Path(root).expanduser() / _LAYOUT[which][0]
    out = {}
    for split, names in _LAYOUT[which][1].items():
        data: list[np.ndarray] = []
        labels: list[int] = []
        for name in names:
            path = folder / name
            try:
                with open(path, "rb") as fh:
                    raw = pickle.load(fh, encoding="bytes")  # noqa: S301 - torchvision's format is a pickle
                batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in raw.items()}  # Python 2 or 3 keys
                rows = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
                key = "labels" if "labels" in batch else "fine_labels"
                data.append(rows.transpose(0, 2, 3, 1))
                labels.extend(int(v) for v in batch[key])
            except FileNotFoundError:
                raise DataError(f"data.root: {path}: not found ({which} in torchvision's python format)") from None
            except (OSError, EOFError, pickle.UnpicklingError, KeyError, ValueError, TypeError, AttributeError) as exc:
                raise DataError(f"data.root: {path}: not a CIFAR batch ({type(exc).__name__}: {exc})") from None
        out[split] = CifarSplit(np.ascontiguousarray(np.concatenate(data)), labels)
    return out


def write_cifar10(root: str | Path, train: CifarSplit, test: CifarSplit) -> Path:
    """Write ``train`` and ``test`` in CIFAR-10's python format under ``root`` (five training batches, one test
    batch, ``batches.meta``); return the ``cifar-10-batches-py`` folder. For benchmarks and tests on random images
    where CIFAR-10 itself is absent: :func:`read_cifar` and the ``cifar10`` dataset read it (no checksum)."""
    folder = Path(root).expanduser() / _LAYOUT["cifar10"][0]
    folder.mkdir(parents=True, exist_ok=True)
    chunks = np.array_split(np.arange(len(train)), 5)
    for name, rows in zip(_LAYOUT["cifar10"][1]["train"], chunks, strict=True):
        _write_batch(folder / name, train.data[rows], [train.targets[i] for i in rows], name)
    _write_batch(folder / "test_batch", test.data, list(test.targets), "test_batch")
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(folder / "batches.meta", "wb") as fh:  # str keys, as torchvision reads the real files (latin1)
        pickle.dump({"label_names": names, "num_vis": 3072, "num_cases_per_batch": len(chunks[0])}, fh)
    return folder


def write_random_cifar10(root: str | Path, n_train: int, n_test: int, seed: int = 0) -> Path:
    """A CIFAR-10-format folder of uniformly random images and labels (drawn in the order: training images, their
    labels, test images, their labels) under ``root``: throughput only, its accuracies are chance."""
    rng = np.random.default_rng(seed)

    def split(n: int) -> CifarSplit:
        return CifarSplit(rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n).tolist())

    train = split(n_train)
    return write_cifar10(root, train, split(n_test))


def _write_batch(path: Path, images: np.ndarray, labels: list[int], name: str) -> None:
    rows = np.ascontiguousarray(images.transpose(0, 3, 1, 2)).reshape(len(images), 3072).astype(np.uint8)
    with open(path, "wb") as fh:
        pickle.dump({"batch_label": name, "labels": [int(v) for v in labels], "data": rows}, fh)
