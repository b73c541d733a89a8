"""Long-tailed datasets as in K49-LT (Zhou et al., ICLR 2022, ``core/make_kmnist_lt.py``).

Class sizes follow the released code's Zipf rule, ``size_i = max(floor(head / i^alpha), min_per_class)`` for the
rank ``i = 1..K`` (the code writes it as ``int(head / zipf.pmf(1, a) * zipf.pmf(i, a))``; see :func:`class_sizes`).
An *instance* assigns the ranks to the classes in a seeded random order (the reference's 30 instances shuffle the
classes with an unseeded ``random.shuffle``; here the order is a function of the instance seed). Within a class the
examples are taken in a fixed order and cycled (``data_cls[i % num_base]``) when a class needs more than it has.

A transformed variant (K49-ROT-LT, -BG-LT, -DIL-LT) applies the transform family **once per example at build
time**: every training copy gets a fresh draw, and the validation and test images are transformed once each, so the
nuisance is in the data. Such bundles also hold ``test_clean``, the untransformed test images, on which eKLD is
measured (the reference measures eKLD on untransformed images). Images are normalised with the mean and standard
deviation of the (transformed) long-tailed train split; ``info["normalize"]`` records them, and
:func:`bundle_transform` rebuilds a transform family that works in that normalised space. ``augment`` names a
family (the oracle augmentation) or, as a mapping ``{name: git, ...}``, selects the learned augmentation of
:mod:`scrutiny.data.git_augment`.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from scrutiny.data._bundle import DataBundle, Split
from scrutiny.data.augment import Augment
from scrutiny.data.transforms import TRANSFORMS, Transform, make_transform
from scrutiny.errors import DataError
from scrutiny.registry import DATASETS

K49_FILES = ("k49-train-imgs.npz", "k49-train-labels.npz", "k49-test-imgs.npz", "k49-test-labels.npz")


def class_sizes(num_classes: int, alpha: float = 2.0, head: int = 4800, min_per_class: int = 5) -> list[int]:
    """Sizes by rank: ``max(floor(head / i^alpha), min_per_class)`` for ``i = 1..num_classes``.

    This is the reference's ``calc_class_sizes`` in exact arithmetic. The released code computes the ratio through
    ``scipy.stats.zipf.pmf`` in floating point, which agrees for its settings (alpha 2.0, 1.2, 1.02 with head 4800)
    but truncates an exact integer one below in rare cases (alpha 1.5, head 1000 gives 999 for the head class).

    Example: ``class_sizes(10, 2.0, 100)`` is ``[100, 25, 11, 6, 5, 5, 5, 5, 5, 5]``.
    """
    if num_classes < 1 or head < 1 or min_per_class < 0 or not alpha >= 0:
        raise DataError(
            f"data: class sizes need num_classes >= 1, head >= 1, min_per_class >= 0, alpha >= 0; "
            f"got {num_classes}, {head}, {min_per_class}, {alpha}"
        )
    sizes = []
    for i in range(1, num_classes + 1):
        exact = head / i**alpha
        sizes.append(max(math.floor(exact * (1 + 1e-12)), min_per_class))  # nudge: 1200.0 - ulp stays 1200
    return sizes


def alpha_for_imbalance(imbalance: float, num_classes: int) -> float:
    """The Zipf exponent whose last rank (before the floor) is ``head / imbalance``: ``ln(imbalance) / ln(K)``."""
    if not imbalance >= 1 or num_classes < 2:
        raise DataError(f"data.imbalance: expected a ratio >= 1 and at least 2 classes, got {imbalance}, {num_classes}")
    return math.log(imbalance) / math.log(num_classes)


@dataclass(frozen=True)
class LongTailInstance:
    """One long-tailed subset of a dataset.

    Attributes:
        indices: Indices into the base labels ``(M,)``, grouped by class in class order; repeats where cycled.
        class_order: ``class_order[r]`` is the class given rank ``r`` (0 = head) ``(K,)``.
        sizes: Size of each class, indexed by class ``(K,)``.
        repeats: Per class, how many copies exceed the base images available (0 when none are cycled) ``(K,)``.
    """

    indices: np.ndarray
    class_order: np.ndarray
    sizes: np.ndarray
    repeats: np.ndarray


def long_tail_indices(
    labels: np.ndarray, sizes_by_rank: list[int], order_seed: int, select_seed: int | None = None
) -> LongTailInstance:
    """A seeded long-tailed subset of a labelled set.

    Args:
        labels: Class labels ``(N,)`` in ``0..K-1``, with ``K = len(sizes_by_rank)``.
        sizes_by_rank: Class sizes by rank, head first (see :func:`class_sizes`).
        order_seed: Seed of the class order (which class gets which rank): the instance.
        select_seed: Seed of a permutation within each class; ``None`` takes the examples in dataset order.

    Returns:
        The instance; class ``c`` holds the first ``sizes[c]`` of its (permuted) examples, cycled if needed.
    """
    labels = np.asarray(labels)
    k = len(sizes_by_rank)
    counts = np.bincount(labels, minlength=k)
    if counts.size != k or np.any(counts == 0):
        raise DataError(f"data: a long tail over {k} classes needs every class present, got counts {counts.tolist()}")
    order = np.random.default_rng(order_seed).permutation(k)
    sizes = np.empty(k, dtype=np.int64)
    sizes[order] = sizes_by_rank
    select = None if select_seed is None else np.random.default_rng(select_seed)
    parts, repeats = [], np.zeros(k, dtype=np.int64)
    for c in range(k):
        pool = np.flatnonzero(labels == c)
        if select is not None:
            pool = select.permutation(pool)
        parts.append(pool[np.arange(sizes[c]) % pool.size])
        repeats[c] = max(0, int(sizes[c]) - pool.size)
    return LongTailInstance(np.concatenate(parts), order, sizes, repeats)


def _stream_seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "little") >> 1


def _transform_once(x: torch.Tensor, name: str, seed: int) -> torch.Tensor:
    """Apply a fresh draw of the family ``name`` to every raw image of ``x`` ``(N, C, H, W)``."""
    if name == "none" or len(x) == 0:
        return x
    tfm = make_transform(name)
    return tfm.apply(x, tfm.draw(torch.Generator().manual_seed(seed), len(x)))


def _check_choice(key: str, value: str) -> None:
    if value != "none" and value not in TRANSFORMS:
        raise DataError(f"data.{key}: expected one of {['none', *sorted(TRANSFORMS)]}, got '{value}'")


def _assemble(
    train: tuple[torch.Tensor, np.ndarray],
    val: tuple[torch.Tensor, np.ndarray] | None,
    test: tuple[torch.Tensor, np.ndarray],
    *,
    num_classes: int,
    alpha: float | None,
    imbalance: float | None,
    head: int,
    min_per_class: int,
    instance: int,
    select_seed: int | None,
    transform: str,
    augment: str | dict,
    info: dict,
) -> DataBundle:
    """Long-tail the raw train pool, transform once, normalise with the train statistics, and bundle the splits."""
    _check_choice("transform", transform)
    if not isinstance(augment, dict):  # a mapping: the learned augmentation (GIT) of scrutiny.data.git_augment
        _check_choice("augment", augment)
    if alpha is not None and imbalance is not None:
        raise DataError("data.imbalance: give either alpha or imbalance, not both")
    alpha = alpha_for_imbalance(imbalance, num_classes) if imbalance is not None else (2.0 if alpha is None else alpha)
    lt = long_tail_indices(train[1], class_sizes(num_classes, alpha, head, min_per_class), instance, select_seed)
    x_train = _transform_once(train[0][lt.indices], transform, _stream_seed(instance, transform, "train"))
    y_train = torch.from_numpy(train[1][lt.indices]).long()
    mean, std = float(x_train.mean()), float(x_train.std())
    norm = lambda x: (x - mean) / std  # noqa: E731
    raw_splits = {"train": (x_train, y_train)}
    if val is not None:
        x_val = _transform_once(val[0], transform, _stream_seed(instance, transform, "val"))
        raw_splits["val"] = (x_val, torch.from_numpy(val[1]).long())
    x_test = _transform_once(test[0], transform, _stream_seed(instance, transform, "test"))
    raw_splits["test"] = (x_test, torch.from_numpy(test[1]).long())
    if transform != "none":
        raw_splits["test_clean"] = (test[0], torch.from_numpy(test[1]).long())
    tensors = {name: TensorDataset(norm(x).float(), y) for name, (x, y) in raw_splits.items()}
    info = {
        **info,
        "alpha": alpha,
        "head": head,
        "min_per_class": min_per_class,
        "instance": instance,
        "class_sizes": lt.sizes.tolist(),
        "class_order": lt.class_order.tolist(),
        "n_repeated": lt.repeats.tolist(),
        "transform": transform,
        "augment": augment,
        "normalize": {"mean": mean, "std": std},
        **{f"n_{name}": len(ds) for name, ds in tensors.items()},
    }
    h, w = x_train.shape[-2:]
    splits: dict[str, Split] = dict(tensors)
    bundle_augment: Augment | None
    if isinstance(augment, dict):
        from scrutiny.data.git_augment import git_parts

        splits["train"], bundle_augment, info["git"] = git_parts(tensors["train"], lt.sizes, augment)
    else:
        bundle_augment = None if augment == "none" else make_transform(augment, mean=mean, std=std).augment()
    return DataBundle(splits, num_classes, int(x_train.shape[1]), (int(h), int(w)), bundle_augment, "train", info)


def bundle_transform(bundle: DataBundle, name: str) -> Transform:
    """The transform family ``name`` in the normalised space of a long-tailed bundle (for eKLD on ``test_clean``)."""
    norm = bundle.info.get("normalize")
    if norm is None:
        raise DataError("data: this bundle records no 'normalize' statistics; build it with a long-tail builder")
    return make_transform(name, mean=norm["mean"], std=norm["std"])


def _per_class_first(
    labels: np.ndarray, n: int, num_classes: int, rng: np.random.Generator | None, key: str = "val_per_class"
) -> np.ndarray:
    """Sorted indices of ``n`` examples of each class (seeded when ``rng`` is given, else the first ones)."""
    picks = []
    for c in range(num_classes):
        pool = np.flatnonzero(labels == c)
        if pool.size < n:
            raise DataError(f"data.{key}: class {c} has {pool.size} examples, fewer than the {n} asked for")
        picks.append((rng.permutation(pool) if rng is not None else pool)[:n])
    return np.sort(np.concatenate(picks))


@DATASETS.register("digits_lt")
def digits_lt(
    *,
    root: str | None = None,
    size: int = 28,
    alpha: float | None = None,
    imbalance: float | None = None,
    head: int = 100,
    min_per_class: int = 5,
    instance: int = 0,
    val_per_class: int = 30,
    transform: str = "none",
    augment: str | dict = "none",
    split_seed: int = 0,
) -> DataBundle:
    """Long-tailed scikit-learn digits upscaled to ``size`` px (K49-LT recipe, offline); balanced val and test.

    The digits' fixed stratified split (25 % test, ``split_seed``) gives the pools. ``val_per_class`` examples of
    each class are set aside from the train pool first (seeded), the long tail is taken from the rest, and the test
    split keeps the same number of examples of each class (the smallest class count, 43). Default sizes
    (alpha 2, head 100, 10 classes): ``[100, 25, 11, 6, 5, 5, 5, 5, 5, 5]`` over a random class order.
    """
    from sklearn.model_selection import train_test_split

    from scrutiny.data.digits import load_digits_arrays

    if size < 8:
        raise DataError(f"data.size: expected at least 8 px, got {size}")
    images, labels = load_digits_arrays()
    index = np.arange(len(labels))
    train_idx, test_idx = train_test_split(index, test_size=0.25, stratify=labels, random_state=split_seed)
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    x = torch.from_numpy(images).float().unsqueeze(1)
    if size != 8:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    rng = np.random.default_rng(split_seed)
    val_pick = _per_class_first(labels[train_idx], val_per_class, 10, rng) if val_per_class > 0 else np.array([], int)
    pool = np.setdiff1d(np.arange(train_idx.size), val_pick)
    n_test = int(np.bincount(labels[test_idx]).min())
    test_pick = test_idx[_per_class_first(labels[test_idx], n_test, 10, rng, "split_seed")]
    val = (x[train_idx[val_pick]], labels[train_idx[val_pick]]) if val_per_class > 0 else None
    return _assemble(
        (x[train_idx[pool]], labels[train_idx[pool]]),
        val,
        (x[test_pick], labels[test_pick]),
        num_classes=10,
        alpha=alpha,
        imbalance=imbalance,
        head=head,
        min_per_class=min_per_class,
        instance=instance,
        select_seed=split_seed,
        transform=transform,
        augment=augment,
        info={"source": "sklearn.datasets.load_digits", "size": size, "test_per_class": n_test},
    )


def _load_k49(root: Path, name: str) -> np.ndarray:
    path = root / name
    if not path.is_file():
        raise DataError(
            f"data.root: Kuzushiji-49 file '{path}' is missing; download {', '.join(K49_FILES)} from "
            "https://github.com/rois-codh/kmnist (ROIS-CODH, CC BY-SA 4.0) into that folder"
        )
    with np.load(path) as archive:
        return archive["arr_0"]


@DATASETS.register("kuzushiji49_lt")
def kuzushiji49_lt(
    *,
    root: str | None = None,
    alpha: float | None = None,
    imbalance: float | None = None,
    head: int = 4800,
    min_per_class: int = 5,
    instance: int = 0,
    val_per_class: int = 30,
    transform: str = "none",
    augment: str | dict = "none",
) -> DataBundle:
    """K49-LT from the user's Kuzushiji-49 ``.npz`` files in ``root`` (49 classes, 28 px); nothing is downloaded.

    As the reference: an 80/20 split of the official train set (``train_test_split(test_size=0.2)`` after
    ``np.random.seed(0)``, i.e. ``random_state=0``), the long tail (default alpha 2, head 4800: 7,822 images) from
    the 80 % in split order, ``val_per_class`` images of each class from the 20 %, and the official test set.
    """
    from sklearn.model_selection import train_test_split

    if root is None:
        raise DataError(f"data.root: required for kuzushiji49_lt (a folder that holds {', '.join(K49_FILES)})")
    path = Path(root).expanduser()
    arrays = [_load_k49(path, name) for name in K49_FILES]
    train_imgs, train_labels, test_imgs, test_labels = arrays
    tr, va = train_test_split(np.arange(len(train_labels)), test_size=0.2, random_state=0)
    to_float = lambda a: torch.from_numpy(np.asarray(a, dtype=np.float32) / 255.0).unsqueeze(1)  # noqa: E731
    lt_labels = train_labels[tr].astype(np.int64)
    val = None
    if val_per_class > 0:
        pick = va[_per_class_first(train_labels[va].astype(np.int64), val_per_class, 49, None)]
        val = (to_float(train_imgs[pick]), train_labels[pick].astype(np.int64))
    # only the examples a long tail can use are converted to float: the first `head` of each class in split order
    keep = np.sort(np.concatenate([np.flatnonzero(lt_labels == c)[:head] for c in range(49)]))
    return _assemble(
        (to_float(train_imgs[tr[keep]]), lt_labels[keep]),
        val,
        (to_float(test_imgs), test_labels.astype(np.int64)),
        num_classes=49,
        alpha=alpha,
        imbalance=imbalance,
        head=head,
        min_per_class=min_per_class,
        instance=instance,
        select_seed=None,
        transform=transform,
        augment=augment,
        info={"source": str(path), "size": 28},
    )
