"""Evaluate a model with given weights on a class-folder dataset under several image protocols (``scrutiny eval``).

The pieces are separate so that each can be used and tested alone: :func:`resolve_data` (``imagefolder:ROOT`` ->
the folder of class folders), :func:`resolve_weights` (a file, a trial folder, or a trial id in a store),
:func:`load_weights` (strict, with one-line errors), :func:`check_multi_scale` (fails before any work when the
model cannot take whole images), and :func:`evaluate_protocols`, which runs
:func:`~scrutiny.protocols.evaluate_imagefolder` once per protocol and times it. Nothing is downloaded.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from scrutiny.errors import CheckpointError, DataError, ScrutinyError
from scrutiny.protocols._base import ImageProtocol, ProtocolError, is_image_protocol
from scrutiny.protocols._image import model_logits
from scrutiny.protocols.imagefolder_eval import EvalResult, evaluate_imagefolder
from scrutiny.protocols.multiscale import check_fully_convolutional
from scrutiny.registry import PROTOCOLS

ALIASES = {"single": "single_crop", "ten": "ten_crop", "multi": "multi_scale"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
_PREFIXES = ("module.", "_orig_mod.")


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
class ProtocolRun:
    """One protocol's result and its speed.

    Attributes:
        result: Exact counts and errors, with the protocol's name and resolved parameters.
        seconds: Wall time of the evaluation (reading, decoding, resizing and the model).
        views_per_image: Network inputs per image (1, 10, or scales × flips).
        predictions: Where the per-example predictions were saved, if asked.
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
    """
    listed = [n for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    if not listed:
        raise ProtocolError("protocols: expected at least one of single, ten, multi")
    given = {protocol_name(k): v for k, v in (args or {}).items()}
    resolved = [protocol_name(n) for n in listed]
    for key in given:
        if key not in resolved:
            raise ProtocolError(f"protocol arguments for '{key}' given, but it is not among --protocols {resolved}")
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


def resolve_data(data: str | Path) -> DataSource:
    """``imagefolder:ROOT`` -> ROOT/val if it exists, else ROOT itself as the folder of class folders."""
    text = str(data)
    scheme, sep, rest = text.partition(":")
    if not sep or scheme != "imagefolder" or not rest:
        raise DataError(f"--data: expected imagefolder:ROOT, got {text!r}")
    root = Path(rest).expanduser()
    if not root.is_dir():
        raise DataError(f"--data: '{root}' does not exist or is not a folder")
    if (root / "val").is_dir():
        return DataSource(root, root / "val", "val")
    subdirs = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not subdirs:
        raise DataError(f"--data: '{root}' has neither val/ nor class folders")
    if "train" in subdirs:
        raise DataError(f"--data: '{root}' has train/ but no val/; point --data at the folder of class folders")
    return DataSource(root, root, "root")


def resolve_weights(weights: str | Path, store: str | Path | None = None) -> tuple[Path, str]:
    """The checkpoint file of ``weights``: a file, a trial folder (``checkpoint.pt``), or a trial id in ``store``.

    Returns:
        ``(path, source)`` with ``source`` one of ``"file"``, ``"trial folder"``, ``"trial <id>"``.
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
    where = f", nor a trial in store '{store}'" if store is not None else " (give --store DIR for a trial id)"
    raise CheckpointError(f"{weights}: weights file not found{where}")


def _state_dict(state: dict[str, Any], path: Path) -> tuple[dict[str, torch.Tensor], str]:
    fmt = "state_dict"
    for key in ("model", "state_dict"):
        if isinstance(state.get(key), dict):
            state, fmt = state[key], f"checkpoint['{key}']"
            break
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{path}: not a state_dict ({len(bad)} non-tensor entries, e.g. '{bad[0]}')")
    for prefix in _PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state, fmt = {k[len(prefix) :]: v for k, v in state.items()}, f"{fmt}, '{prefix}' prefix removed"
    return state, fmt


