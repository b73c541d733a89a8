"""Names that moved, kept importable for callers not yet updated; delete once none imports this module.

The ``eval`` command's back end is :mod:`scrutiny.workflows.evaluate`; building protocols from names and the
whole-image check are :mod:`scrutiny.protocols.suite`; loading weights is :mod:`scrutiny.models.weights`; device
resolution is :mod:`scrutiny.device`. Nothing here reads or writes the store.
"""

from scrutiny.device import resolve_device
from scrutiny.models.weights import load_weights
from scrutiny.protocols.suite import build_protocols, check_multi_scale, protocol_name

__all__ = ["build_protocols", "check_multi_scale", "load_weights", "protocol_name", "resolve_device"]
