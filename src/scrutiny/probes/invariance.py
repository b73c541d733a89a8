"""Probe ``ekld``: per-class invariance (eKLD) of the trained model against its training class sizes.

Zhou et al., "Do Deep Networks Transfer Invariances Across Classes?" (ICLR 2022) measure, per class, the expected
KL divergence ``KL(P(·|x) ‖ P(·|x'))`` between the predictions on an image and on a transformed copy, and plot it
against the class's training size: on long-tailed data the rare classes are less invariant. This probe runs
:func:`scrutiny.diagnostics.invariance.ekld` on the trial's model and summarises it as result fields:

- ``ekld_spearman``: Spearman's rank correlation between training class size and per-class eKLD (negative: the
  tail is less invariant), with ``_low``/``_high`` a percentile bootstrap interval over classes within the trial;
- ``ekld_head`` / ``ekld_tail``: the mean per-class eKLD over the head and the tail classes;
- ``ekld_mean``: the mean over every (image, transform) pair; ``ekld_class_mean``: the mean over classes;
- ``ekld_acc_head`` / ``ekld_acc_tail`` / ``ekld_acc_balanced``: the classifier's accuracy on the trial's evaluated
  split (the transformed test images of K49-ROT-LT and similar), averaged over the head classes, the tail classes
  and all classes; each class's accuracy is in its row of the ``classes`` table next to its eKLD. eKLD only says
  something about learned invariance where the classifier has learned the classes: a classifier that answers a
  head class for everything is "invariant" on the head without having learned anything.

**Head and tail.** With ``K`` classes and ``m = ceil(fraction · K)`` (default ``fraction = 1/3``), the head is every
class at least as large as the ``m``-th largest, and the tail every class at most as large as the ``m``-th smallest.
Ties at the boundary are kept together (K49-LT's 21 classes of 5 images are all tail), so the groups may hold more
than ``m`` classes; when they would overlap (near-uniform sizes) the head and tail fields are ``None``.

The class sizes are counted on the bundle's training split (for a long-tailed bundle they must equal its
``info["class_sizes"]``). The images are the bundle's ``test_clean`` split where it has one (the untransformed
test images of K49-ROT-LT and similar), else the trial's evaluated split; the transform family is the bundle's
own nuisance (``info["transform"]``) unless named, and works in the bundle's normalised space.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from scrutiny.diagnostics.invariance import EKLDResult, ekld, rank_correlation
from scrutiny.errors import DataError
from scrutiny.probes._base import ProbeContext, ProbeOutput
from scrutiny.registry import PROBES


def train_class_sizes(bundle: Any) -> np.ndarray:
    """Training size of each class ``(K,)``, counted on the bundle's training split.

    Raises:
        DataError: The counts disagree with the bundle's recorded ``info["class_sizes"]``.
    """
    train = bundle.split(bundle.train_split)
    if isinstance(train, torch.utils.data.TensorDataset):
        labels = train.tensors[1].long().numpy()
    else:
        labels = np.asarray([int(train[i][1]) for i in range(len(train))])
    sizes = np.bincount(labels, minlength=bundle.num_classes)
    recorded = bundle.info.get("class_sizes")
    if recorded is not None and sizes.tolist() != list(recorded):
        raise DataError(f"data: training split counts {sizes.tolist()} differ from info['class_sizes'] {recorded}")
    return sizes


def head_tail(sizes: np.ndarray, fraction: float = 1 / 3) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks ``(K,)`` of the head and the tail classes (see the module docstring; ties kept together).

    Example: sizes ``[100, 25, 11, 6, 5, 5, 5, 5, 5, 5]`` give ``m = 4``: head ``[100, 25, 11, 6]``, tail the six
    classes of 5.
    """
    if not 0 < fraction <= 0.5:
        raise ValueError(f"head_tail: fraction must lie in (0, 0.5], got {fraction}")
    sizes = np.asarray(sizes)
    ordered = np.sort(sizes)[::-1]
    m = max(1, math.ceil(fraction * sizes.size))
    head = sizes >= ordered[m - 1]
    tail = sizes <= ordered[-m]
    if np.any(head & tail):
        empty = np.zeros_like(head)
        return empty, empty
    return head, tail


