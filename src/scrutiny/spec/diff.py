"""Differences between two resolved specs, leaf by leaf."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scrutiny.spec.identity import NOT_IDENTITY
from scrutiny.spec.schema import Spec


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


ABSENT = _Absent()


@dataclass(frozen=True)
class Difference:
    """One differing leaf: its dotted key, and the value in ``a`` and in ``b`` (:data:`ABSENT` if missing)."""

    key: str
    a: Any
    b: Any


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"optim": {"lr": 0.1}}`` -> ``{"optim.lr": 0.1}``; lists and empty mappings are leaves."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def diff(a: Spec, b: Spec, *, include_labels: bool = False) -> list[Difference]:
    """Every leaf key whose value differs between the resolved specs ``a`` and ``b``, in key order.

    ``label`` and ``description`` are skipped unless ``include_labels``.
    """
    fa, fb = flatten(a.to_dict()), flatten(b.to_dict())
    out = []
    for key in sorted(set(fa) | set(fb)):
        if not include_labels and key.split(".")[0] in NOT_IDENTITY:
            continue
        va, vb = fa.get(key, ABSENT), fb.get(key, ABSENT)
        if va != vb or type(va) is not type(vb) and not (isinstance(va, int | float) and isinstance(vb, int | float)):
            out.append(Difference(key, va, vb))
    return out
