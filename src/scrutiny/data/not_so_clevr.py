"""Not-so-Clevr, the single-square version used for CoordConv's coordinate tasks (Liu et al., NeurIPS 2018).

Source: ``uber-research/CoordConv`` ``data/not_so_clevr_generator.py`` (the "rectangle_4" files) and the paper's
two-line generator; facts in ``reference/coordconv.md`` section 1.

The examples. A ``canvas``×``canvas`` image and an odd ``square``×``square`` filled square of half-size
``h = square // 2``. The centres are every ``(x, y)`` with ``h <= x, y <= canvas - 1 - h``, i.e. every position
where the whole square fits; they are listed **x-major** (x the outer loop, y the inner), as the official sweep
does. On 64×64 with 9×9 squares: centres 4..59, 56² = **3136** examples. On 32×32 with 5×5: centres 2..29,
28² = 784 examples. The one-hot is 1 at ``[row = y, column = x]``; the square covers rows ``y-h..y+h`` and columns
``x-h..x+h`` inclusive with the value ``square_value`` (1.0 as in the paper's two-liner; the official h5 files hold
gray 128/255 = 0.50196). Normalised coordinates are ``(x / canvas, y / canvas)`` (divided by 64, not 63, as in the
official files).

The splits (test = the official "val" split, which is the one the paper reports; there is no third split):

- ``uniform``: the official rule. A legacy ``numpy.random.RandomState(20202)`` draws one ``random_sample()`` per
  example in x-major order; a draw below 0.25 sends the example to test. 64×64/9: **train 2368 / test 768**
  (24.5 % test, not the 20 % that summaries of the paper state). The legacy generator is stable across numpy versions.
- ``uniform80``: the ports' 80/20 split, ``sklearn.model_selection.train_test_split(range(N), test_size=0.2,
  random_state=split_seed)`` over the x-major index. 64×64/9: **train 2508 / test 628**, the ports' sizes; the
  membership equals the ports' only if they list the examples in the same order (not checked).
- ``quadrant``: test holds the centres with ``x / canvas > 0.5`` and ``y / canvas > 0.5`` (the official rule on the
  normalised locations). 64×64/9: x, y >= 33, **train 2407 / test 729** (27×27 test centres). 32×32/5: x, y >= 17,
  train 615 / test 169.

Validation splits, for tuning. ``uniform_val``, ``uniform80_val`` and ``quadrant_val`` keep the test set of
``uniform``, ``uniform80`` and ``quadrant`` and carve a ``val`` split out of its training examples: a legacy
``numpy.random.RandomState(20203)`` draws one ``random_sample()`` per training example (x-major order), and a draw
below 0.2 sends it to ``val``; ``train`` keeps the rest. Settings are chosen on ``val`` (``eval.split: val``) and
the verdict trials then train on the full training split of the plain split name, so the test split is never seen
while tuning. On the quadrant split the carve is random, so ``val`` measures interpolation between seen positions,
not the held-out quadrant. The plain split names build exactly what they built before (same trial ids).

The tasks (what one example ``(input, target)`` of the torch splits holds):

- ``classification``: input the pixel coordinates ``(x, y)`` as float ``(2,)``, not normalised (as in the official
  code); target the class index ``y * canvas + x`` (int) over ``canvas²`` classes.
- ``regression``: input the one-hot image ``(1, canvas, canvas)``; target ``(x / canvas, y / canvas)`` float ``(2,)``.
- ``rendering``: input ``(x, y)`` float ``(2,)``; target the square image ``(1, canvas, canvas)`` float.

Pure numpy generators (:func:`centres`, :func:`onehots`, :func:`squares`, :func:`split_mask`) are separate from the
torch wrapping (:func:`not_so_clevr`), so they can be tested and reused directly. Splits keep the x-major order; the
trial shuffles.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import numpy as np
import torch
from torch.utils.data import TensorDataset

from scrutiny.data._bundle import DataBundle
from scrutiny.errors import DataError
from scrutiny.registry import DATASETS

UNIFORM_SEED = 20202  # MAGIC_SEED_OF_WONDER in the official generator
UNIFORM_TEST_FRACTION = 0.25
SPLITS = ("uniform", "uniform80", "quadrant", "uniform_val", "uniform80_val", "quadrant_val")
BaseSplit = Literal["uniform", "uniform80", "quadrant"]
_BASE_SPLIT: dict[str, BaseSplit] = {  # a _val split keeps its base's test set
    **{"uniform": "uniform", "uniform80": "uniform80", "quadrant": "quadrant"},
    **{"uniform_val": "uniform", "uniform80_val": "uniform80", "quadrant_val": "quadrant"},
}
VAL_SEED = 20203  # the validation carve's own legacy RandomState, independent of the test split's
VAL_FRACTION = 0.2
TASKS = ("classification", "regression", "rendering")


def _check_geometry(canvas: int, square: int) -> int:
    if canvas < 1:
        raise DataError(f"data.canvas: expected a positive integer, got {canvas}")
    if square < 1 or square % 2 == 0:
        raise DataError(f"data.square: expected an odd positive integer (the square is centred), got {square}")
    if square > canvas:
        raise DataError(f"data.square: {square} does not fit in data.canvas {canvas}")
    return square // 2


def centres(canvas: int = 64, square: int = 9) -> np.ndarray:
    """All centres where the whole square fits, x-major.

    Returns:
        int64 array ``(N, 2)`` of ``(x, y)``, ``N = (canvas - 2 * (square // 2))²``; row ``k`` is
        ``(lo + k // n, lo + k % n)`` with ``lo = square // 2`` and ``n`` values per axis.
    """
    half = _check_geometry(canvas, square)
    axis = np.arange(half, canvas - half, dtype=np.int64)
    xs, ys = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def onehots(coords: np.ndarray, canvas: int = 64) -> np.ndarray:
    """One-hot maps: 1 at ``[y, x]``.

    Args:
        coords: int array ``(N, 2)`` of ``(x, y)``.

    Returns:
        float32 array ``(N, canvas, canvas)``.
    """
    out = np.zeros((len(coords), canvas, canvas), dtype=np.float32)
    out[np.arange(len(coords)), coords[:, 1], coords[:, 0]] = 1.0
    return out


def squares(coords: np.ndarray, canvas: int = 64, square: int = 9, value: float = 1.0) -> np.ndarray:
    """Filled squares: rows ``y-h..y+h`` and columns ``x-h..x+h`` (inclusive, ``h = square // 2``) set to ``value``.

    Args:
        coords: int array ``(N, 2)`` of ``(x, y)``; squares that cross the border are clipped.

    Returns:
        float32 array ``(N, canvas, canvas)``.
    """
    half = _check_geometry(canvas, square)
    grid = np.arange(canvas)
    in_rows = np.abs(grid[None, :] - coords[:, 1:2]) <= half  # (N, H)
    in_cols = np.abs(grid[None, :] - coords[:, 0:1]) <= half  # (N, W)
    return (in_rows[:, :, None] & in_cols[:, None, :]).astype(np.float32) * np.float32(value)


def normalized(coords: np.ndarray, canvas: int = 64) -> np.ndarray:
    """``coords / canvas`` as float32 ``(N, 2)`` (the official ``normalized_locations``: divided by 64, not 63)."""
    return (coords / float(canvas)).astype(np.float32)


def class_index(coords: np.ndarray, canvas: int = 64) -> np.ndarray:
    """Flat pixel index ``y * canvas + x`` (int64 ``(N,)``): the argmax of the flattened one-hot."""
    return coords[:, 1] * canvas + coords[:, 0]


def split_mask(
    coords: np.ndarray,
    split: BaseSplit,
    canvas: int = 64,
    split_seed: int = 0,
) -> np.ndarray:
    """Which examples go to test.

    Args:
        coords: int array ``(N, 2)`` of ``(x, y)`` in x-major order (as :func:`centres` returns them).
        split: ``uniform`` (official: ``RandomState(20202)``, one draw per example, ``< 0.25`` is test),
            ``uniform80`` (sklearn ``train_test_split``, 20 % test, ``random_state=split_seed``) or ``quadrant``
            (``x / canvas > 0.5`` and ``y / canvas > 0.5`` is test).
        split_seed: Seed of ``uniform80`` only; ``uniform`` always uses the official seed.

    Returns:
        bool array ``(N,)``, True for test.
    """
    n = len(coords)
    if split == "uniform":
        return np.random.RandomState(UNIFORM_SEED).random_sample(n) < UNIFORM_TEST_FRACTION
    if split == "uniform80":
        from sklearn.model_selection import train_test_split

        _, test_idx = train_test_split(np.arange(n), test_size=0.2, random_state=split_seed)
        mask = np.zeros(n, dtype=bool)
        mask[test_idx] = True
        return mask
    if split == "quadrant":
        return (coords[:, 0] / canvas > 0.5) & (coords[:, 1] / canvas > 0.5)
    raise DataError(f"data.split: expected one of {list(SPLITS)}, got '{split}'")


def val_mask(n_train: int) -> np.ndarray:
    """Which of ``n_train`` training examples (x-major order) go to ``val``: a ``RandomState(20203)`` draw < 0.2.

    Returns:
        bool array ``(n_train,)``, True for validation.
    """
    return np.random.RandomState(VAL_SEED).random_sample(n_train) < VAL_FRACTION


def coords_sha1(coords: np.ndarray) -> str:
    """sha1 of the int64 ``(N, 2)`` array in x-major order: a fingerprint of a split's membership."""
    ordered = coords[np.lexsort((coords[:, 1], coords[:, 0]))].astype(np.int64)
    return hashlib.sha1(np.ascontiguousarray(ordered).tobytes()).hexdigest()


def _task_tensors(
    task: str, coords: np.ndarray, canvas: int, square: int, square_value: float
) -> tuple[torch.Tensor, torch.Tensor]:
    if task == "classification":
        return torch.from_numpy(coords.astype(np.float32)), torch.from_numpy(class_index(coords, canvas))
    if task == "regression":
        return torch.from_numpy(onehots(coords, canvas)).unsqueeze(1), torch.from_numpy(normalized(coords, canvas))
    if task == "rendering":
        images = squares(coords, canvas, square, square_value)
        return torch.from_numpy(coords.astype(np.float32)), torch.from_numpy(images).unsqueeze(1)
    raise DataError(f"data.task: expected one of {list(TASKS)}, got '{task}'")


@DATASETS.register("not_so_clevr")
def not_so_clevr(
    *,
    root: str | None = None,
    task: Literal["classification", "regression", "rendering"] = "classification",
    split: Literal["uniform", "uniform80", "quadrant", "uniform_val", "uniform80_val", "quadrant_val"] = "uniform",
    canvas: int = 64,
    square: int = 9,
    square_value: float = 1.0,
    split_seed: int = 0,
) -> DataBundle:
    """Not-so-Clevr single squares (CoordConv): coordinate classification, regression or rendering; generated.

    Args:
        root: Unused (the data are generated); accepted for the common builder signature.
        task: ``classification`` (``(x, y)`` -> class ``y * canvas + x``), ``regression`` (one-hot ``(1, H, W)`` ->
            ``(x / canvas, y / canvas)``) or ``rendering`` (``(x, y)`` -> square image ``(1, H, W)``).
        split: ``uniform`` (official, 2368/768 on 64×64), ``uniform80`` (2508/628) or ``quadrant`` (2407/729); with
            ``_val`` appended, the same test split and a ``val`` split carved from the training examples.
        canvas: Side of the square canvas in pixels.
        square: Side of the square (odd).
        square_value: Pixel value inside the square (rendering targets): 1.0, or 128/255 as in the official files.
        split_seed: Seed of the ``uniform80`` split; never the trial seed.

    Returns:
        A bundle with splits ``train`` and ``test``. ``num_classes`` is ``canvas²`` for classification and 0 for the
        other tasks. ``image_size`` is ``(canvas, canvas)``, the canvas (also for the coordinate-input tasks, whose
        input is ``(2,)``, so that model builders learn the output size). ``in_channels`` is 2 for coordinate inputs
        and 1 for the one-hot input.
    """
    if task not in TASKS:
        raise DataError(f"data.task: expected one of {list(TASKS)}, got '{task}'")
    if split not in SPLITS:
        raise DataError(f"data.split: expected one of {list(SPLITS)}, got '{split}'")
    if not 0.0 < square_value:
        raise DataError(f"data.square_value: expected a positive number, got {square_value}")
    coords = centres(canvas, square)
    base = _BASE_SPLIT[split]
    test = split_mask(coords, base, canvas, split_seed)
    inputs, targets = _task_tensors(task, coords, canvas, square, square_value)
    train_rows = np.flatnonzero(~test)
    val_rows = np.empty(0, dtype=np.int64)
    if split != base:
        to_val = val_mask(len(train_rows))
        train_rows, val_rows = train_rows[~to_val], train_rows[to_val]
    train_idx, test_idx = torch.from_numpy(train_rows), torch.from_numpy(np.flatnonzero(test))
    splits = {
        "train": TensorDataset(inputs[train_idx], targets[train_idx]),
        "test": TensorDataset(inputs[test_idx], targets[test_idx]),
    }
    if split != base:
        val_idx = torch.from_numpy(val_rows)
        splits["val"] = TensorDataset(inputs[val_idx], targets[val_idx])
    info = {
        "n_train": len(train_idx),
        "n_test": len(test_idx),
        **({"n_val": len(val_rows)} if split != base else {}),
        "task": task,
        "split": split,
        "canvas": canvas,
        "square": square,
        "square_value": square_value,
        "split_seed": split_seed if base == "uniform80" else None,
        "test_centres_sha1": coords_sha1(coords[test]),
        "input": "one-hot image (1, H, W)" if task == "regression" else "pixel coordinates (x, y), float (2,)",
        "target": {
            "classification": "class index y * canvas + x",
            "regression": "(x / canvas, y / canvas), float (2,)",
            "rendering": f"square image (1, H, W), value {square_value}",
        }[task],
        "source": "generated (uber-research/CoordConv data/not_so_clevr_generator.py semantics)",
    }
    return DataBundle(
        splits=splits,
        num_classes=canvas * canvas if task == "classification" else 0,
        in_channels=1 if task == "regression" else 2,
        image_size=(canvas, canvas),
        info=info,
        task=task,
        task_args={"scale": canvas} if task == "regression" else {},
    )
