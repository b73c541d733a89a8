"""Telling a fault of the environment (full disk, read-only file system) from a failure of the trial itself.

A trial that fails because the machine could not store its files says nothing about the setup: it is recorded as
a fault (``fault.json``, no final record), so that it stays incomplete and runs again once the cause is fixed.
"""

from __future__ import annotations

import errno

ENVIRONMENT_ERRNOS = {
    errno.ENOSPC: "no space left on device",
    errno.EROFS: "read-only file system",
    errno.EDQUOT: "disk quota exceeded",
    errno.EIO: "input/output error",
    errno.EMFILE: "too many open files",
    errno.ENFILE: "too many open files in the system",
}
# torch.save reports a failed write as RuntimeError("[enforce fail at inline_container.cc:...] ... file write failed")
_TORCH_WRITE_FAILURES = ("file write failed", "No space left on device", "PytorchStreamWriter failed")


def environment_fault(exc: BaseException) -> str | None:
    """A short cause if ``exc`` (or an exception it chains) comes from the environment, else ``None``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in ENVIRONMENT_ERRNOS:
            where = f" ({current.filename})" if current.filename else ""
            return f"{ENVIRONMENT_ERRNOS[current.errno]}{where}"
        if isinstance(current, RuntimeError) and any(s in str(current) for s in _TORCH_WRITE_FAILURES):
            return "a checkpoint write failed (likely no space left on device)"
        current = current.__cause__ or current.__context__
    return None


def interrupted(exc: SystemExit) -> bool:
    """Whether a ``SystemExit`` ends the process from outside the trial rather than from the trial's own code.

    Ray ends a worker (its driver died, its task was force-cancelled, it got SIGTERM) by raising ``SystemExit``
    with a ``ray_terminate_msg`` attribute in the running task; that trial was interrupted, not failed, and must
    stay incomplete so that the next run runs it. A ``sys.exit()`` in model or data code is a failed trial.
    """
    return hasattr(exc, "ray_terminate_msg")
