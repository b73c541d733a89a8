"""Evaluate a model on a class-folder dataset (``root/<class>/<image>``) under an image protocol, streaming.

Counts are exact: ``n`` is checked against the number of files, so no example is dropped or padded. Top-1 and
top-5 errors are ``1 - correct / n``. Labels are the indices of the sorted class folders (torchvision's
``ImageFolder``); the model must output at least that many scores.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import torch
from torch import nn

from scrutiny.errors import DataError
from scrutiny.protocols._base import ImageProtocol, ProtocolError, is_image_protocol
from scrutiny.registry import PROTOCOLS

TOPK = 5


@dataclass
class Predictions:
    """Per-example outputs, in the dataset's order (sorted classes, then sorted files).

    Attributes:
        paths: ``N`` image paths.
        targets: ``(N,)`` int64 labels.
        topk: ``(N, k)`` int64 class indices, best first (``k = min(5, K)``).
        topk_scores: ``(N, k)`` float32 scores of those classes (the protocol's logits or log-probabilities).
    """

    paths: list[str]
    targets: np.ndarray
    topk: np.ndarray
    topk_scores: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays for ``numpy.savez`` (paths as a unicode array)."""
        return {
            "paths": np.asarray(self.paths),
            "targets": self.targets,
            "topk": self.topk,
            "topk_scores": self.topk_scores,
        }


@dataclass
class EvalResult:
    """Exact counts and errors of one evaluation, with the protocol that produced them.

    Attributes:
        protocol: The protocol's registry name.
        params: Its resolved parameters.
        n: Number of evaluated examples; equals the number of image files.
        top1_correct: Examples whose best score is the label.
        top5_correct: Examples whose label is among the ``k`` best scores.
        top1_error: ``1 - top1_correct / n``.
        top5_error: ``1 - top5_correct / n``.
        k: Size of the "top-5" set: ``min(5, K)`` for ``K`` model outputs.
        classes: The class folder names, in label order.
        predictions: Per-example outputs when asked for, else ``None``.
    """

    protocol: str
    params: dict[str, Any]
    n: int
    top1_correct: int
    top5_correct: int
    top1_error: float
    top5_error: float
    k: int
    classes: list[str]
    predictions: Predictions | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (predictions left out; save them with :meth:`Predictions.arrays`)."""
        d = asdict(self)
        d.pop("predictions")
        return d


def _resolve(protocol: ImageProtocol | str) -> ImageProtocol:
    built: object = PROTOCOLS.get(protocol)() if isinstance(protocol, str) else protocol
    if not _is_image(built):
        raise ProtocolError(
            f"protocol: '{getattr(built, 'name', built)}' scores transformed tensors, not raw "
            "images; use single_crop, ten_crop or multi_scale"
        )
    return built


def _is_image(protocol: object) -> TypeGuard[ImageProtocol]:
    return is_image_protocol(protocol)


class _ViewsDataset(torch.utils.data.Dataset):
    """``(views, target)`` of each file of an ImageFolder, under ``protocol``."""

    def __init__(self, root: Path, protocol: ImageProtocol) -> None:
        import torchvision

        try:
            self.folder = torchvision.datasets.ImageFolder(str(root))
        except (FileNotFoundError, OSError) as exc:
            raise DataError(f"root: '{root}': {exc}") from None
        self.protocol = protocol

    def __len__(self) -> int:
        return len(self.folder.samples)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        path, target = self.folder.samples[index]
        return self.protocol.views(self.folder.loader(path)), target


def _collate(batch: Sequence[tuple[Any, int]]) -> tuple[list[Any], torch.Tensor]:
    return [views for views, _ in batch], torch.tensor([t for _, t in batch], dtype=torch.long)


def _to(views: Any, device: torch.device) -> Any:
    if isinstance(views, torch.Tensor):
        return views.to(device, non_blocking=True)
    return [_to(v, device) for v in views]


def evaluate_imagefolder(
    model: nn.Module,
    root: str | Path,
    protocol: ImageProtocol | str,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    progress: bool = True,
    save_predictions: bool = False,
    num_workers: int = 0,
) -> EvalResult:
    """Top-1 and top-5 error of ``model`` on every image under ``root/<class>/``, under ``protocol``.

    Images are read and cut into views (in ``num_workers`` loader processes when > 0), moved to ``device`` and
    scored batch by batch; the model is moved to ``device`` and put in eval mode for the run, and its mode restored.

    Args:
        model: Classifier returning ``(N, K)`` logits (or a score map ``(N, K, h, w)``), ``K`` >= number of classes.
        root: Folder of class folders.
        protocol: An image protocol object, or a registry name (default parameters).
        batch_size: Images per step (a 10-crop step runs ``10 * batch_size`` crops).
        device: Where the model runs.
        progress: Print ``done/total`` to stderr.
        save_predictions: Keep per-example top-k classes and scores in ``result.predictions``.
        num_workers: DataLoader worker processes.

    Returns:
        :class:`EvalResult` with exact counts, errors, and the protocol's name and parameters.
    """
    protocol = _resolve(protocol)
    dataset = _ViewsDataset(Path(root).expanduser(), protocol)
    total, classes = len(dataset), list(dataset.folder.classes)
    device = torch.device(device)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=_collate,
        pin_memory=device.type == "cuda",
    )
    model.to(device)
    paths = [p for p, _ in dataset.folder.samples]
    return evaluate_views(model, loader, protocol, classes, total, str(root), device, progress, paths, save_predictions)


def evaluate_views(
    model: nn.Module,
    loader: Any,
    protocol: ImageProtocol,
    classes: list[str],
    total: int,
    source: str,
    device: torch.device,
    progress: bool = False,
    paths: list[str] | None = None,
    keep_predictions: bool = True,
) -> EvalResult:
    """Score every batch of ``(views, targets)`` from ``loader`` under ``protocol`` and count exact top-1/top-5 hits.

    The shared loop of :func:`evaluate_imagefolder` and of in-memory raw images: each batch's views go through
    ``protocol.scores`` at once, the model is in eval mode for the run (its mode restored), and the count of
    evaluated examples must equal ``total``.
    """
    was_training = model.training
    model.eval()
    n = top1 = top5 = 0
    k = 0
    targets, topks, topk_scores = [], [], []
    try:
        with torch.no_grad():
            for views, target in loader:
                scores = protocol.scores(model, _to(views, device))
                if scores.shape != (len(target), scores.shape[-1]) or scores.shape[-1] < len(classes):
                    raise ProtocolError(
                        f"{protocol.name}: expected scores (B={len(target)}, K>={len(classes)}) for "
                        f"{len(classes)} classes, got {tuple(scores.shape)}"
                    )
                k = min(TOPK, scores.shape[-1])
                best_scores, best = scores.float().topk(k, dim=1)
                target = target.to(best.device)
                hit = best == target[:, None]
                n += len(target)
                top1 += int(hit[:, 0].sum())
                top5 += int(hit.any(dim=1).sum())
                if keep_predictions:
                    targets.append(target.cpu())
                    topks.append(best.cpu())
                    topk_scores.append(best_scores.cpu())
                if progress:
                    print(f"\r{protocol.name}: {n}/{total}", end="", file=sys.stderr, flush=True)
    finally:
        model.train(was_training)
        if progress:
            print(file=sys.stderr)
    if n != total:
        raise ProtocolError(f"{protocol.name}: evaluated {n} examples but '{source}' holds {total}")
    if n == 0:
        raise DataError(f"root: '{source}' holds no images")
    predictions = None
    if keep_predictions:
        predictions = Predictions(
            paths=list(paths or []),
            targets=torch.cat(targets).numpy(),
            topk=torch.cat(topks).numpy(),
            topk_scores=torch.cat(topk_scores).numpy(),
        )
    return EvalResult(
        protocol=protocol.name,
        params=protocol.params(),
        n=n,
        top1_correct=top1,
        top5_correct=top5,
        top1_error=1 - top1 / n,
        top5_error=1 - top5 / n,
        k=k,
        classes=classes,
        predictions=predictions,
    )
