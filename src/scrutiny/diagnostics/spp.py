"""Signal propagation plots (SPPs): per-block activation statistics of a network, usually at initialisation.

Paper: Brock, De, Smith, "Characterizing signal propagation to close the performance gap in unnormalized ResNets",
ICLR 2021 (arXiv 2101.08692), Section 3. Original code: ``google-deepmind/deepmind-research`` ``nfnets/base.py``
(``signal_metrics``) and the ``res_avg_var`` line of ``nfnets/nf_resnet.py`` / ``resnet.py``.

For an activation ``x`` of shape ``(N, C, H, W)``, with per-channel statistics over ``N, H, W`` and the population
variance (``jnp.var``):

- average channel squared mean: ``mean_c (mean_{n,h,w} x[:, c])²``;
- average channel variance: ``mean_c Var_{n,h,w} x[:, c]``;

measured on each block output (after the addition to the skip path) and, for the residual average channel variance,
on the residual-branch output before it is scaled and added. ``(N, C)`` activations use statistics over ``N``.
Over several batches the per-channel statistics are pooled over all examples.

Blocks come from the model's ``spp_blocks()`` method (:class:`SupportsSPP`), from a built-in layout for torchvision
and timm ResNets and timm NF-ResNets, or from patterns over ``named_modules()``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_hook

from scrutiny.diagnostics._blocks import PatternArg, SPPBlock, SupportsSPP, compile_patterns, resolve_blocks
from scrutiny.diagnostics._channel_stats import ChannelStats, signal_metrics
from scrutiny.diagnostics._modes import MODES, Mode, measurement_mode

__all__ = [
    "ChannelStats",
    "Mode",
    "SPPBlock",
    "SPPResult",
    "SPPRow",
    "SupportsSPP",
    "compile_patterns",
    "resolve_blocks",
    "signal_metrics",
    "spp",
]


@dataclass(frozen=True)
class SPPRow:
    """Statistics of one block; ``res_avg_var`` is NaN when no residual branch was named."""

    name: str
    stage: int
    avg_sq_mean: float
    avg_var: float
    res_avg_var: float


@dataclass(frozen=True)
class SPPResult:
    """One SPP: a row per block, in forward order, and how it was measured (``meta``)."""

    rows: tuple[SPPRow, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.rows]

    @property
    def stages(self) -> np.ndarray:
        """Stage index per block, ``(n_blocks,)`` int."""
        return np.array([r.stage for r in self.rows], dtype=int)

    @property
    def avg_sq_mean(self) -> np.ndarray:
        """Average channel squared mean per block output, ``(n_blocks,)``."""
        return np.array([r.avg_sq_mean for r in self.rows], dtype=float)

    @property
    def avg_var(self) -> np.ndarray:
        """Average channel variance per block output, ``(n_blocks,)``."""
        return np.array([r.avg_var for r in self.rows], dtype=float)

    @property
    def res_avg_var(self) -> np.ndarray:
        """Average channel variance per residual-branch output, ``(n_blocks,)``; NaN where none."""
        return np.array([r.res_avg_var for r in self.rows], dtype=float)

    @property
    def stage_ends(self) -> np.ndarray:
        """Indices of the last block of each stage, ``(n_stages,)``."""
        s = self.stages
        return np.flatnonzero(np.append(s[1:] != s[:-1], True)) if len(s) else np.zeros(0, dtype=int)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``{"rows": [{name, stage, avg_sq_mean, avg_var, res_avg_var}, ...], "meta": {...}}``.

        NaN residual variances become ``None``.
        """
        rows = [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(r).items()}
            for r in self.rows
        ]
        return {"rows": rows, "meta": dict(self.meta)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SPPResult:
        """Inverse of :meth:`to_dict`."""
        rows = []
        for r in data["rows"]:
            res = r["res_avg_var"]
            rows.append(
                SPPRow(r["name"], int(r["stage"]), r["avg_sq_mean"], r["avg_var"], math.nan if res is None else res)
            )
        return cls(tuple(rows), dict(data.get("meta", {})))


def _first_conv_channels(model: nn.Module) -> int:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return m.in_channels
    raise ValueError("cannot infer the input channels (the model has no Conv2d); pass in_channels=")


def _batches(
    model: nn.Module,
    inputs: str | torch.Tensor | Iterable[Any],
    batch_size: int,
    resolution: int | tuple[int, int],
    in_channels: int | None,
    seed: int,
    num_batches: int,
) -> tuple[Iterator[torch.Tensor], dict[str, Any]]:
    if num_batches < 1:
        raise ValueError(f"num_batches must be >= 1, got {num_batches}")
    if isinstance(inputs, str):
        if inputs != "gaussian":
            raise ValueError(f"inputs must be 'gaussian', a tensor or a data loader, got '{inputs}'")
        h, w = (resolution, resolution) if isinstance(resolution, int) else resolution
        c = in_channels if in_channels is not None else _first_conv_channels(model)
        gen = torch.Generator().manual_seed(seed)
        shape = (batch_size, c, h, w)
        meta = {"inputs": "gaussian", "batch_shape": list(shape), "seed": seed, "num_batches": num_batches}
        return (torch.randn(shape, generator=gen) for _ in range(num_batches)), meta
    if isinstance(inputs, torch.Tensor):
        if num_batches != 1:
            raise ValueError(f"a tensor input is one batch; num_batches must be 1, got {num_batches}")
        return iter([inputs]), {"inputs": "tensor", "batch_shape": list(inputs.shape), "num_batches": 1}

    def from_loader() -> Iterator[torch.Tensor]:
        it = iter(inputs)
        for i in range(num_batches):
            try:
                batch = next(it)
            except StopIteration:
                raise ValueError(f"the data loader ran out after {i} batches; num_batches={num_batches}") from None
            x = batch[0] if isinstance(batch, list | tuple) else batch
            if not isinstance(x, torch.Tensor):
                raise TypeError(f"a batch must be a tensor or a (tensor, ...) sequence, got {type(x).__name__}")
            yield x

    return from_loader(), {"inputs": "loader", "num_batches": num_batches}


def spp(
    model: nn.Module,
    blocks: PatternArg | None = None,
    residuals: PatternArg | None = None,
    inputs: str | torch.Tensor | Iterable[Any] = "gaussian",
    *,
    batch_size: int = 8,
    resolution: int | tuple[int, int] = 224,
    in_channels: int | None = None,
    seed: int = 0,
    num_batches: int = 1,
    mode: Mode = "batch_stats",
) -> SPPResult:
    """Measure a signal propagation plot: one :class:`SPPRow` per block.

    Args:
        model: The network; it runs on the device of its first parameter, under ``torch.no_grad()``.
        blocks: Which modules are blocks; see :func:`resolve_blocks`.
        residuals: Which submodule of each block outputs the residual branch; see :func:`resolve_blocks`.
        inputs: ``"gaussian"`` (unit Gaussian noise ``(batch_size, in_channels, *resolution)`` from a generator seeded
            with ``seed``), a tensor ``(N, C, H, W)`` (one batch), or an iterable of batches (a tensor or a
            ``(tensor, target, ...)`` sequence each), of which the first ``num_batches`` are used.
        batch_size: Batch size of Gaussian inputs.
        resolution: Side (or ``(H, W)``) of Gaussian inputs.
        in_channels: Channels of Gaussian inputs; default: ``in_channels`` of the model's first ``Conv2d``.
        seed: Seed of Gaussian inputs.
        num_batches: Batches of Gaussian or loader inputs; the statistics are pooled over all of them.
        mode: ``"batch_stats"`` (eval mode, except that BatchNorm layers normalise with the batch statistics, as in the
            paper's SPPs at initialisation), ``"eval"`` or ``"train"`` (dropout and stochastic depth active). Every
            module's mode is restored afterwards, and so are all buffers (BatchNorm running statistics).

    Returns:
        An :class:`SPPResult`; its ``meta`` records the inputs, the mode and the number of examples.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be 'batch_stats', 'eval' or 'train', got '{mode}'")
    resolved = resolve_blocks(model, blocks, residuals)
    batches, meta = _batches(model, inputs, batch_size, resolution, in_channels, seed, num_batches)
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    out_stats = [ChannelStats() for _ in resolved]
    res_stats = [ChannelStats() if r is not None else None for *_, r in resolved]
    calls = [0] * len(resolved)
    # One process-wide forward hook that looks modules up by identity: registering 2 hooks on each of hundreds of
    # blocks cost more than the statistics themselves (benchmarks/spp_overhead.py).
    targets: dict[int, list[tuple[bool, int]]] = {}
    for i, (_, _, block, residual) in enumerate(resolved):
        targets.setdefault(id(block), []).append((True, i))
        if residual is not None:
            targets.setdefault(id(residual), []).append((False, i))

    def hook(module: nn.Module, _inp: Any, out: Any) -> None:
        for is_block, i in targets.get(id(module), ()):
            if is_block:
                calls[i] += 1
                out_stats[i].update(out)  # stats at once: later in-place ops (``out += identity``) must not leak in
            else:
                res_stats[i].update(out)  # type: ignore[union-attr]

    n_examples = 0
    handle = register_module_forward_hook(hook)
    try:
        with measurement_mode(model, mode), torch.no_grad():
            for x in batches:
                calls[:] = [0] * len(calls)
                model(x.to(device))
                n_examples += x.shape[0]
                bad = [(resolved[i][0], c) for i, c in enumerate(calls) if c != 1]
                if bad:
                    raise RuntimeError(f"each block must run exactly once per forward; (block, calls): {bad[:5]}")
    finally:
        handle.remove()
    rows = tuple(
        SPPRow(
            name,
            stage,
            out_stats[i].avg_sq_mean(),
            out_stats[i].avg_var(),
            res_stats[i].avg_var() if res_stats[i] is not None else math.nan,  # type: ignore[union-attr]
        )
        for i, (name, stage, _, _) in enumerate(resolved)
    )
    meta.update({"mode": mode, "n_examples": n_examples, "model": type(model).__name__})
    return SPPResult(rows, meta)
