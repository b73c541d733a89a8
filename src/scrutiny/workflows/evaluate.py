"""Evaluate a model with given weights on a class-folder dataset under several image protocols (``scrutiny eval``).

The pieces are separate so that each can be used and tested alone: :func:`resolve_data` (``imagefolder:ROOT`` ->
the folder of class folders), :func:`resolve_weights` (a file, a trial folder, or a trial id in a store),
:func:`trial_model` (the ``model`` section of the trial that wrote a checkpoint) and :func:`evaluate_weights`, which
builds the model, loads the weights strictly and runs :func:`scrutiny.protocols.evaluate_protocols`' steps, saving
each protocol's predictions as soon as it is done. Nothing is downloaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrutiny.errors import CheckpointError, DataError, ScrutinyError
from scrutiny.protocols.suite import ALIASES, ProtocolRun
from scrutiny.store import DEFAULT_STORE

# the sections an ``overrides`` item may name: the model's arguments, or a protocol's (by name or alias)
OVERRIDE_SECTIONS = {"model", *ALIASES, *ALIASES.values()}


@dataclass(frozen=True)
class DataSource:
    """The folder that is evaluated.

    Attributes:
        root: ``ROOT`` as given.
        folder: The folder of class folders: ``ROOT/val`` when it exists, else ``ROOT``.
        which: ``"val"`` or ``"root"``.
    """

    root: Path
    folder: Path
    which: str

    def describe(self) -> str:
        if self.which == "val":
            return f"evaluating {self.folder} (the val/ split of {self.root})"
        return f"evaluating {self.folder} (its subfolders are the classes; it has no val/)"


@dataclass
class WeightsEvaluation:
    """What :func:`evaluate_weights` measured, and on what.

    Attributes:
        model: The resolved ``model`` section that was built (``name`` plus arguments).
        n_params: Parameters of the built model.
        weights: The checkpoint file that was loaded.
        weights_source: ``"file"``, ``"trial folder"`` or ``"trial <id>"``.
        weights_format: How the file was read, e.g. ``"checkpoint['model']"``.
        data: The evaluated folder.
        device: The device the model ran on.
        runs: One result per protocol, in order.
    """

    model: dict[str, Any]
    n_params: int
    weights: Path
    weights_source: str
    weights_format: str
    data: DataSource
    device: str
    runs: list[ProtocolRun] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": {**self.model, "n_params": self.n_params},
            "weights": {"path": str(self.weights), "source": self.weights_source, "format": self.weights_format},
            "data": {
                "root": str(self.data.root),
                "folder": str(self.data.folder),
                "which": self.data.which,
                "classes": self.runs[0].result.classes if self.runs else [],
            },
            "device": self.device,
            "rows": [r.to_dict() for r in self.runs],
        }


def resolve_data(data: str | Path) -> DataSource:
    """``imagefolder:ROOT`` -> ROOT/val if it exists, else ROOT itself as the folder of class folders.

    Raises:
        DataError: Not ``imagefolder:ROOT``; ROOT missing, without class folders, or with ``train/`` but no ``val/``.
    """
    text = str(data)
    scheme, sep, rest = text.partition(":")
    if not sep or scheme != "imagefolder" or not rest:
        raise DataError(f"data: expected imagefolder:ROOT, got {text!r}")
    root = Path(rest).expanduser()
    if not root.is_dir():
        raise DataError(f"data: '{root}' does not exist or is not a folder")
    if (root / "val").is_dir():
        return DataSource(root, root / "val", "val")
    subdirs = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not subdirs:
        raise DataError(f"data: '{root}' has neither val/ nor class folders")
    if "train" in subdirs:
        raise DataError(f"data: '{root}' has train/ but no val/; point data at the folder of class folders")
    return DataSource(root, root, "root")


def resolve_weights(weights: str | Path, store: str | Path | None = None) -> tuple[Path, str]:
    """The checkpoint file of ``weights``: a file, a trial folder (``checkpoint.pt``), or a trial id in ``store``.

    Returns:
        ``(path, source)`` with ``source`` one of ``"file"``, ``"trial folder"``, ``"trial <id>"``.

    Raises:
        CheckpointError: Nothing found, or a trial without a checkpoint.
    """
    path = Path(weights).expanduser()
    if path.is_file():
        return path, "file"
    if path.is_dir():
        if not (path / "checkpoint.pt").is_file():
            raise CheckpointError(f"{path}: a folder without checkpoint.pt (not a finished trial)")
        return path / "checkpoint.pt", "trial folder"
    if store is not None and Path(store).is_dir() and "/" not in str(weights):
        from scrutiny.store import Store

        tid = Store(store).resolve_id(str(weights))
        ckpt = Path(store) / tid / "checkpoint.pt"
        if not ckpt.is_file():
            raise CheckpointError(f"{ckpt}: trial '{tid}' has no checkpoint (incomplete or failed?)")
        return ckpt, f"trial {tid}"
    where = f", nor a trial in store '{store}'" if store is not None else " (a trial id needs a store)"
    raise CheckpointError(f"{weights}: weights file not found{where}")


def trial_model(checkpoint: Path) -> dict[str, Any] | None:
    """The ``model`` section of the trial that wrote ``checkpoint`` (from its ``spec.json``), if any."""
    spec_file = checkpoint.parent / "spec.json"
    if not spec_file.is_file():  # a FIFO or device planted there is never opened
        return None
    try:
        return json.loads(spec_file.read_text())["spec"]["model"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def split_overrides(items: Sequence[str]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``model.depth=50`` / ``ten.resize=128`` -> model arguments and per-protocol arguments.

    Raises:
        ScrutinyError: An item that names neither ``model`` nor a protocol (``overrides: ...``).
    """
    from scrutiny.spec.load import parse_override

    model: dict[str, Any] = {}
    protocols: dict[str, dict[str, Any]] = {}
    for text in items:
        parts, value = parse_override(text)
        if len(parts) != 2 or parts[0] not in OVERRIDE_SECTIONS:
            raise ScrutinyError(
                f"overrides: expected model.KEY=VALUE or <protocol>.KEY=VALUE with protocol one of "
                f"{sorted(OVERRIDE_SECTIONS - {'model'})}, got {text!r}"
            )
        target = model if parts[0] == "model" else protocols.setdefault(parts[0], {})
        target[parts[1]] = value
    return model, protocols


