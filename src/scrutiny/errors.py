"""User-facing errors: each renders as one line that names the file and the key or path.

The command line prints ``str(error)`` and exits with :attr:`ScrutinyError.exit_code`; it never shows a
traceback for these. Programming errors are not wrapped and keep their traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ScrutinyError(Exception):
    """Base of every error caused by user input (a spec, a path, a name, a file)."""

    exit_code = 2


class SpecError(ScrutinyError):
    """A spec that cannot be read or validated: ``<source>: <dotted.key>: <message>``."""

    def __init__(self, source: str, key: str | None, message: str) -> None:
        self.source, self.key, self.message = source, key, message
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(where + message)


class RegistryError(ScrutinyError):
    """An unknown or duplicate name in a registry."""


class StoreError(ScrutinyError):
    """A trial store, trial folder or record that is missing or unreadable."""


class CheckpointError(ScrutinyError):
    """A checkpoint file that is missing, truncated or not a state_dict."""


class DataError(ScrutinyError):
    """A dataset that is missing or malformed; the message says how to get it."""


def suggest(name: str, candidates: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest candidate, or an empty string."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""
