"""Build a model from a resolved ``model`` spec section and the dataset's facts."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from scrutiny.registry import CONTEXT_ARGS, MODELS


def build_model(section: dict[str, Any], context: dict[str, Any], *, trust_code: bool = True) -> nn.Module:
    """Call the builder named by ``section['name']`` with the section's arguments plus the context it accepts.

    Args:
        section: The resolved ``model`` section: ``name`` and keyword arguments.
        context: Facts from the dataset (``num_classes``, ``in_channels``, ``image_size``).
        trust_code: Allow a ``package.module:callable`` name outside scrutiny. Pass False when the section comes
            from stored data (a trial folder's ``spec.json``): such a name raises
            :class:`~scrutiny.registry.UntrustedCodeError` before anything is imported.

    ``section['weights']``, when set, is a local state_dict file loaded strictly into the built model.
    """
    kwargs = {k: v for k, v in section.items() if k not in ("name", "weights")}
    builder = MODELS.get(section["name"], trust_code=trust_code)
    params: Mapping[str, inspect.Parameter]
    try:
        params = inspect.signature(builder).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    except (TypeError, ValueError):
        params, takes_any = {}, True
    for key in CONTEXT_ARGS:
        if key in context and key not in kwargs and (key in params or (takes_any and key == "num_classes")):
            kwargs[key] = context[key]
    model = builder(**kwargs)
    if section.get("weights"):
        from scrutiny.models.weights import load_weights

        load_weights(model, Path(section["weights"]).expanduser())
    return model
