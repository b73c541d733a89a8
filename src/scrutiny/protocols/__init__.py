"""Evaluation protocols, registered in :data:`scrutiny.registry.PROTOCOLS`.

A protocol's name and resolved parameters are stored next to every number it produced.
"""

from scrutiny.protocols import plain  # noqa: F401  (registration)
