"""The facts of a dataset that a model builder is given: one dict, assembled in one place."""

from __future__ import annotations

from typing import Any

from scrutiny.registry import CONTEXT_ARGS


def model_context(bundle: Any) -> dict[str, Any]:
    """``num_classes``, ``in_channels`` and ``image_size`` of a dataset, for :func:`scrutiny.models.build_model`.

    Args:
        bundle: A :class:`scrutiny.data.DataBundle` (or anything with those attributes).

    Returns:
        ``{name: value}`` for every name in :data:`scrutiny.registry.CONTEXT_ARGS`, ``None`` values included (an
        ``image_size`` of ``None`` means that the sizes vary).
    """
    return {key: getattr(bundle, key) for key in CONTEXT_ARGS}
