"""Small ``nn.Module``s for contested operations, with explicit typed arguments and no config objects."""

from scrutiny.layers.perturb import PerturbLayer, draw_masks
from scrutiny.layers.scaled_ws import ScaledStdConv2d

__all__ = ["PerturbLayer", "ScaledStdConv2d", "draw_masks"]
