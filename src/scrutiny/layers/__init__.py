"""Small ``nn.Module``s for contested operations, with explicit typed arguments and no config objects."""

from scrutiny.layers.perturb import PerturbLayer, draw_masks

__all__ = ["PerturbLayer", "draw_masks"]
