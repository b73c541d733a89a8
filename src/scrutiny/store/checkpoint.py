"""Reading checkpoints safely: ``torch.load(..., weights_only=True)``, with one-line errors naming the file."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

from scrutiny.errors import CheckpointError


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> dict[str, Any]:
    """Load a scrutiny checkpoint (``{"model": state_dict, ...}``) or a bare state_dict.

    Raises:
        CheckpointError: The file is missing, truncated, not a torch file, or holds something other than tensors.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError, ValueError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: corrupt or unsafe checkpoint ({reason[:200]})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a state_dict or a dict with 'model', got {type(state).__name__}")
    return state
