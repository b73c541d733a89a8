"""Reading checkpoints safely: ``torch.load(..., weights_only=True)``, with one-line errors naming the file.

A checkpoint written by a trial has a ``<name>.sha256`` beside it (``sha256sum`` format); when that file exists the
checkpoint's bytes are checked against it before they are unpickled, so a corrupted file fails loudly instead of
loading altered weights. Only regular files are read.
"""

from __future__ import annotations

import hmac
import os
import stat
from pathlib import Path
from typing import Any

from scrutiny.errors import CheckpointError
from scrutiny.store._writer import DIGEST_SUFFIX, file_sha256


def expected_digest(path: Path) -> str | None:
    """The digest recorded beside ``path``, or ``None`` when there is no ``.sha256`` file."""
    side = path.with_name(path.name + DIGEST_SUFFIX)
    if not side.is_file():
        return None
    try:
        word = side.read_text(errors="replace")[:200].split()
    except OSError as exc:
        raise CheckpointError(f"{side}: cannot read ({exc.strerror})") from None
    if not word or len(word[0]) != 64 or any(c not in "0123456789abcdef" for c in word[0].lower()):
        raise CheckpointError(f"{side}: not a SHA-256 digest file")
    return word[0].lower()


def verify_checkpoint(path: str | Path) -> bool:
    """Check ``path`` against its ``.sha256`` file; return whether there was one to check.

    Raises:
        CheckpointError: The bytes do not match the recorded digest.
    """
    path = Path(path)
    expected = expected_digest(path)
    if expected is None:
        return False
    actual = file_sha256(path)
    if not hmac.compare_digest(actual, expected):
        raise CheckpointError(
            f"{path}: SHA-256 {actual[:16]}… does not match {expected[:16]}… recorded when it was written "
            "(the file is corrupt or was changed)"
        )
    return True


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> dict[str, Any]:
    """Load a scrutiny checkpoint (``{"model": state_dict, ...}``) or a bare state_dict.

    Raises:
        CheckpointError: The file is missing, not a regular file, truncated, not a torch file, does not match its
            recorded SHA-256, or holds something other than tensors.
    """
    import torch

    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint not found") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise CheckpointError(f"{path}: not a regular file")
    verify_checkpoint(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for foreign bytes (IndexError for text, among others)
        text = str(exc).strip()
        reason = text.splitlines()[0][:200] if text else type(exc).__name__
        raise CheckpointError(f"{path}: corrupt or unsafe checkpoint ({reason})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a state_dict or a dict with 'model', got {type(state).__name__}")
    return state
