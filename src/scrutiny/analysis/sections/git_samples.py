"""``git_samples``: grids of the transformations a GIT generator produces, for head and tail classes.

For each listed arm whose spec uses the ``git`` augmentation, the section rebuilds the arm's data as its trials did
(the same builder and arguments) with the generator its trials used: a checkpoint is loaded, and a ``fit`` recipe's
generator is read from its own trial in the store (:func:`scrutiny.data.git_augment.generator_spec`; the section
says so when that trial is not there and fits the recipe in process instead), and shows, per class, training images
in the first column and generated transformations ``decode(content(x), s)`` with fixed style codes beside them.
Head = the largest classes, tail = the smallest (as the ``ekld`` probe splits them, ``ceil(K/3)`` each). Unlike
other sections this one runs a model (the generator): the generator is what it shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import torch

from scrutiny.analysis.sections._base import Cell, Figure, ReportSection, Table, arm_names
from scrutiny.errors import ScrutinyError
from scrutiny.registry import SECTIONS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure as MplFigure

    from scrutiny.analysis.check import ClaimResult
    from scrutiny.spec import Spec
    from scrutiny.store import Store


@dataclass
class SampleGrid:
    """Generated samples of one arm.

    Attributes:
        arm: The arm.
        classes: Classes shown, head first ``(R,)``; ``groups[r]`` is ``"head"`` or ``"tail"``.
        sizes: Training size of each shown class ``(R,)``.
        keep: Probability that a generated image of each shown class is used in training ``(R,)``.
        images: ``(R, 1 + S, C, H, W)``: a training image of the class, then ``S`` transformations of it.
        value_range: ``(low, high)`` of the training images, for display.
        changed: Mean absolute change of a transformation from its source, per shown class ``(R,)``.
    """

    arm: str
    classes: list[int]
    groups: list[str]
    sizes: list[int]
    keep: list[float]
    images: np.ndarray
    value_range: tuple[float, float]
    changed: list[float]


def _uses_git(spec: Spec) -> bool:
    augment = spec.data.model_dump().get("augment")
    return isinstance(augment, dict) and augment.get("name") == "git"


def sample_grid(
    arm: str, spec: Spec, n_samples: int = 7, seed: int = 0, store: Store | None = None
) -> tuple[SampleGrid, str]:
    """Rebuild ``spec``'s data and transform one training image of each head and tail class ``n_samples`` times.

    Args:
        arm: The arm's name (for messages).
        spec: The arm's resolved spec; its ``data.augment`` must select ``git``.
        n_samples: Transformations per class.
        seed: Seed of the style codes (the same codes for every class).
        store: Where a ``fit`` recipe's generator trial is looked up.

    Returns:
        The grid and where its generator came from (a trial id, a checkpoint, or "fitted here").
    """
    from scrutiny.data.git_augment import GITAugment, generator_spec, load_generator
    from scrutiny.registry import DATASETS
    from scrutiny.spec import trial_id
    from scrutiny.spec.schema import DataSection

    data = spec.data.model_dump()
    if not _uses_git(spec):
        raise ScrutinyError(f"sections: git_samples: arm '{arm}' does not use the git augmentation (data.augment)")
    loading = set(DataSection.model_fields) - {"root"}
    bundle = DATASETS.get(spec.data.name)(**{k: v for k, v in data.items() if k not in loading})
    augment: GITAugment = bundle.augment
    config = data["augment"]
    if "generator" in config:
        origin = f"checkpoint {config['generator']}"
    else:
        tid = trial_id(generator_spec(spec, config), int((config.get("fit") or {}).get("seed", 0)))
        if store is not None and store.status(tid) == "complete":
            augment.generator = load_generator(str(store.trial_dir(tid)))[0]
            origin = f"trial {tid}"
        else:
            origin = f"fitted here (its trial {tid} is not complete in the store)"
    train = bundle.splits[bundle.train_split]
    x, y = train.base.tensors
    sizes = np.asarray(bundle.info["class_sizes"])
    order = np.argsort(-sizes, kind="stable")
    third = math.ceil(len(sizes) / 3)
    shown = [(int(c), "head") for c in order[:third]] + [(int(c), "tail") for c in order[-third:]]
    styles = torch.randn(n_samples, augment.style_dim, generator=torch.Generator().manual_seed(seed))
    rows, changed = [], []
    for c, _ in shown:
        source = x[y == c][:1]
        out = augment.transform_batch(source.expand(n_samples, *source.shape[1:]), styles)
        rows.append(torch.cat([source, out]).numpy())
        changed.append(float((out - source).abs().mean()))
    grid = SampleGrid(
        arm,
        [c for c, _ in shown],
        [g for _, g in shown],
        [int(sizes[c]) for c, _ in shown],
        [float(augment.keep[c]) for c, _ in shown],
        np.stack(rows),
        (augment.low, augment.high),
        changed,
    )
    return grid, origin


def plot_grid(grid: SampleGrid, ax: Axes | None = None) -> MplFigure:
    """One row per class (source image, then its transformations), head above tail; returns the figure.

    ``ax`` is not used: the grid needs a figure of its own.
    """
    from matplotlib.figure import Figure as MplFigure

    rows, cols = grid.images.shape[:2]
    fig = MplFigure(figsize=(1.0 * cols + 1.6, 1.0 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    low, high = grid.value_range
    for r in range(rows):
        for j in range(cols):
            ax_ = axes[r][j]
            image = grid.images[r, j]
            ax_.imshow(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0), cmap="gray", vmin=low, vmax=high)
            ax_.set_xticks([])
            ax_.set_yticks([])
        label = f"{grid.groups[r]} c{grid.classes[r]}\nn={grid.sizes[r]}, keep {grid.keep[r]:.2f}"
        axes[r][0].set_ylabel(label, fontsize=7)
    axes[0][0].set_title("source", fontsize=8)
    for j in range(1, cols):
        axes[0][j].set_title(f"style {j}", fontsize=8)
    return fig


@SECTIONS.register("git_samples")
def git_samples(
    result: ClaimResult, store: Store, arms: list[str] | None = None, n_samples: int = 7, seed: int = 0
) -> ReportSection:
    """Sample grids of the GIT generator of each arm in ``arms`` (default: every arm whose augmentation is GIT).

    Args:
        result: The claim's result (its resolved specs are used).
        store: The trial store, where a ``fit`` recipe's generator trial is read.
        arms: Arms to show.
        n_samples: Transformations per class.
        seed: Seed of the style codes.
    """
    names = arm_names(result, arms, "git_samples")
    if arms is None:
        names = [n for n in names if _uses_git(result.specs[n])]
    made = [sample_grid(name, result.specs[name], n_samples, seed, store) for name in names]
    grids = [g for g, _ in made]
    rows: list[list[Cell]] = [
        [g.arm, grp, c, n, k, d]
        for g in grids
        for grp, c, n, k, d in zip(g.groups, g.classes, g.sizes, g.keep, g.changed, strict=True)
    ]
    table = Table(
        ["arm", "group", "class", "train size", "keep probability", "mean abs. change"],
        rows,
        "Mean absolute difference between a generated image and its source (normalised pixel units).",
    )
    figures = [
        Figure(f"git_samples_{g.arm}", partial(plot_grid, g), f"{g.arm}: source image, then generated styles.")
        for g in grids
    ]
    paragraphs = [
        "Each row: a training image of one class (first column) and its transformations by the arm's GIT generator "
        "with the same style codes in every row. A generator that learned the nuisance shows it varying along the "
        "row; one that did not shows near-copies of the source. Keep probability: the chance that a generated image "
        "of the class replaces the real one when drawn (times gen_frac)."
    ]
    paragraphs += [f"{g.arm}: generator from {origin}." for g, origin in made]
    data = {
        g.arm: {"classes": g.classes, "groups": g.groups, "sizes": g.sizes, "keep": g.keep, "changed": g.changed,
                "generator": origin}
        for g, origin in made
    }  # fmt: skip
    return ReportSection("GIT: generated transformations per class", paragraphs, [table], figures, data)
