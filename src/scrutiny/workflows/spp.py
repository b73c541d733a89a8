"""Signal propagation plots of models at initialisation, overlaid for comparison (Brock et al. 2021): ``scrutiny spp``.

A model is a registry name plus builder arguments; each is built from the same initialisation seed and measured on
the same input (:func:`scrutiny.diagnostics.spp_compare`), and the three-panel figure overlays them
(:func:`scrutiny.diagnostics.plot_spp`).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrutiny.errors import ScrutinyError

MODES = ("batch_stats", "eval", "train")


@dataclass
class SPPComparison:
    """The SPPs of the models, in order, and the figure written.

    Attributes:
        results: Label -> :class:`~scrutiny.diagnostics.spp.SPPResult`, in the order the models were given.
        figure: The figure's path, if one was written.
    """

    results: dict[str, Any]
    figure: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"figure": self.figure, "models": [r.to_dict() for r in self.results.values()]}


def parse_compare(text: str, common: Sequence[str] = (), label: str | None = None) -> Any:
    """``"nf_resnet depth=600 skip_gain=1"`` -> a :class:`~scrutiny.diagnostics.ModelSetup`.

    ``common`` arguments come first; the inline ones win. The default label is the name and the arguments.

    Raises:
        ScrutinyError: An empty value, an unknown model or a bad argument (``compare: ...``).
    """
    from scrutiny.diagnostics import model_setup

    words = shlex.split(text)
    if not words:
        raise ScrutinyError("compare: expected a model name, got an empty value")
    inline = words[1:]
    if label is None and (common or inline):
        label = " ".join([words[0], *(o.removeprefix("model.") for o in inline)])
    return model_setup(words[0], [*common, *inline], label, source="compare")


def compare_spp(
    model: str,
    overrides: Sequence[str] = (),
    *,
    compare: Sequence[str] = (),
    compare_overrides: Sequence[str] = (),
    labels: Sequence[str] = (),
    batch_size: int = 8,
    resolution: int = 224,
    seed: int = 0,
    inputs: str = "gaussian",
    num_batches: int = 1,
    mode: str = "batch_stats",
    blocks: str | None = None,
    residuals: str | None = None,
    device: str = "cpu",
    out: str | Path | None = None,
    yscale: str = "linear",
    title: str | None = None,
) -> SPPComparison:
    """Measure the SPP of ``model`` at initialisation (and of each ``compare`` model) and plot them together.

    Example::

        from scrutiny import compare_spp

        spp = compare_spp("preact_resnet", ["depth=50"], compare=["nf_resnet depth=50"], resolution=32, out="spp.png")

    Args:
        model: Registry name: ``preact_resnet``, ``nf_resnet``, ``torchvision:resnet50``, ...
        overrides: Builder arguments of ``model``: ``depth=600`` or ``model.depth=600``.
        compare: Other models to overlay, each with inline arguments: ``"nf_resnet depth=600 skip_gain=1"``.
        compare_overrides: Arguments of every ``compare`` model (their inline arguments win).
        labels: Legend labels, in order: ``model``, then each ``compare`` model (default: name and arguments).
        batch_size: Batch size of the input.
        resolution: Side of the square input, in pixels.
        seed: Seed of the initialisation and of the input.
        inputs: ``"gaussian"`` (unit Gaussian noise).
        num_batches: Batches pooled into the statistics.
        mode: ``batch_stats`` (BatchNorm on batch statistics), ``eval`` or ``train``.
        blocks: Block pattern over module names, e.g. ``'layer*.*'``.
        residuals: Residual-branch pattern inside each block, e.g. ``'bn3'`` (needs ``blocks``).
        device: ``cpu``, ``cuda`` or ``auto``.
        out: Write the three-panel figure here (PNG, PDF or SVG).
        yscale: Y scale of the panels: ``linear`` or ``log``.
        title: Figure title (default: the input and the mode).

    Returns:
        The SPP of every model by label, and the figure's path.

    Raises:
        ScrutinyError: A bad parameter (one line naming it), an unknown model or argument, duplicate labels.
    """
    from scrutiny.diagnostics import model_setup, plot_spp, spp_compare

    if inputs != "gaussian":
        raise ScrutinyError(f"inputs: expected 'gaussian', got '{inputs}'")
    if yscale not in ("linear", "log"):
        raise ScrutinyError(f"yscale: expected 'linear' or 'log', got '{yscale}'")
    if mode not in MODES:
        raise ScrutinyError(f"mode: expected batch_stats, eval or train, got '{mode}'")
    if residuals is not None and blocks is None:
        raise ScrutinyError("residuals: needs blocks")
    compare, labels = list(compare), list(labels)
    if len(labels) > 1 + len(compare):
        raise ScrutinyError(f"labels: {len(labels)} labels for {1 + len(compare)} models")
    labels_for: list[str | None] = [*labels, *[None] * (1 + len(compare) - len(labels))]
    setups = [model_setup(model, overrides, labels_for[0])]
    setups += [parse_compare(c, compare_overrides, lab) for c, lab in zip(compare, labels_for[1:], strict=True)]
    results = spp_compare(
        setups,
        blocks=blocks,
        residuals=residuals,
        inputs=inputs,
        batch_size=batch_size,
        resolution=resolution,
        seed=seed,
        num_batches=num_batches,
        mode=mode,  # type: ignore[arg-type]
        device=device,
    )
    figure = None
    if out is not None:
        out = Path(out)
        first = next(iter(results.values()))
        shape = "×".join(str(d) for d in first.meta.get("batch_shape", []))
        default_title = f"SPP at initialisation: N(0, 1) input {shape}, {mode.replace('_', ' ')}"
        axes = plot_spp(results, yscale=yscale, title=title or default_title)
        out.parent.mkdir(parents=True, exist_ok=True)
        axes[0].figure.savefig(out, dpi=200)
        figure = str(out)
    return SPPComparison(results, figure)
