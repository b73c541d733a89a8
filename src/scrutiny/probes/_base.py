"""What a probe receives and returns, and how a trial runs its probes.

A probe is a function ``probe(ctx: ProbeContext, **args) -> ProbeOutput`` (the :class:`Probe` protocol),
registered in :data:`scrutiny.registry.PROBES`; a spec's ``probes`` entries name it and give its arguments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import nn

from scrutiny.errors import ScrutinyError

if TYPE_CHECKING:
    from scrutiny.data._bundle import DataBundle
    from scrutiny.spec.schema import Spec


class TrialTask(Protocol):
    """What a probe may use of the trial's task (:class:`scrutiny.trials.tasks.Task` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def primary(self) -> str: ...

    def per_example_loss(
        self, outputs: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0
    ) -> torch.Tensor: ...

    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]: ...


class ResultWriter(Protocol):
    """Where a probe's tables go: the trial's folder (:class:`scrutiny.store.TrialWriter` is one)."""

    def write(self, name: str, record: dict[str, Any]) -> None: ...


@dataclass
class ProbeContext:
    """Everything a probe may look at, at the end of a trial.

    Attributes:
        model: The trained model (eval mode is the probe's business; restore what you change).
        spec: The trial's resolved spec.
        bundle: The dataset bundle the trial was built from (``bundle.split(name)`` gives a split).
        task: The trial's task (classification, regression, rendering).
        device: Where the model lives.
        seed: The trial's ``eval`` stream seed; a probe that draws randomness derives its generator from it.
        history: The per-epoch metric rows of the trial, in order.
        eval_batches: Per evaluated epoch, the per-batch sums and sizes (``{"epoch", "n", <metric>: array}``),
            present when the spec sets ``eval.save_batches``.
        result: The trial's result fields computed so far (``final_*``, ``best_*``, ...).
    """

    model: nn.Module
    spec: Spec
    bundle: DataBundle
    task: TrialTask
    device: torch.device
    seed: int
    history: list[dict[str, Any]] = field(default_factory=list)
    eval_batches: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProbeOutput:
    """A probe's results.

    Attributes:
        metrics: Scalar results (finite floats, ints or ``None``), stored as ``<prefix>_<key>`` in the result.
        tables: JSON-compatible data for reports (e.g. one row per block), stored in ``probes/<prefix>.json``.
    """

    metrics: dict[str, float | int | None] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)


class Probe(Protocol):
    """A probe: measures ``ctx`` (restoring whatever it changes) and returns its results.

    Its keyword arguments are the ``probes`` entry's own keys (e.g. ``split``, ``batch_size``).
    """

    def __call__(self, ctx: ProbeContext, /, *args: Any, **kwargs: Any) -> ProbeOutput: ...


def run_probes(spec: Spec, ctx: ProbeContext, writer: ResultWriter) -> dict[str, Any]:
    """Run every probe of ``spec`` on ``ctx``; write their tables; return the result fields they add."""
    from scrutiny.registry import PROBES

    fields: dict[str, Any] = {}
    names: list[str] = []
    for probe in spec.probes:
        measure: Probe = PROBES.get(probe.name)
        out: object = measure(ctx, **probe.kwargs)
        if not isinstance(out, ProbeOutput):
            raise ScrutinyError(f"probe '{probe.name}' returned {type(out).__name__}, not a ProbeOutput")
        prefix = probe.field_prefix
        for key, value in out.metrics.items():
            name = f"{prefix}_{key}"
            if name in ctx.result or name in fields:
                raise ScrutinyError(f"probe '{probe.name}': result field '{name}' already exists; set its prefix")
            fields[name] = _scalar(value, name)
            names.append(name)
        writer.write(f"probes/{prefix}.json", {"probe": probe.name, "args": probe.kwargs, **out.tables})
    if names:
        fields["probe_fields"] = names
    return fields


def _scalar(value: Any, name: str) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN; a non-finite probe value is recorded as missing
    return value