def evaluate_weights(
    weights: str | Path,
    data: str | Path,
    *,
    model: str | None = None,
    protocols: str | Sequence[str] = "single,ten,multi",
    overrides: Sequence[str] = (),
    batch_size: int = 32,
    device: str = "auto",
    save_predictions: str | Path | None = None,
    num_workers: int = 0,
    store: str | Path | None = DEFAULT_STORE,
    trust_code: bool = False,
    progress: bool = True,
    notify: Callable[[str], None] | None = None,
) -> WeightsEvaluation:
    """Top-1/top-5 error and images/s of a model with local weights under each image protocol.

    Every protocol is checked before any evaluation (a model that cannot take whole images fails the multi-scale
    protocol at once), then each runs in order; with ``save_predictions`` its ``<protocol>.npz`` and
    ``<protocol>.json`` are written as soon as it is done.

    Args:
        weights: A state_dict or checkpoint file, a trial folder, or a trial id (or unique prefix) in ``store``.
        data: ``imagefolder:ROOT``: ``ROOT/val``, or ``ROOT`` itself, holds one folder per class.
        model: Model name, e.g. ``torchvision:resnet50`` (default: the trial's own model when ``weights`` is a trial).
        protocols: ``"single,ten,multi"`` or a list of names (``single_crop``, ``ten_crop``, ``multi_scale`` or
            their aliases).
        overrides: ``model.KEY=VALUE`` (a builder argument) or ``<protocol>.KEY=VALUE`` (e.g. ``ten.resize=288``).
        batch_size: Images per step.
        device: ``auto``, ``cpu`` or ``cuda``.
        save_predictions: Folder for each protocol's per-example predictions.
        num_workers: DataLoader worker processes.
        store: The trial store that a trial id is looked up in.
        trust_code: Let a trial's stored model name import modules outside scrutiny (a store is data).
        progress: Print progress to stderr.
        notify: Called with a line about the data and one about the weights before the evaluation starts.

    Returns:
        The model, the weights, the data and one :class:`~scrutiny.protocols.ProtocolRun` per protocol.

    Raises:
        ScrutinyError: Bad data, weights, model, protocols or overrides (one line naming the parameter); a
            :class:`~scrutiny.protocols.ProtocolError` when the model cannot run a protocol.
    """
    from scrutiny.device import resolve_device
    from scrutiny.models import build_model
    from scrutiny.models.weights import load_weights
    from scrutiny.protocols.suite import build_protocols, check_protocols, run_protocol

    model_args, protocol_args = split_overrides(overrides)
    source = resolve_data(data)
    protocol_objs = build_protocols(protocols, protocol_args)
    ckpt, weights_source = resolve_weights(weights, store)
    context: dict[str, Any] = {}
    section: dict[str, Any] | None = {"name": model} if model else None
    stored = section is None  # the model named by a trial's spec.json: data, not code, unless trusted
    if section is None:
        section = trial_model(ckpt) if weights_source.startswith("trial") else None
        if section is None:
            raise ScrutinyError("model: required (only a trial's checkpoint names its own model)")
        # a trial's model took num_classes from its dataset; the evaluated folder has the same classes
        context["num_classes"] = sum(1 for p in source.folder.iterdir() if p.is_dir())
    section = {**section, **model_args}
    try:
        net = build_model(section, context, trust_code=trust_code or not stored)
    except (TypeError, ValueError) as exc:
        raise ScrutinyError(f"model: {section['name']}: {str(exc).splitlines()[0]}") from None
    fmt = load_weights(net, ckpt)
    dev = resolve_device(device)
    if notify is not None:
        notify(f"data: {source.describe()}")
        notify(f"weights: {ckpt} ({weights_source}, {fmt}); model {section['name']} on {dev}")
    result = WeightsEvaluation(
        section, sum(p.numel() for p in net.parameters()), ckpt, weights_source, fmt, source, str(dev)
    )
    net.to(dev)
    check_protocols(net, protocol_objs, dev)  # fail before any work
    out_dir = None
    if save_predictions is not None:
        out_dir = Path(save_predictions)
        out_dir.mkdir(parents=True, exist_ok=True)
    for p in protocol_objs:
        run = run_protocol(
            net,
            source.folder,
            p,
            batch_size=batch_size,
            device=dev,
            progress=progress,
            num_workers=num_workers,
            keep_predictions=out_dir is not None,
        )
        if out_dir is not None and run.result.predictions is not None:
            run.predictions = save_predictions_file(out_dir, run)
        result.runs.append(run)
    return result


def save_predictions_file(out_dir: Path, run: ProtocolRun) -> Path:
    """Write ``<protocol>.npz`` (paths, targets, top-k classes and scores) and ``<protocol>.json`` in ``out_dir``."""
    import numpy as np

    from scrutiny.store._atomic import write_atomic, write_json

    result = run.result
    path = out_dir / f"{result.protocol}.npz"
    arrays = result.predictions.arrays()  # type: ignore[union-attr]
    write_atomic(path, lambda fh: np.savez(fh, **arrays))
    write_json(out_dir / f"{result.protocol}.json", result.to_dict())
    return path
