"""Per-class eKLD of a trained model against its training class sizes (Zhou et al., ICLR 2022): ``scrutiny invariance``.

The model and its data come from a stored trial or from a model name with local weights
(:mod:`scrutiny.workflows.restore`); the measurement is the ``ekld`` probe's
(:func:`scrutiny.probes.invariance.measure`): for a trial, with the trial's own evaluation seed by default, so the
numbers equal those its probe stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrutiny.errors import ScrutinyError
from scrutiny.store import DEFAULT_STORE
from scrutiny.workflows.restore import RestoredModel, is_model_name, load_model, load_trial


@dataclass
class InvarianceResult:
    """The eKLD measurement of one model.

    Attributes:
        source: Where the model and the data came from (``trial``, ``model``, ``weights``, ``data``).
        transform: The transform family measured.
        split: The split whose images were measured.
        n_transforms: Transforms per image.
        seed: Seed of the draws and the bootstraps.
        device: The device the model ran on.
        metrics: Summary: Spearman ρ with its interval, head/tail/mean eKLD, counts.
        correlation: The rank correlation of class size and eKLD, with its bootstrap.
        classes: One row per class, largest training class first.
        figure: The plot written, if one was asked for.
        ekld: The per-class :class:`~scrutiny.diagnostics.invariance.EKLDResult`.
    """

    source: dict[str, Any]
    transform: str
    split: str
    n_transforms: int
    seed: int
    device: str
    metrics: dict[str, Any]
    correlation: dict[str, Any]
    classes: list[dict[str, Any]]
    figure: str | None = None
    ekld: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.source,
            "transform": self.transform,
            "split": self.split,
            "n_transforms": self.n_transforms,
            "seed": self.seed,
            "device": self.device,
            "metrics": self.metrics,
            "correlation": self.correlation,
            "classes": self.classes,
            "figure": self.figure,
        }


def measure_invariance(
    model: str | RestoredModel,
    *,
    store: str | Path = DEFAULT_STORE,
    weights: str | Path | None = None,
    data: str | Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
    transform: str | None = None,
    n_transforms: int = 20,
    split: str | None = None,
    max_per_class: int | None = None,
    seed: int | None = None,
    reps: int = 1000,
    fraction: float = 1 / 3,
    batch_size: int = 1024,
    device: str = "cpu",
    out: str | Path | None = None,
    trust_code: bool = False,
) -> InvarianceResult:
    """Per-class eKLD of a trained model under a transform family, against its training class sizes.

    Args:
        model: A trial id (or unique prefix) in ``store``; a model name, with ``weights`` and ``data``; or a model
            already restored (:func:`~scrutiny.workflows.restore.load_trial`).
        store: The trial store a trial id is looked up in.
        weights: With a model name: its state_dict file.
        data: For a trial, ``"instance=2"`` changes its own data; with a model name, ``"NAME key=value ..."``.
        overrides: With a model name: ``model.KEY=VALUE`` builder arguments.
        transform: ``rotation``, ``background`` or ``dilate_erode`` (default: the data's own transform).
        n_transforms: Transforms per image (the reference uses 100).
        split: Images measured (default: ``test_clean`` where present, else the evaluated split).
        max_per_class: Images per class (the reference uses 40).
        seed: Seed of the draws and the bootstraps (default: a trial's evaluation seed, else 0).
        reps: Bootstrap replicates of the intervals.
        fraction: Share of classes in the head and in the tail, in ``(0, 0.5]``.
        batch_size: Model inputs per forward pass.
        device: ``cpu``, ``cuda`` or ``auto``.
        out: Write the eKLD-vs-class-size plot here (PNG, PDF or SVG).
        trust_code: Let a trial's stored spec import modules outside scrutiny.

    Returns:
        The per-class eKLD, its summary and where the model came from.

    Raises:
        ScrutinyError: A bad parameter (one line naming it), a trial that is not complete, data without a transform.
    """
    from scrutiny.device import resolve_device
    from scrutiny.probes.invariance import eval_split, measure, transform_name

    if not 0 < fraction <= 0.5:
        raise ScrutinyError(f"fraction: expected a number in (0, 0.5], got {fraction}")
    if isinstance(model, RestoredModel):
        restored = model
    elif weights is not None or is_model_name(model):
        restored = load_model(model, weights, data, overrides)
    else:
        if overrides:
            raise ScrutinyError("overrides: only with a model name; a trial rebuilds its model from its spec")
        restored = load_trial(model, store, data=data, trust_code=trust_code)
    dev = resolve_device(device)
    where = eval_split(restored.bundle, split, restored.eval_split)
    name = transform_name(restored.bundle, transform)
    used_seed = restored.eval_seed if seed is None else seed
    result, metrics, rows, corr = measure(
        restored.model.to(dev),
        restored.bundle,
        transform=name,
        split=where,
        n_transforms=n_transforms,
        max_per_class=max_per_class,
        batch_size=batch_size,
        reps=reps,
        fraction=fraction,
        seed=used_seed,
        device=dev,
        acc_split=restored.eval_split if restored.eval_split in restored.bundle.splits else None,
    )
    source = restored.source()
    figure = None
    if out is not None:
        from scrutiny.diagnostics.invariance import RankCorrelation, plot_ekld

        out = Path(out)
        ax = plot_ekld(result, correlation=RankCorrelation(**corr), yscale="log")
        ax.set_title(f"{source['trial'] or source['model']}: {name}, {where}\n{ax.get_title()}", fontsize=9)
        out.parent.mkdir(parents=True, exist_ok=True)
        ax.figure.savefig(out, dpi=200)
        figure = str(out)
    return InvarianceResult(source, name, where, n_transforms, used_seed, str(dev), metrics, corr, rows, figure, result)
