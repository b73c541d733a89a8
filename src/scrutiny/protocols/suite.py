"""One model under several image protocols: protocols from names, a whole-image check, a timed evaluation each.

The pieces are separate so that each can be used and tested alone: :func:`build_protocols` (``"single,ten,multi"``
-> protocol objects, with their arguments), :func:`check_multi_scale` (fails before any work when the model cannot
take whole images), :func:`run_protocol` (one protocol, timed) and :func:`evaluate_protocols`, which checks every
protocol first and then runs each in order. Nothing is read from or written to the trial store: choosing the
weights and the data and saving predictions is :mod:`scrutiny.workflows.evaluate`'s job.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from scrutiny.device import resolve_device
from scrutiny.errors import ScrutinyError
from scrutiny.protocols._base import ImageProtocol, ProtocolError, is_image_protocol
from scrutiny.protocols._image import model_logits
from scrutiny.protocols.imagefolder_eval import EvalResult, evaluate_imagefolder
from scrutiny.protocols.multiscale import check_fully_convolutional
from scrutiny.registry import PROTOCOLS

ALIASES = {"single": "single_crop", "ten": "ten_crop", "multi": "multi_scale"}


@dataclass
class ProtocolRun:
    """One protocol's result and its speed.

    Attributes:
        result: Exact counts and errors, with the protocol's name and resolved parameters.
        seconds: Wall time of the evaluation (reading, decoding, resizing and the model).
        views_per_image: Network inputs per image (1, 10, or scales × flips).
        predictions: Where the per-example predictions were saved, if they were.
    """

    result: EvalResult
    seconds: float
    views_per_image: int | None
    predictions: Path | None = None

    @property
    def images_per_s(self) -> float:
        return self.result.n / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        d = self.result.to_dict()
        d.pop("classes")
        return {
            **d,
            "views_per_image": self.views_per_image,
            "seconds": self.seconds,
            "images_per_s": self.images_per_s,
            "predictions": None if self.predictions is None else str(self.predictions),
        }


def protocol_name(name: str) -> str:
    """``single``/``ten``/``multi`` -> the registry name; other names pass through."""
    return ALIASES.get(name.strip(), name.strip())


def build_protocols(names: str | Sequence[str], args: dict[str, dict[str, Any]] | None = None) -> list[ImageProtocol]:
    """Image protocols from ``"single,ten,multi"`` (or a list), each with its keyword arguments.

    Args:
        names: Comma-separated or listed names; aliases ``single``, ``ten``, ``multi``.
        args: Protocol name (or alias) -> keyword arguments, e.g. ``{"ten": {"resize": 128, "crop": 112}}``.

    Raises:
        ProtocolError: No name, arguments for a protocol that is not listed, arguments a protocol does not take, or
            a protocol that scores tensors rather than images.
    """
    listed = [n for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    if not listed:
        raise ProtocolError("protocols: expected at least one of single, ten, multi")
    given = {protocol_name(k): v for k, v in (args or {}).items()}
    resolved = [protocol_name(n) for n in listed]
    for key in given:
        if key not in resolved:
            raise ProtocolError(f"protocol arguments for '{key}' given, but it is not among protocols {resolved}")
    out = []
    for name in resolved:
        try:
            protocol = PROTOCOLS.get(name)(**given.get(name, {}))
        except TypeError as exc:
            raise ProtocolError(f"{name}: {exc}") from None
        if not is_image_protocol(protocol):
            raise ProtocolError(f"protocols: '{name}' scores transformed tensors; use single, ten or multi")
        out.append(protocol)
    return out


def check_multi_scale(model: nn.Module, protocol: ImageProtocol, device: str | torch.device = "cpu") -> None:
    """Raise :class:`ProtocolError` now, before any evaluation, if ``model`` cannot score whole images.

    Checks for adaptive pools to fixed grids, then runs a probe ``(1, C, s, round(4s/3) + 1)`` at the smallest scale
    ``s`` (a non-square size, as real images are), which a fixed-size head fails.
    """
    check_fully_convolutional(model, protocol.name)
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    channels = conv.in_channels if conv is not None else 3
    s = min(protocol.params().get("scales", [224]))
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None else torch.float32
    probe = torch.zeros(1, channels, s, round(4 * s / 3) + 1, device=device, dtype=dtype)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model_logits(model.to(device), probe, protocol=protocol.name)
    finally:
        model.train(was_training)


def check_protocols(model: nn.Module, protocols: Sequence[ImageProtocol], device: str | torch.device = "cpu") -> None:
    """Run :func:`check_multi_scale` for every protocol that takes whole images at several scales."""
    for p in protocols:
        if "scales" in p.params():
            check_multi_scale(model, p, device)


def _views_per_image(protocol: ImageProtocol) -> int | None:
    try:
        return len(protocol.boxes(2048, 1536))
    except (ScrutinyError, ValueError):
        return None


def as_protocols(protocols: str | Sequence[Any]) -> list[ImageProtocol]:
    """Protocol objects from names (``"single,ten"``, a list of names) or objects, which pass through."""
    if isinstance(protocols, str):
        return build_protocols(protocols)
    out: list[ImageProtocol] = []
    for p in protocols:
        if isinstance(p, str) or not is_image_protocol(p):
            out.append(build_protocols([p])[0])
        else:
            out.append(p)
    return out


def run_protocol(
    model: nn.Module,
    folder: str | Path,
    protocol: ImageProtocol,
    *,
    batch_size: int = 32,
    device: torch.device = torch.device("cpu"),
    progress: bool = True,
    num_workers: int = 0,
    keep_predictions: bool = False,
) -> ProtocolRun:
    """Evaluate ``model`` (already on ``device``) on a folder of class folders under one protocol, timed."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    result = evaluate_imagefolder(
        model,
        Path(folder),
        protocol,
        batch_size=batch_size,
        device=device,
        progress=progress,
        save_predictions=keep_predictions,
        num_workers=num_workers,
    )
    return ProtocolRun(result, time.perf_counter() - t0, _views_per_image(protocol))


def evaluate_protocols(
    model: nn.Module,
    folder: str | Path,
    protocols: str | Sequence[Any],
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    progress: bool = True,
    num_workers: int = 0,
    keep_predictions: bool = False,
) -> list[ProtocolRun]:
    """Top-1/top-5 error and speed of ``model`` on a folder of class folders under each protocol, in order.

    Args:
        model: Classifier with its weights loaded; ``(N, C, H, W) -> (N, K)``.
        folder: The folder of class folders.
        protocols: Names (``"single,ten,multi"``) or protocol objects.
        batch_size: Images per step (views per step = ``batch_size`` × views per image).
        device: ``auto``, ``cpu``, ``cuda``.
        progress: Print progress to stderr.
        num_workers: DataLoader processes for reading and cutting images.
        keep_predictions: Keep the per-example predictions in each result (``result.predictions``).

    Returns:
        One :class:`ProtocolRun` per protocol.

    Raises:
        ProtocolError: A protocol that the model cannot run (checked for every protocol before any evaluation).
    """
    objs = as_protocols(protocols)
    dev = resolve_device(device)
    model.to(dev)
    check_protocols(model, objs, dev)  # fail before any work
    run = partial(
        run_protocol,
        batch_size=batch_size,
        device=dev,
        progress=progress,
        num_workers=num_workers,
        keep_predictions=keep_predictions,
    )
    return [run(model, folder, p) for p in objs]