def summarise(
    result: EKLDResult, *, fraction: float = 1 / 3, reps: int = 2000, seed: int = 0
) -> tuple[dict[str, float | int | None], list[dict[str, Any]], dict[str, Any]]:
    """Scalar metrics, per-class rows and the correlation of an eKLD result that carries class sizes.

    Args:
        result: Per-class eKLD with ``class_sizes``.
        fraction: Share of the classes in the head and in the tail (before ties are added).
        reps: Bootstrap replicates of the correlation's interval over classes.
        seed: Seed of that bootstrap.

    Returns:
        ``(metrics, rows, correlation)``: the probe's fields, one row per class (largest first, with ``rank`` and
        ``group`` head/middle/tail), and the correlation as a dict.
    """
    if result.class_sizes is None:
        raise ValueError("summarise: the eKLD result has no class sizes")
    sizes, per_class = result.class_sizes, result.values.per_class
    corr = rank_correlation(sizes, per_class, reps=reps, seed=np.random.default_rng([seed, 3]))
    head, tail = head_tail(sizes, fraction)
    finite = np.isfinite(per_class)

    def group_mean(mask: np.ndarray) -> float | None:
        keep = mask & finite
        return float(per_class[keep].mean()) if keep.any() else None

    metrics: dict[str, float | int | None] = {
        "spearman": corr.rho,
        "spearman_low": corr.low,
        "spearman_high": corr.high,
        "head": group_mean(head),
        "tail": group_mean(tail),
        "mean": result.values.mean,
        "class_mean": float(per_class[finite].mean()) if finite.any() else None,
        "n_head": int(head.sum()),
        "n_tail": int(tail.sum()),
        "n_images": int(result.values.labels.size),
    }
    order = np.argsort(-sizes, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    rows = []
    for row in result.rows():
        c = row["class"]
        group = "head" if head[c] else "tail" if tail[c] else "middle"
        rows.append({**row, "rank": int(rank[c]), "group": group})
    rows.sort(key=lambda r: r["rank"])
    return metrics, rows, corr.to_dict()


@torch.no_grad()
def class_accuracy(
    model: torch.nn.Module, dataset: Any, num_classes: int, *, batch_size: int, device: torch.device | str | None
) -> np.ndarray:
    """Per-class accuracy (recall) ``(K,)``; NaN for a class without images."""
    from scrutiny.diagnostics.invariance import gather

    x_all, y_all = gather(dataset)
    if device is None:
        device = next(iter(model.parameters()), torch.empty(0)).device
    was_training = model.training
    model.eval()
    try:
        hits = [
            (model(x_all[i : i + batch_size].to(device)).argmax(1).cpu() == y_all[i : i + batch_size])
            for i in range(0, len(y_all), batch_size)
        ]
    finally:
        model.train(was_training)
    correct = torch.cat(hits).numpy() if hits else np.zeros(0, dtype=bool)
    labels = y_all.numpy().astype(np.int64)
    counts = np.bincount(labels, minlength=num_classes)
    right = np.bincount(labels, weights=correct.astype(np.float64), minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, right / np.maximum(counts, 1), np.nan)


def add_accuracy(
    metrics: dict[str, float | int | None], rows: list[dict[str, Any]], accuracy: np.ndarray, split: str
) -> None:
    """Put per-class ``accuracy`` ``(K,)`` into the rows (``acc``) and its head/tail/balanced means into metrics."""
    by_class = {r["class"]: r for r in rows}
    for c, value in enumerate(accuracy):
        by_class[c]["acc"] = None if not np.isfinite(value) else float(value)
        by_class[c]["acc_split"] = split

    def mean_of(group: str | None) -> float | None:
        values = [r["acc"] for r in rows if r.get("acc") is not None and (group is None or r["group"] == group)]
        return float(np.mean(values)) if values else None

    metrics.update(acc_head=mean_of("head"), acc_tail=mean_of("tail"), acc_balanced=mean_of(None))


def eval_split(bundle: Any, split: str | None, fallback: str) -> str:
    """``split`` if given, else ``test_clean`` where the bundle has it, else ``fallback`` (the evaluated split)."""
    if split is not None:
        return split
    return "test_clean" if "test_clean" in bundle.splits else fallback


def transform_name(bundle: Any, transform: str | None) -> str:
    """``transform`` if given, else the bundle's nuisance (``info["transform"]``); one-line error where it has none."""
    if transform is not None:
        return transform
    name = bundle.info.get("transform", "none")
    if name == "none":
        raise DataError("probe ekld: the data apply no transform; name one, e.g. {name: ekld, transform: rotation}")
    return name


def measure(
    model: torch.nn.Module,
    bundle: Any,
    *,
    transform: str | None,
    split: str,
    n_transforms: int,
    max_per_class: int | None,
    batch_size: int,
    reps: int,
    fraction: float,
    seed: int,
    device: torch.device | str | None = None,
    acc_split: str | None = None,
) -> tuple[EKLDResult, dict[str, float | int | None], list[dict[str, Any]], dict[str, Any]]:
    """Per-class eKLD of ``model`` on ``bundle`` and its summary (shared by the probe and ``scrutiny invariance``).

    With ``acc_split``, each class's accuracy on that split joins its row and the metrics (:func:`add_accuracy`).
    """
    from scrutiny.data.long_tail import bundle_transform

    name = transform_name(bundle, transform)
    family = bundle_transform(bundle, name)
    sizes = train_class_sizes(bundle)
    result = ekld(
        model,
        bundle.split(split),
        family,
        n_transforms=n_transforms,
        seed=seed,
        max_per_class=max_per_class,
        num_classes=bundle.num_classes,
        class_sizes=sizes,
        batch_size=batch_size,
        reps=reps,
        device=device,
    )
    metrics, rows, corr = summarise(result, fraction=fraction, reps=reps, seed=seed)
    if acc_split is not None:
        accuracy = class_accuracy(
            model, bundle.split(acc_split), bundle.num_classes, batch_size=batch_size, device=device
        )
        add_accuracy(metrics, rows, accuracy, acc_split)
    return result, metrics, rows, corr


@PROBES.register("ekld")
def ekld_probe(
    ctx: ProbeContext,
    transform: str | None = None,
    n_transforms: int = 20,
    split: str | None = None,
    max_per_class: int | None = None,
    batch_size: int = 1024,
    reps: int = 1000,
    fraction: float = 1 / 3,
) -> ProbeOutput:
    """Per-class eKLD of the trial's model under a transform family, against the training class sizes.

    Args:
        ctx: The trial's context; the transform draws, the image subset and the bootstraps derive from ``ctx.seed``.
        transform: ``rotation``, ``background`` or ``dilate_erode``; default the bundle's ``info["transform"]``.
        n_transforms: Transforms per image (the reference uses 100).
        split: Images to measure on; default ``test_clean`` where the bundle has it, else ``spec.eval.split``.
        max_per_class: At most this many images per class, chosen at random (the reference uses 40); None: all.
        batch_size: Model inputs per forward pass (originals and copies together).
        reps: Bootstrap replicates of each class's interval and of the correlation's interval.
        fraction: Share of the classes in the head and in the tail (ties at the boundary added).

    Returns:
        Metrics ``spearman``, ``spearman_low``, ``spearman_high``, ``head``, ``tail``, ``mean``, ``class_mean``,
        ``n_head``, ``n_tail``, ``n_images``, ``acc_head``, ``acc_tail``, ``acc_balanced`` (accuracy on the
        evaluated split ``spec.eval.split``); tables ``classes`` (one row per class, largest first, with ``acc``),
        ``correlation``, ``transform``, ``split``, ``n_transforms``, ``seed``, ``fraction``.
    """
    where = eval_split(ctx.bundle, split, ctx.spec.eval.split)
    result, metrics, rows, corr = measure(
        ctx.model,
        ctx.bundle,
        transform=transform,
        split=where,
        n_transforms=n_transforms,
        max_per_class=max_per_class,
        batch_size=batch_size,
        reps=reps,
        fraction=fraction,
        seed=ctx.seed,
        device=ctx.device,
        acc_split=ctx.spec.eval.split,
    )
    tables = {
        "transform": transform_name(ctx.bundle, transform),
        "transform_repr": result.transform,
        "split": where,
        "n_transforms": result.n_transforms,
        "seed": result.seed,
        "fraction": fraction,
        "confidence": result.confidence,
        "correlation": corr,
        "classes": rows,
    }
    return ProbeOutput(metrics=metrics, tables=tables)
