"""Evaluation protocols, registered in :data:`scrutiny.registry.PROTOCOLS`.

A protocol's name and resolved parameters are stored next to every number it produced. ``plain`` scores tensors
that a dataset already transformed, and ``flip_translate`` adds airbench's mirrored and translated views of them;
the image protocols (``single_crop``, ``ten_crop``, ``multi_scale``) start from raw images and list their geometry
with ``boxes(width, height)``. :mod:`~scrutiny.protocols.suite` runs one model
under several of them; choosing weights and data for the ``eval`` command is :mod:`scrutiny.workflows.evaluate`.
"""

from scrutiny.protocols import plain  # noqa: F401  (registration)
from scrutiny.protocols._base import EvalProtocol, ImageProtocol, ProtocolError, View, is_image_protocol
from scrutiny.protocols.crops import (
    SingleCrop,
    TenCrop,
    center_offset,
    five_boxes,
    single_crop,
    ten_crop,
    ten_crop_views,
)
from scrutiny.protocols.fully_conv import FullyConvolutional, fully_convolutional
from scrutiny.protocols.imagefolder_eval import EvalResult, Predictions, evaluate_imagefolder
from scrutiny.protocols.multiscale import MultiScale, check_fully_convolutional, multi_scale
from scrutiny.protocols.suite import (
    ProtocolRun,
    as_protocols,
    build_protocols,
    check_multi_scale,
    check_protocols,
    evaluate_protocols,
    protocol_name,
    run_protocol,
)
from scrutiny.protocols.tta import FlipTranslate, flip_translate

__all__ = [
    "EvalProtocol",
    "EvalResult",
    "FlipTranslate",
    "FullyConvolutional",
    "ImageProtocol",
    "MultiScale",
    "Predictions",
    "ProtocolError",
    "ProtocolRun",
    "SingleCrop",
    "TenCrop",
    "View",
    "as_protocols",
    "build_protocols",
    "center_offset",
    "check_fully_convolutional",
    "check_multi_scale",
    "check_protocols",
    "evaluate_imagefolder",
    "evaluate_protocols",
    "five_boxes",
    "flip_translate",
    "fully_convolutional",
    "is_image_protocol",
    "multi_scale",
    "protocol_name",
    "run_protocol",
    "single_crop",
    "ten_crop",
    "ten_crop_views",
]
