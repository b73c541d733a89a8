"""Trial locks: ``fcntl.flock`` on a lock file that is never deleted.

Why this cannot have two holders: the kernel grants an exclusive ``flock`` to one open file description at a time,
and releases it when that description is closed, including when its process dies (a crash, SIGKILL, the OOM
killer). So no lock is ever "stale" and nothing has to be taken over by guessing whether a process is alive. The
lock file itself is created once (``O_CREAT`` without ``O_EXCL``) and never unlinked: unlinking a lock file lets a
second process lock a new file of the same name while the first still holds the old one, the race that gave two
holders before.

This module uses only the standard library so that tests can hammer it from many processes cheaply.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path


class LockFile:
    """An exclusive, non-blocking lock on ``path`` (created if missing, never removed).

    Args:
        path: The lock file. A symlink there is refused (``O_NOFOLLOW``), so a planted link cannot make the store
            create or lock a file outside itself.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock if it is free; return whether this object now holds it."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        self._fd = fd
        try:  # who holds it, for humans; the lock itself is the flock, not this text
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.uname().nodename}:{os.getpid()}\n".encode())
        except OSError:
            pass
        return True

    def release(self) -> None:
        """Release the lock (closing the descriptor releases it); a no-op when not held."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def holder(self) -> str:
        """The ``host:pid`` text the last holder wrote (informative only)."""
        try:
            return self.path.read_text(errors="replace").strip()[:100] or "another process"
        except OSError:
            return "another process"


def is_locked(path: str | Path) -> bool:
    """Whether some process holds the lock on ``path`` now (a missing file is unlocked)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return True
        raise
    finally:
        os.close(fd)  # closing also drops the shared lock just taken
    return False
