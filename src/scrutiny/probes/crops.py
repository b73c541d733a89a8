"""``crops``: the trial's model evaluated on the raw images of its eval split under several image protocols.

He et al. 2015 (sec. 3.4) report the same weights under three test-time protocols: one centre crop (MSRA README),
ten crops (Table 3) and the fully-convolutional multi-scale form (Table 4). This probe runs any list of image
protocols (:mod:`scrutiny.protocols`: ``single_crop``, ``ten_crop``, ``multi_scale``) at the end of a trial, so that a
claim can compare them per seed, paired, on the same trained or loaded weights.

Geometry. The paper's numbers are for 224-pixel crops: resize 256, crop 224, scales {224, 256, 384, 480, 640}. The
probe scales them by ``crop / 224``, rounded, where ``crop`` defaults to the side of the dataset's network input
(``bundle.image_size``): on ImageNet nothing changes; on 28-pixel inputs the protocols use resize 32, crop 28 and
scales {28, 32, 48, 60, 80}. Arguments given for a protocol override the scaled ones and are in the dataset's pixels.

Raw images. A protocol starts from the uncropped image, so the eval split must offer it: a bundle split named
``<split>_raw`` of ``(image (C, H, W), label)`` pairs (uint8, or float in [0, 1]) is used where it exists; otherwise a
torchvision ``ImageFolder`` split (the ``imagefolder`` dataset) is read again from its folder with
:func:`~scrutiny.protocols.evaluate_imagefolder`. Any other split fails the trial with one line saying so.

Outputs: per protocol key (``single``, ``ten``, ``multi``, or the entry's ``key``) the metrics ``<key>_top1_err``,
``<key>_top1_acc`` and, with five or more classes, ``<key>_top5_err`` / ``<key>_top5_acc``, plus ``n``; the tables
hold each protocol's name, resolved parameters, exact counts, views per image and seconds.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from scrutiny.errors import ScrutinyError
from scrutiny.probes._base import ProbeContext, ProbeOutput
from scrutiny.protocols._base import ImageProtocol, ProtocolError
from scrutiny.protocols.imagefolder_eval import TOPK, EvalResult, evaluate_imagefolder, evaluate_views
from scrutiny.protocols.suite import build_protocols, check_multi_scale, protocol_name
from scrutiny.registry import PROBES
from scrutiny.stats import bootstrap_mean_discrete

PAPER_CROP = 224
PAPER_RESIZE = 256
PAPER_SCALES = (224, 256, 384, 480, 640)
SHORT_KEYS = {"single_crop": "single", "ten_crop": "ten", "multi_scale": "multi"}


def scaled_args(name: str, crop: int, given: Mapping[str, Any]) -> dict[str, Any]:
    """The paper's geometry for protocol ``name`` scaled from 224-pixel crops to ``crop``, then ``given`` on top.

    >>> scaled_args("multi_scale", 28, {})["scales"]
    [28, 32, 48, 60, 80]
    >>> scaled_args("single_crop", 28, {"crop_pct": 0.875})
    {'crop': 28, 'crop_pct': 0.875}
    """
    factor = crop / PAPER_CROP
    if name in ("single_crop", "ten_crop"):
        out: dict[str, Any] = {"crop": crop}
        if "crop_pct" not in given:
            out["resize"] = round(PAPER_RESIZE * factor)
    elif name == "multi_scale":
        out = {"scales": sorted({round(s * factor) for s in PAPER_SCALES})}
    else:
        out = {}
    return {**out, **given}


def _entries(protocols: Sequence[str | Mapping[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(key, registry name, given args)`` per entry; an entry is a name or ``{protocol, key?, **args}``."""
    if isinstance(protocols, (str, bytes)) or not protocols:
        raise ProtocolError(
            f"crops.protocols: expected a non-empty list such as [single, ten, multi], got {protocols!r}"
        )
    out, keys = [], set()
    for i, entry in enumerate(protocols):
        if isinstance(entry, str):
            name, key, given = protocol_name(entry), None, {}
        elif isinstance(entry, Mapping) and "protocol" in entry:
            given = {k: v for k, v in entry.items() if k not in ("protocol", "key")}
            name, key = protocol_name(str(entry["protocol"])), entry.get("key")
        else:
            raise ProtocolError(f"crops.protocols.{i}: expected a name or {{protocol: NAME, ...args}}, got {entry!r}")
        key = str(key or SHORT_KEYS.get(name, name))
        if key in keys:
            raise ProtocolError(f"crops.protocols.{i}: key '{key}' used twice; give the entry a distinct 'key'")
        keys.add(key)
        out.append((key, name, dict(given)))
    return out


