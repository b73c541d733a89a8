"""Load a local state_dict into a built model, strictly, with one-line errors.

A building block shared by :func:`scrutiny.models.build_model` (a spec's ``model.weights``), the ``eval`` and
``invariance`` workflows and the data audit's embedding model. Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from scrutiny.errors import CheckpointError

_PREFIXES = ("module.", "_orig_mod.")


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

    Args:
        model: The built model; its parameters and buffers are replaced in place.
        path: A ``torch.save``'d state_dict or checkpoint, read with ``weights_only=True``.

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
