"""Input checks shared by the statistics modules; every error names the function and the parameter."""

from __future__ import annotations

import numbers

import numpy as np

ALTERNATIVES = ("two-sided", "greater", "less")


def as_scores(x: object, fn: str, name: str = "scores", min_runs: int = 1) -> tuple[np.ndarray, bool]:
    """Return ``x`` as a float matrix ``(n_runs, n_tasks)`` and whether the input was 1-D.

    Args:
        x: array-like of shape ``(n_runs,)`` or ``(n_runs, n_tasks)``.
        fn: the public function's name, for the error message.
        name: the parameter's name, for the error message.
        min_runs: the fewest runs accepted.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim not in (1, 2):
        raise ValueError(f"{fn}: {name} must have shape (n_runs,) or (n_runs, n_tasks), got shape {arr.shape}")
    if arr.size == 0 or arr.shape[0] < min_runs:
        raise ValueError(f"{fn}: {name} needs at least {min_runs} run(s), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{fn}: {name} must be finite, got {int(np.sum(~np.isfinite(arr)))} NaN/inf value(s)")
    one_d = arr.ndim == 1
    return (arr[:, None] if one_d else arr), one_d


def as_sample(x: object, fn: str, name: str, min_size: int = 1) -> np.ndarray:
    """Return ``x`` as a finite 1-D float array of shape ``(n,)`` with at least ``min_size`` values."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{fn}: {name} must be 1-D with shape (n,), got shape {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{fn}: {name} needs at least {min_size} value(s), got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{fn}: {name} must be finite, got {int(np.sum(~np.isfinite(arr)))} NaN/inf value(s)")
    return arr


def check_alternative(alternative: str, fn: str) -> str:
    """Return ``alternative`` if it is one of ``two-sided``, ``greater``, ``less``."""
    if alternative not in ALTERNATIVES:
        raise ValueError(f"{fn}: alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    return alternative


def check_probability(value: float, fn: str, name: str) -> float:
    """Return ``value`` as a float strictly between 0 and 1."""
    if not isinstance(value, numbers.Real) or not 0.0 < float(value) < 1.0:
        raise ValueError(f"{fn}: {name} must be in the open interval (0, 1), got {value!r}")
    return float(value)


def check_positive_int(value: object, fn: str, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int that is at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < minimum:
        raise ValueError(f"{fn}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def make_rng(seed: int | np.random.Generator | None, fn: str) -> np.random.Generator:
    """Return a Generator from an int seed or a Generator; never the global state, never an implicit seed.

    The one place where scrutiny turns a ``seed`` argument into a ``numpy.random.Generator`` (exported as
    :func:`scrutiny.stats.make_rng`): a Generator is used as it is, a non-negative int seeds ``default_rng``.

    Args:
        seed: A non-negative int or a ``numpy.random.Generator``.
        fn: The calling function's name, for the error message.

    Raises:
        ValueError: ``seed`` is ``None``, a bool, negative, or not an int.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and int(seed) >= 0:
        return np.random.default_rng(int(seed))
    raise ValueError(f"{fn}: seed must be a non-negative int or a numpy.random.Generator, got {seed!r}")