class _Views(Dataset):
    """``(views, label)`` of raw images under ``protocol``."""

    def __init__(self, raw: Dataset, protocol: ImageProtocol) -> None:
        self.raw, self.protocol = raw, protocol

    def __len__(self) -> int:
        return len(self.raw)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image, label = self.raw[index]
        return self.protocol.views(image), int(label)


def _collate(batch: Sequence[tuple[Any, int]]) -> tuple[list[Any], torch.Tensor]:
    return [v for v, _ in batch], torch.tensor([t for _, t in batch], dtype=torch.long)


def evaluate_raw(
    model: torch.nn.Module,
    raw: Dataset,
    protocol: ImageProtocol,
    num_classes: int,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
) -> EvalResult:
    """Exact top-1/top-5 error of ``model`` on a dataset of raw ``(image (C, H, W), label)`` pairs under ``protocol``.

    The counterpart of :func:`~scrutiny.protocols.evaluate_imagefolder` for images held in memory: each batch's views
    go through ``protocol.scores`` at once; the count of evaluated examples must equal the dataset's size.
    """
    device = torch.device(device)
    loader = DataLoader(
        _Views(raw, protocol), batch_size=batch_size, shuffle=False, num_workers=num_workers, collate_fn=_collate
    )
    total = len(raw)  # type: ignore[arg-type]
    classes = [str(c) for c in range(num_classes)]
    return evaluate_views(model, loader, protocol, classes, total, "the raw split", device)


def raw_source(bundle: Any, split: str) -> tuple[str, Dataset | Path]:
    """Where the raw images of ``split`` are: ``("raw split", dataset)`` or ``("imagefolder", folder)``."""
    raw = bundle.splits.get(f"{split}_raw")
    if raw is not None:
        return "raw split", raw
    ds = bundle.split(split)
    root = getattr(ds, "root", None)
    if hasattr(ds, "samples") and root is not None and Path(root).is_dir():
        return "imagefolder", Path(root)
    raise ScrutinyError(
        f"crops: split '{split}' holds transformed tensors only; the image protocols need the raw images "
        f"(an imagefolder dataset, or a '{split}_raw' split of (image, label))"
    )


def _views_per_image(protocol: ImageProtocol, width: int, height: int) -> int | None:
    try:
        return len(protocol.boxes(width, height))
    except (ScrutinyError, ValueError):
        return None


