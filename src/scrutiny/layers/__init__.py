"""Small ``nn.Module``s for contested operations, with explicit typed arguments and no config objects."""

from scrutiny.layers.activations import ACTIVATIONS, GAMMA_TABLE, published_gamma
from scrutiny.layers.coordconv import AddCoords, CoordConv2d, PointwiseConv
from scrutiny.layers.perturb import PerturbLayer, draw_masks
from scrutiny.layers.scaled_ws import ScaledStdConv2d

__all__ = [
    "ACTIVATIONS",
    "GAMMA_TABLE",
    "AddCoords",
    "CoordConv2d",
    "PerturbLayer",
    "PointwiseConv",
    "ScaledStdConv2d",
    "draw_masks",
    "published_gamma",
]
