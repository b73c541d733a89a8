"""Adapters to other model libraries: ``torchvision:<name>`` and ``timm:<name>``.

Both build the architecture with random weights; nothing is downloaded. Keyword arguments of the spec's
``model`` section go to the library's constructor (``num_classes`` is filled from the dataset).
timm is optional: ``pip install 'scrutiny[timm]'``.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from scrutiny.errors import RegistryError, suggest
from scrutiny.registry import MODELS


def _torchvision(name: str) -> Callable[..., nn.Module]:
    import torchvision

    available = torchvision.models.list_models()
    if name not in available:
        raise RegistryError(f"unknown model 'torchvision:{name}'{suggest(name, available)}")

    def build(**kwargs) -> nn.Module:
        kwargs.pop("weights", None)
        return torchvision.models.get_model(name, weights=None, **kwargs)

    build.__doc__ = f"torchvision.models.{name} with random weights."
    return build


def _timm(name: str) -> Callable[..., nn.Module]:
    try:
        import timm
    except ImportError:
        raise RegistryError(f"model 'timm:{name}' needs timm: pip install 'scrutiny[timm]'") from None
    available = timm.list_models()
    if name not in available:
        raise RegistryError(f"unknown model 'timm:{name}'{suggest(name, available)}")

    def build(**kwargs) -> nn.Module:
        return timm.create_model(name, pretrained=False, **kwargs)

    build.__doc__ = f"timm model {name} with random weights."
    return build


MODELS.add_prefix("torchvision", _torchvision)
MODELS.add_prefix("timm", _timm)
