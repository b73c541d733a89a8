"""The facts of a dataset that a model builder is given: one dict, assembled in one place."""

from __future__ import annotations

from typing import Any, Protocol

from scrutiny.registry import CONTEXT_ARGS


class DatasetFacts(Protocol):
    """What a model builder is told of its dataset (a :class:`scrutiny.data.DataBundle` has these)."""

    @property
    def num_classes(self) -> int: ...

    @property
    def in_channels(self) -> int: ...

    @property
    def image_size(self) -> tuple[int, int] | None: ...


def model_context(bundle: DatasetFacts) -> dict[str, Any]:
    """``num_classes``, ``in_channels`` and ``image_size`` of a dataset, for :func:`scrutiny.models.build_model`.

    Args:
        bundle: A :class:`scrutiny.data.DataBundle` (or anything with those attributes).

    Returns:
        ``{name: value}`` for every name in :data:`scrutiny.registry.CONTEXT_ARGS`, ``None`` values included (an
        ``image_size`` of ``None`` means that the sizes vary).
    """
    return {key: getattr(bundle, key) for key in CONTEXT_ARGS}