def load_weights(model: nn.Module, path: str | Path) -> str:
    """Load a state_dict (or a checkpoint holding one under ``model``/``state_dict``) into ``model``, strictly.

    Returns:
        How the file was read, e.g. ``"checkpoint['model']"``.

    Raises:
        CheckpointError: Missing or corrupt file; missing, unexpected or mis-shaped keys (one line, first few named).
    """
    from scrutiny.store.checkpoint import load_checkpoint

    path = Path(path)
    state, fmt = _state_dict(load_checkpoint(path), path)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})")
    if unexpected:
        problems.append(
            f"{len(unexpected)} unexpected keys ({', '.join(unexpected[:3])}{', ...' if len(unexpected) > 3 else ''})"
        )
    for k in shapes[:2]:
        hint = ""
        if k.endswith("weight") and state[k].ndim == 2 and state[k].shape[1] == own[k].shape[1]:
            hint = f"; set model.num_classes={state[k].shape[0]}"
        problems.append(f"{k}: shape {tuple(state[k].shape)} in the file, {tuple(own[k].shape)} in the model{hint}")
    if problems:
        raise CheckpointError(f"{path}: does not fit the model: " + "; ".join(problems))
    model.load_state_dict(state, strict=True)
    return fmt


def resolve_device(device: str | torch.device) -> torch.device:
    """``auto`` -> CUDA if available else CPU; ``cuda`` without a GPU raises."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ScrutinyError("--device: cuda requested but no CUDA device is available")
    return torch.device(device)


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


def _views_per_image(protocol: ImageProtocol) -> int | None:
    try:
        return len(protocol.boxes(2048, 1536))
    except (ScrutinyError, ValueError):
        return None


def evaluate_protocols(
    model: nn.Module,
    data: str | Path | DataSource,
    protocols: str | Sequence[Any],
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    save_predictions: str | Path | None = None,
    progress: bool = True,
    num_workers: int = 0,
) -> list[ProtocolRun]:
    """Top-1/top-5 error and speed of ``model`` on a class-folder dataset under each protocol, in order.

    Args:
        model: Classifier with its weights loaded; ``(N, C, H, W) -> (N, K)``.
        data: ``imagefolder:ROOT``, a :class:`DataSource`, or a folder of class folders.
        protocols: Names (``"single,ten,multi"``) or protocol objects.
        batch_size: Images per step (views per step = ``batch_size`` × views per image).
        device: ``auto``, ``cpu``, ``cuda``.
        save_predictions: Folder for ``<protocol>.npz`` (paths, targets, top-k classes and scores) per protocol.
        progress: Print progress to stderr.
        num_workers: DataLoader processes for reading and cutting images.

    Returns:
        One :class:`ProtocolRun` per protocol.
    """
    if isinstance(data, DataSource):
        folder = data.folder
    elif isinstance(data, str) and data.startswith("imagefolder:"):
        folder = resolve_data(data).folder
    else:
        folder = Path(data)
    if isinstance(protocols, str):
        objs = build_protocols(protocols)
    else:
        objs = [p if is_image_protocol(p) else build_protocols([p])[0] for p in protocols]
    device = resolve_device(device)
    model.to(device)
    for p in objs:  # fail before any work
        if "scales" in p.params():
            check_multi_scale(model, p, device)
    out_dir = None
    if save_predictions is not None:
        out_dir = Path(save_predictions)
        out_dir.mkdir(parents=True, exist_ok=True)
    runs = []
    for p in objs:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        result = evaluate_imagefolder(
            model,
            folder,
            p,
            batch_size=batch_size,
            device=device,
            progress=progress,
            save_predictions=out_dir is not None,
            num_workers=num_workers,
        )
        seconds = time.perf_counter() - t0
        saved = None
        if out_dir is not None and result.predictions is not None:
            saved = _save(out_dir, result)
        runs.append(ProtocolRun(result, seconds, _views_per_image(p), saved))
    return runs


def _save(out_dir: Path, result: EvalResult) -> Path:
    import numpy as np

    from scrutiny.store._atomic import write_atomic, write_json

    path = out_dir / f"{result.protocol}.npz"
    arrays = result.predictions.arrays()  # type: ignore[union-attr]
    write_atomic(path, lambda fh: np.savez(fh, **arrays))
    write_json(out_dir / f"{result.protocol}.json", result.to_dict())
    return path
