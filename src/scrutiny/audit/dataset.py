"""Which data a duplicates audit reads: a registered dataset by name (and root), or a spec's ``data`` section."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from scrutiny.data import DataBundle
from scrutiny.errors import DataError, ScrutinyError, suggest
from scrutiny.registry import DATASETS


def parse_data(data: str) -> tuple[str, str | None]:
    """``"digits"`` -> ``("digits", None)``; ``"imagefolder:/data/x"`` -> ``("imagefolder", "/data/x")``.

    A ``name:rest`` whose ``name`` is not a registered dataset is kept whole (a ``package.module:builder``).
    """
    name, sep, rest = data.partition(":")
    if sep and name in DATASETS:
        return name, rest or None
    return data, None


def build_dataset(name: str, root: str | None = None, args: dict[str, Any] | None = None) -> DataBundle:
    """Call the dataset builder ``name`` with ``root`` and ``args``; an unknown argument is a one-line error."""
    builder = DATASETS.get(name)
    args = dict(args or {})
    params: Mapping[str, inspect.Parameter]
    try:
        params = inspect.signature(builder).parameters
    except (TypeError, ValueError):
        params = {}
    if params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        for key in args:
            if key not in params:
                known = [k for k in params if k != "root"]
                raise DataError(f"data.{key}: not an argument of dataset '{name}'{suggest(key, known)}")
    try:
        return builder(root=root, **args)
    except TypeError as exc:
        raise DataError(f"data: dataset '{name}' rejected its arguments ({exc})") from None


def data_overrides(overrides: list[str]) -> dict[str, Any]:
    """``["size=16", "data.channels=3"]`` -> ``{"size": 16, "channels": 3}`` (values read as YAML)."""
    from scrutiny.spec.load import parse_override

    out: dict[str, Any] = {}
    for text in overrides:
        parts, value = parse_override(text)
        if parts[0] == "data":
            parts = parts[1:]
        if len(parts) != 1:
            raise ScrutinyError(f"overrides: expected a data argument such as size=16, got {text!r}")
        out[parts[0]] = value
    return out


def spec_data(spec) -> tuple[str, str | None, dict[str, Any]]:
    """``(name, root, builder arguments)`` of a resolved spec's ``data`` section."""
    return spec.data.name, spec.data.root, spec.data.kwargs


def pick_splits(available: dict[str, Any], splits: list[str] | None) -> tuple[str, list[str]]:
    """``(reference, audited)``: the first of ``splits`` is the reference; default ``train`` and every other split.

    Splits that only re-hold another split's images for augmentation (``train_raw``, ``val_raw``) are skipped.
    """
    if splits:
        for s in splits:
            if s not in available:
                raise DataError(f"splits: split '{s}' does not exist; this dataset has {sorted(available)}")
        if len(set(splits)) != len(splits):
            raise ScrutinyError(f"splits: a split is named twice in {splits}")
        return splits[0], splits[1:]
    names = [s for s in available if not s.endswith("_raw")]
    reference = "train" if "train" in names else names[0]
    return reference, [s for s in names if s != reference]
