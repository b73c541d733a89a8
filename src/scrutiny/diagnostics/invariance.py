"""Per-class invariance of a classifier: eKLD (Zhou et al., "Do Deep Networks Transfer Invariances Across Classes?",
ICLR 2022; code ``core/datasets/kdatasets.py``, ``plot_klds_by_class``).

For an image ``x`` and a transformed copy ``x' ~ T(·|x)`` the divergence runs **from the prediction on the original
to the prediction on the transformed copy**, as in the reference (``kl_divergence(orig_dist, tfmd_dist)``)::

    KL(P(·|x) ‖ P(·|x')) = Σ_y p(y|x) · [log p(y|x) − log p(y|x')]      (softmax of logits, natural log)

The eKLD of a class is the plain mean over all (image, transform) pairs of that class. Deviation from the reference's
unreleased driver: each original is paired with transforms **of itself** (the reference's helper ``make_inv_data``
pairs ``class_data[i % n]`` with transforms of ``class_data[idcs[i % n]]``, i.e. of a different image).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

from scrutiny.data.transforms import Transform
from scrutiny.stats import bootstrap_ci, make_rng


@dataclass(frozen=True)
class EKLDValues:
    """KL divergences of (image, transform) pairs and their means.

    Attributes:
        per_pair: ``KL(P(·|x_i) ‖ P(·|x'_ij))`` ``(N, T)``.
        per_example: Mean over the transforms of each image ``(N,)``.
        labels: Class of each image ``(N,)``.
        per_class: Mean over the pairs of each class ``(K,)``; NaN for a class without images.
        n_per_class: Images evaluated per class ``(K,)``.
        mean: Mean over all pairs.
    """

    per_pair: np.ndarray
    per_example: np.ndarray
    labels: np.ndarray
    per_class: np.ndarray
    n_per_class: np.ndarray
    mean: float


def _pair_kl(original: torch.Tensor, transformed: torch.Tensor) -> torch.Tensor:
    """``KL(softmax(original) ‖ softmax(transformed))`` in float64: original ``(N, K)``, transformed ``(N, T, K)``."""
    log_p = torch.log_softmax(original.double(), dim=-1).unsqueeze(1)  # (N, 1, K)
    log_q = torch.log_softmax(transformed.double(), dim=-1)  # (N, T, K)
    p = log_p.exp()
    terms = torch.where(p > 0, p * (log_p - log_q), torch.zeros((), dtype=p.dtype, device=p.device))
    return terms.sum(-1)


def ekld_from_logits(original: Any, transformed: Any, labels: Any, num_classes: int | None = None) -> EKLDValues:
    """Per-pair, per-example and per-class eKLD from logits.

    Args:
        original: Logits on the original images ``(N, K)``.
        transformed: Logits on ``T`` transformed copies of each image ``(N, T, K)``.
        labels: Integer class of each image ``(N,)``, in ``0..num_classes - 1``.
        num_classes: Number of classes of the table; default ``max(labels) + 1``.

    Returns:
        :class:`EKLDValues` with ``KL(P(·|x) ‖ P(·|x'))`` (the original's prediction first).
    """
    original, transformed = _as_float64(original), _as_float64(transformed)
    labels = np.asarray(torch.as_tensor(labels).cpu(), dtype=np.int64)
    if original.ndim != 2 or transformed.ndim != 3 or transformed.shape[::2] != original.shape:
        raise ValueError(
            f"ekld_from_logits: expected original (N, K) and transformed (N, T, K), "
            f"got {tuple(original.shape)} and {tuple(transformed.shape)}"
        )
    if labels.shape != (original.shape[0],):
        raise ValueError(f"ekld_from_logits: labels must have shape ({original.shape[0]},), got {labels.shape}")
    per_pair = _pair_kl(original, transformed).cpu().numpy()
    return _summarise(per_pair, labels, num_classes)


def _as_float64(x: Any) -> torch.Tensor:
    return x.double() if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x, dtype=np.float64))


def _summarise(per_pair: np.ndarray, labels: np.ndarray, num_classes: int | None) -> EKLDValues:
    k = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"ekld: labels must lie in 0..{k - 1}, got {labels.min()}..{labels.max()}")
    per_example = per_pair.mean(axis=1)
    counts = np.bincount(labels, minlength=k)
    sums = np.bincount(labels, weights=per_example, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return EKLDValues(per_pair, per_example, labels, per_class, counts, float(per_pair.mean()))


@dataclass(frozen=True)
class EKLDResult:
    """Per-class eKLD of a model under a transform family, with bootstrap intervals over images.

    Attributes:
        values: The divergences and their means.
        class_sizes: Training size of each class ``(K,)``, or ``None`` when not given.
        low: Lower bound of each class's interval ``(K,)`` (NaN with fewer than 2 images).
        high: Upper bound ``(K,)``.
        confidence: Coverage of the intervals.
        transform: The transform family, as text.
        n_transforms: Transforms per image ``T``.
        seed: Seed of the image selection, the transform draws and the bootstrap.
    """

    values: EKLDValues
    class_sizes: np.ndarray | None
    low: np.ndarray
    high: np.ndarray
    confidence: float
    transform: str
    n_transforms: int
    seed: int

    def rows(self) -> list[dict[str, Any]]:
        """One JSON-ready row per class: class, train size, images, eKLD, interval."""
        v = self.values
        size = self.class_sizes if self.class_sizes is not None else [None] * len(v.per_class)
        return [
            {
                "class": c,
                "train_size": None if s is None else int(s),
                "n_images": int(n),
                "ekld": _f(e),
                "low": _f(lo),
                "high": _f(hi),
            }  # fmt: skip
            for c, (s, n, e, lo, hi) in enumerate(
                zip(size, v.n_per_class, v.per_class, self.low, self.high, strict=True)
            )
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary (no per-pair values)."""
        return {"mean": self.values.mean, "confidence": self.confidence, "transform": self.transform,
                "n_transforms": self.n_transforms, "seed": self.seed, "classes": self.rows()}  # fmt: skip


def _f(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def gather(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """The images ``(N, C, H, W)`` and labels ``(N,)`` of a map-style dataset of ``(x, y)`` pairs."""
    if isinstance(dataset, TensorDataset) and len(dataset.tensors) == 2:
        return dataset.tensors[0], dataset.tensors[1].long()
    pairs = [dataset[i] for i in range(len(dataset))]  # type: ignore[arg-type]
    return torch.stack([torch.as_tensor(x) for x, _ in pairs]), torch.as_tensor([int(y) for _, y in pairs])


@torch.no_grad()
def ekld(
    model: torch.nn.Module,
    dataset: Dataset,
    transform: Transform,
    *,
    n_transforms: int = 100,
    seed: int = 0,
    max_per_class: int | None = None,
    num_classes: int | None = None,
    class_sizes: Any = None,
    batch_size: int = 1024,
    reps: int = 2000,
    confidence: float = 0.95,
    device: torch.device | str | None = None,
) -> EKLDResult:
    """Per-class eKLD of ``model`` on ``dataset`` under ``transform``.

    All ``N · T`` transform parameters are drawn at once from ``torch.Generator().manual_seed(seed)`` (image ``i``
    gets draws ``i·T .. i·T + T - 1``), so the result does not depend on ``batch_size``. Each step evaluates at
    most ``batch_size // (T + 1)`` images (at least one) and their transformed copies in **one** forward pass, in
    eval mode, with the steps' sizes balanced; the model's train/eval mode is restored afterwards.

    Args:
        model: A classifier returning logits ``(B, K)``.
        dataset: Map-style ``(x (C, H, W), y)`` pairs, in the model's input space (normalised).
        transform: The transform family; it must work in the dataset's normalised space.
        n_transforms: Transforms per image ``T``; the reference uses 100.
        seed: Seed of the image selection, the transform draws and the bootstrap.
        max_per_class: At most this many images per class, chosen at random (the reference uses 40); ``None``: all.
        num_classes: Classes in the table; default ``max(label) + 1``.
        class_sizes: Training size of each class ``(K,)``, kept with the result for the plot and the correlation.
        batch_size: Model inputs per forward pass (originals and transformed copies together).
        reps: Bootstrap replicates of each class's interval over images.
        confidence: Coverage of the intervals.
        device: Where to evaluate; default the device of the model's first parameter.
    """
    if n_transforms < 1:
        raise ValueError(f"ekld: n_transforms must be at least 1, got {n_transforms}")
    x_all, y_all = gather(dataset)
    labels = y_all.numpy().astype(np.int64)
    if max_per_class is not None:
        rng = np.random.default_rng([seed, 1])
        keep = [rng.permutation(np.flatnonzero(labels == c))[:max_per_class] for c in np.unique(labels)]
        index = np.sort(np.concatenate(keep))
        x_all, labels = x_all[torch.from_numpy(index)], labels[index]
    if device is None:
        device = next(iter(model.parameters()), torch.empty(0)).device
    t, n = int(n_transforms), len(labels)
    params = transform.draw(torch.Generator().manual_seed(seed), n * t)
    per_forward = max(1, batch_size // (t + 1))  # images whose originals and copies fit in one forward pass
    step = -(-n // -(-n // per_forward)) if n else 1  # the same number of forwards, with their sizes balanced
    was_training = model.training
    model.eval()
    try:
        chunks = []
        for start in range(0, n, step):
            stop = min(start + step, n)
            x = x_all[start:stop].to(device, non_blocking=True)
            chunk_params = {k: v[start * t : stop * t] for k, v in params.items()}
            copies = transform.apply(x.repeat_interleave(t, dim=0), chunk_params)
            logits = model(torch.cat([x, copies]))
            b = stop - start
            chunks.append(_pair_kl(logits[:b], logits[b:].view(b, t, -1)))
        per_pair = torch.cat(chunks).cpu().numpy() if chunks else np.zeros((0, t))
    finally:
        model.train(was_training)
    values = _summarise(per_pair, labels, num_classes)
    low, high = np.full_like(values.per_class, np.nan), np.full_like(values.per_class, np.nan)
    streams = np.random.SeedSequence([seed, 2]).spawn(len(values.per_class))
    for c, stream in enumerate(streams):
        members = values.per_example[values.labels == c]
        if members.size >= 2:
            ci = bootstrap_ci(members, "mean", reps, confidence, seed=np.random.default_rng(stream))
            low[c], high[c] = ci.low, ci.high
    sizes = None if class_sizes is None else np.asarray(class_sizes, dtype=np.int64)
    if sizes is not None and sizes.shape != values.per_class.shape:
        raise ValueError(f"ekld: class_sizes must have shape {values.per_class.shape}, got {sizes.shape}")
    return EKLDResult(values, sizes, low, high, confidence, repr(transform), t, seed)


@dataclass(frozen=True)
class RankCorrelation:
    """Spearman's rank correlation with a percentile bootstrap interval over the units (classes).

    Attributes:
        rho: Spearman's rho on the observed pairs (``scipy.stats.spearmanr``'s statistic).
        low: Lower bound of the interval.
        high: Upper bound of the interval.
        confidence: Coverage of the interval.
        reps: Bootstrap replicates drawn.
        n: Number of units (classes) correlated.
        n_degenerate: Replicates dropped because a resample was constant in x or y (rho undefined).
        p_value: scipy's two-sided p-value (t approximation), for reference.
    """

    rho: float
    low: float
    high: float
    confidence: float
    reps: int
    n: int
    n_degenerate: int
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho along the last axis (ties get average ranks): ``(..., n)`` pairs -> ``(...)``; NaN if constant."""
    from scipy import stats as sps  # here, not at import (worker start-up)

    rx, ry = sps.rankdata(x, axis=-1), sps.rankdata(y, axis=-1)
    rx, ry = rx - rx.mean(-1, keepdims=True), ry - ry.mean(-1, keepdims=True)
    denom = np.sqrt((rx**2).sum(-1) * (ry**2).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (rx * ry).sum(-1) / np.where(denom > 0, denom, 1.0), np.nan)


def rank_correlation(
    x: Any, y: Any, *, reps: int = 10_000, confidence: float = 0.95, seed: int | np.random.Generator
) -> RankCorrelation:
    """Spearman's rho of ``x`` ``(n,)`` and ``y`` ``(n,)`` with a percentile bootstrap over the ``n`` pairs.

    Pairs with a non-finite value are dropped first. Each replicate resamples pairs with replacement; a replicate
    that is constant in ``x`` or ``y`` has no rho and is dropped (counted in ``n_degenerate``).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"rank_correlation: x and y must be 1-D of equal length, got {x.shape} and {y.shape}")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 3:
        raise ValueError(f"rank_correlation: needs at least 3 finite pairs, got {x.size}")
    rng = make_rng(seed, "rank_correlation")
    rho = float(spearman(x, y))
    from scipy import stats as sps  # here, not at import (worker start-up)

    p_value = float(sps.spearmanr(x, y).pvalue) if np.isfinite(rho) else float("nan")
    boot = []
    for start in range(0, reps, 2000):
        idx = rng.integers(0, x.size, size=(min(2000, reps - start), x.size))
        boot.append(spearman(x[idx], y[idx]))
    dist = np.concatenate(boot)
    finite = dist[np.isfinite(dist)]
    alpha = (1 - confidence) / 2
    low, high = np.percentile(finite, [100 * alpha, 100 * (1 - alpha)]) if finite.size else (np.nan, np.nan)
    return RankCorrelation(rho, float(low), float(high), confidence, reps, int(x.size), reps - finite.size, p_value)


def ekld_size_correlation(
    result: EKLDResult, *, reps: int = 10_000, confidence: float = 0.95, seed: int | np.random.Generator = 0
) -> RankCorrelation:
    """Spearman's rho of per-class eKLD against training class size, bootstrapped over classes (negative: the tail
    is less invariant)."""
    if result.class_sizes is None:
        raise ValueError("ekld_size_correlation: the result has no class_sizes; pass class_sizes to ekld()")
    return rank_correlation(result.class_sizes, result.values.per_class, reps=reps, confidence=confidence, seed=seed)


def plot_ekld(
    result: EKLDResult, ax: Any = None, *, correlation: RankCorrelation | None = None, label: str | None = None,
    yscale: str = "linear",
) -> Any:  # fmt: skip
    """Per-class eKLD against training class size (log x), with each class's interval; returns the axes."""
    if result.class_sizes is None:
        raise ValueError("plot_ekld: the result has no class_sizes; pass class_sizes to ekld()")
    if ax is None:
        from matplotlib.figure import Figure

        ax = Figure(figsize=(5, 3.8), layout="constrained").subplots()
    v = result.values
    err = np.vstack([v.per_class - result.low, result.high - v.per_class])
    ax.errorbar(result.class_sizes, v.per_class, yerr=np.nan_to_num(err), fmt="o", ms=4, capsize=2, label=label)
    ax.set_xscale("log")
    ax.set_yscale(yscale)
    ax.set_xlabel("training class size")
    ax.set_ylabel("eKLD  KL(P(·|x) ‖ P(·|x′))")
    if correlation is not None:
        ax.set_title(f"Spearman ρ = {correlation.rho:.2f} [{correlation.low:.2f}, {correlation.high:.2f}]")
    if label:
        ax.legend()
    return ax
