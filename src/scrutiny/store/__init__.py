"""The trial store: one folder per trial, atomic writes, plain JSON / JSON-lines / npz / state_dict files."""

from scrutiny.store.checkpoint import load_checkpoint, verify_checkpoint
from scrutiny.store.store import (
    DEFAULT_STORE,
    SCHEMA_VERSION,
    Store,
    TrialBusyError,
    TrialFinishedError,
    TrialWriter,
)

__all__ = [
    "DEFAULT_STORE",
    "SCHEMA_VERSION",
    "Store",
    "TrialBusyError",
    "TrialFinishedError",
    "TrialWriter",
    "load_checkpoint",
    "verify_checkpoint",
]