@PROBES.register("crops")
def crops(
    ctx: ProbeContext,
    protocols: Sequence[str | Mapping[str, Any]] = ("single", "ten", "multi"),
    crop: int | None = None,
    average: str | None = None,
    batch_size: int = 32,
    num_workers: int | None = None,
    split: str | None = None,
    differences: list[tuple[str, str]] | None = None,
    reps: int = 10_000,
) -> ProbeOutput:
    """Top-1/top-5 error of the trial's model under each image protocol (1-crop, 10-crop, multi-scale, ...).

    Args:
        ctx: The trial's probe context.
        protocols: Names (``single``, ``ten``, ``multi`` or registry names) or mappings
            ``{protocol: NAME, key: KEY, **args}``; ``key`` names the result fields (default: the short name).
        crop: Network input side that the paper's 224-pixel geometry is scaled to (default: the dataset's
            ``image_size``).
        average: ``prob`` or ``logit`` for every protocol that does not set its own (default: the protocol's, ``prob``).
        batch_size: Images per step (a 10-crop step runs ten times as many crops).
        num_workers: Loader processes (default: the spec's ``data.num_workers``).
        split: The evaluated split (default: the spec's ``eval.split``).
        differences: Pairs ``(a, b)`` of protocol keys whose top-1 error difference ``a - b`` is measured on the
            same images (default: each protocol against the next one in ``protocols``).
        reps: Bootstrap replicates of the intervals over images.

    Returns:
        Metrics ``<key>_top1_err``, ``<key>_top1_acc``, ``<key>_top5_err``, ``<key>_top5_acc`` (five or more classes)
        and ``n``; ``<key>_top1_err_low/_high``, the 95% bootstrap interval over the evaluated images; and for each
        pair ``<a>_minus_<b>_top1_err`` with ``_low/_high``, the paired difference on the same images with its
        interval. With one trial (published weights), a claim's verdict uses these within-trial intervals. Tables
        ``protocols`` (one row per protocol) and ``source``.
    """
    split = split or ctx.spec.eval.split
    if crop is None:
        size = ctx.bundle.image_size
        if size is None or size[0] != size[1]:
            raise ProtocolError(f"crops.crop: the dataset's image_size is {size}; give the crop side explicitly")
        crop = int(size[0])
    entries = _entries(protocols)
    built = []
    for key, name, given in entries:
        if average is not None:
            given = {"average": average, **given}
        built.append((key, build_protocols([name], {name: scaled_args(name, crop, given)})[0]))
    kind, source = raw_source(ctx.bundle, split)
    workers = ctx.spec.data.num_workers if num_workers is None else num_workers
    model, device = ctx.model, ctx.device
    for _, protocol in built:  # fail before any work when a model cannot take whole images
        if "scales" in protocol.params():
            check_multi_scale(model, protocol, device)
    metrics: dict[str, float | int | None] = {}
    misses: dict[str, np.ndarray] = {}
    rows = []
    n = None
    for key, protocol in built:
        t0 = time.perf_counter()
        if isinstance(source, Path):  # kind "imagefolder"
            result = evaluate_imagefolder(
                model,
                source,
                protocol,
                batch_size=batch_size,
                device=device,
                progress=False,
                num_workers=workers,
                save_predictions=True,
            )
        else:
            result = evaluate_raw(
                model, source, protocol, ctx.bundle.num_classes, batch_size, device, num_workers=workers
            )
        seconds = time.perf_counter() - t0
        if n is not None and result.n != n:
            raise ProtocolError(f"crops: protocol '{key}' evaluated {result.n} images, an earlier one {n}")
        n = result.n
        preds = result.predictions
        assert preds is not None  # both evaluations above keep the per-image predictions
        misses[key] = (preds.topk[:, 0] != preds.targets).astype(float)  # (n,) per-image top-1 miss, in data order
        metrics[f"{key}_top1_err"] = result.top1_error
        ci = bootstrap_mean_discrete(misses[key], reps=reps, seed=np.random.default_rng([ctx.seed, len(misses)]))
        metrics[f"{key}_top1_err_low"], metrics[f"{key}_top1_err_high"] = ci.low, ci.high
        metrics[f"{key}_top1_acc"] = 1 - result.top1_error
        if ctx.bundle.num_classes >= TOPK:
            metrics[f"{key}_top5_err"] = result.top5_error
            metrics[f"{key}_top5_acc"] = 1 - result.top5_error
        row = result.to_dict()
        row.pop("classes")
        rows.append(
            {
                "key": key,
                **row,
                "views_per_image": _views_per_image(protocol, 2048, 1536),
                "seconds": seconds,
            }
        )
    keys = list(misses)
    pairs = [(a, b) for a, b in differences] if differences is not None else list(zip(keys[:-1], keys[1:], strict=True))
    for a, b in pairs:
        if a not in misses or b not in misses:
            raise ProtocolError(f"crops.differences: ({a}, {b}) names a protocol key not among {list(misses)}")
        d = misses[a] - misses[b]  # per image: 1 where only a misses, -1 where only b misses
        ci = bootstrap_mean_discrete(d, reps=reps, seed=np.random.default_rng([ctx.seed, 1000 + len(metrics)]))
        name = f"{a}_minus_{b}_top1_err"
        metrics[name], metrics[f"{name}_low"], metrics[f"{name}_high"] = ci.estimate, ci.low, ci.high
    metrics["n"] = n
    eval_acc = ctx.result.get(f"final_{split}_acc")
    return ProbeOutput(
        metrics=metrics,
        tables={
            "protocols": rows,
            "source": {"kind": kind, "split": split, "root": str(source) if kind == "imagefolder" else None},
            "crop": crop,
            "scale_factor": crop / PAPER_CROP,
            "trial_eval_top1_err": None if eval_acc is None else 1 - eval_acc,
        },
    )
