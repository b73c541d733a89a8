"""SPPs of models named by registry name plus ``key=value`` arguments, overlaid for comparison.

The arguments are checked exactly as a spec's ``model`` section is (:func:`scrutiny.spec.load_spec`: unknown keys and
wrong types fail with one line naming the key), every builder default is written out, and each model is built from
the same initialisation seed and measured on the same input.

Example::

    setups = [
        model_setup("preact_resnet", ["depth=600"], label="BN-ReLU-Conv"),
        model_setup("preact_resnet", ["depth=600", "order=relu_bn_conv"], label="ReLU-BN-Conv"),
        model_setup("nf_resnet", ["depth=600", "skip_gain=1"], label="NF-ResNet"),
    ]
    results = spp_compare(setups, resolution=64, batch_size=8)  # {label: SPPResult}
    plot_spp(results)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from scrutiny.device import resolve_device
from scrutiny.diagnostics._blocks import PatternArg
from scrutiny.diagnostics._modes import Mode
from scrutiny.diagnostics.spp import SPPResult, spp
from scrutiny.errors import ScrutinyError, SpecError

__all__ = ["ModelSetup", "build_setup", "model_setup", "spp_compare"]


@dataclass(frozen=True)
class ModelSetup:
    """A model to measure: its label and its resolved ``model`` section (``name`` plus every builder argument)."""

    label: str
    section: dict[str, Any]
    overrides: tuple[str, ...] = field(default=())


def _dotted(override: str, source: str) -> str:
    """``depth=600`` and ``model.depth=600`` both become ``model.depth=600``."""
    key, sep, value = override.partition("=")
    if not sep:
        raise SpecError(source, None, f"expected key=value, got {override!r}")
    key = key.strip()
    return f"{key}={value}" if key.startswith("model.") else f"model.{key}={value}"


def model_setup(
    name: str, overrides: Iterable[str] = (), label: str | None = None, *, source: str = "overrides"
) -> ModelSetup:
    """Validate a model name and its ``key=value`` arguments; build nothing.

    Args:
        name: A registry name (``preact_resnet``, ``nf_resnet``, ``torchvision:resnet50``, ``pkg.mod:builder``).
        overrides: Builder arguments as ``key=value`` or ``model.key=value``; values are read as YAML
            (``stage_depths=[2, 2]``, ``scaled_ws=false``).
        label: Legend label; default: the name followed by the overrides.
        source: The parameter the overrides came from, named in error messages.

    Raises:
        SpecError: One line: an unknown model (``model: ...``), an unknown argument or a value of the wrong type
            (``<source>: model.<key>: ...``).
    """
    from scrutiny.spec import load_spec
    from scrutiny.spec.load import OVERRIDE_SOURCE

    overrides = tuple(overrides)
    dotted = [_dotted(o, source) for o in overrides]
    try:
        spec = load_spec(data={"model": {"name": name}, "data": {"name": "synthetic"}}, overrides=dotted)
    except SpecError as exc:
        if exc.key == "model.name" and exc.source != OVERRIDE_SOURCE:
            raise SpecError("model", None, exc.message) from None
        raise SpecError(source if exc.source == OVERRIDE_SOURCE else exc.source, exc.key, exc.message) from None
    section = spec.model.model_dump(mode="python")
    if label is None:
        shown = [o.removeprefix("model.") for o in overrides]
        label = " ".join([name, *shown])
    return ModelSetup(label, section, overrides)


def build_setup(setup: ModelSetup, seed: int = 0, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Build a setup's model from ``seed`` (the global RNG is left as it was) and move it to ``device``.

    Raises:
        ScrutinyError: The builder rejected its arguments (its ``ValueError`` / ``TypeError``, in one line).
    """
    from scrutiny.models import build_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            model = build_model(dict(setup.section), {})
        except (TypeError, ValueError) as exc:
            raise ScrutinyError(f"{setup.label}: cannot build {setup.section['name']}: {exc}") from None
    return model.to(resolve_device(device))


def spp_compare(
    setups: Sequence[ModelSetup],
    *,
    blocks: PatternArg | None = None,
    residuals: PatternArg | None = None,
    inputs: str = "gaussian",
    batch_size: int = 8,
    resolution: int | tuple[int, int] = 224,
    seed: int = 0,
    num_batches: int = 1,
    mode: Mode = "batch_stats",
    device: str | torch.device = "cpu",
) -> dict[str, SPPResult]:
    """Build each setup from the same seed and measure its SPP on the same input (see :func:`spp`).

    Args:
        setups: The models, with distinct labels.
        blocks: Block patterns for every model (default: each model's ``spp_blocks()`` or built-in layout).
        residuals: Residual patterns inside each block.
        inputs: ``"gaussian"``: unit Gaussian noise ``(batch_size, C, *resolution)`` seeded with ``seed``.
        batch_size: Batch size.
        resolution: Side, or ``(H, W)``.
        seed: Seed of the initialisation (each model is built from it) and of the input.
        num_batches: Gaussian batches pooled into the statistics.
        mode: ``"batch_stats"`` (the paper's SPPs at initialisation), ``"eval"`` or ``"train"``.
        device: ``"cpu"``, ``"cuda"``, or ``"auto"`` (CUDA when available).

    Returns:
        ``{label: SPPResult}`` in the order of ``setups``; each result's ``meta`` adds ``label``, ``model_spec`` (the
        resolved section), ``init_seed`` and ``device``.

    Raises:
        ScrutinyError: Duplicate labels, a builder that rejects its arguments, or blocks that cannot be resolved.
    """
    labels = [s.label for s in setups]
    if not setups:
        raise ScrutinyError("spp: no model to measure")
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ScrutinyError(f"spp: duplicate labels {dupes}; give each model its own label")
    results: dict[str, SPPResult] = {}
    for setup in setups:
        model = build_setup(setup, seed, device)
        try:
            result = spp(
                model,
                blocks,
                residuals,
                inputs,
                batch_size=batch_size,
                resolution=resolution,
                seed=seed,
                num_batches=num_batches,
                mode=mode,
            )
        except ValueError as exc:
            raise ScrutinyError(f"{setup.label}: {exc}") from None
        meta = {
            "label": setup.label,
            "model_spec": setup.section,
            "init_seed": seed,
            "device": str(resolve_device(device)),
            **result.meta,
        }
        results[setup.label] = SPPResult(result.rows, meta)
        del model
    return results
