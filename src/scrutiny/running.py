"""The trial this process is running, for a data builder whose data depend on another trial's output.

A GIT classifier (:mod:`scrutiny.data.git_augment`) trains on images transformed by a generator that is itself a
trial. The builder asks :func:`ensure_trial` for it; the trial loop (:func:`scrutiny.trials.loop.run_trial`) has
made itself current with :func:`running`, and its :class:`TrialContext` knows how to run that trial in the same
store, wait for the worker running it, or find it complete (:func:`scrutiny.trials.dependencies.run_dependency`).
The builder records what it used with :func:`add_dependency`; the loop writes it as ``depends_on``.

This module sits below the data builders and the trial loop, so that a builder can reach the loop's store without
importing the loop. Outside a trial :func:`current` is ``None`` and a builder does what it does without a store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from scrutiny.errors import DataError


@dataclass
class TrialContext:
    """The trial being run.

    Attributes:
        spec: Its resolved spec.
        store: Its store.
        trial_id: Its id.
        ensure: ``ensure(spec, seed, role)`` makes the trial ``(spec, seed)`` complete in the store; returns its id.
        dependencies: What the trial turned out to use (:func:`add_dependency`), in order.
    """

    spec: Any
    store: Any
    trial_id: str
    ensure: Callable[[Any, int, str], str]
    dependencies: list[dict[str, Any]] = field(default_factory=list)


_CURRENT: ContextVar[TrialContext | None] = ContextVar("scrutiny_trial", default=None)


def current() -> TrialContext | None:
    """The trial this process is running now, or ``None``."""
    return _CURRENT.get()


@contextmanager
def running(ctx: TrialContext | None) -> Iterator[TrialContext | None]:
    """Make ``ctx`` the current trial inside the block (``None``: no trial, as inside a dependency being run)."""
    token = _CURRENT.set(ctx)
    try:
        yield ctx
    finally:
        _CURRENT.reset(token)


def add_dependency(entry: dict[str, Any]) -> None:
    """Record that the current trial used another trial's output (a no-op outside a trial)."""
    ctx = current()
    if ctx is not None and entry not in ctx.dependencies:
        ctx.dependencies.append(entry)


def ensure_trial(spec: Any, seed: int, *, role: str) -> str:
    """Make the trial ``(spec, seed)`` complete in the current trial's store and return its id.

    Raises:
        DataError: One line: outside a trial, or when the dependency cannot be had (see ``TrialContext.ensure``).
    """
    ctx = current()
    if ctx is None:
        raise DataError(f"{role}: a dependency trial can only be run from inside a trial (it needs the trial's store)")
    return ctx.ensure(spec, seed, role)
