"""The model zoo: builders registered in :data:`scrutiny.registry.MODELS`, one file per paper family.

A builder takes keyword-only arguments. The arguments ``num_classes``, ``in_channels`` and ``image_size`` are
filled from the dataset when the builder accepts them and the spec does not set them.
"""

from scrutiny.models import (  # noqa: F401  (registration)
    adapters,
    coordconv,
    nf_resnet,
    pnn,
    preact_resnet,
    resnet_cifar,
    small_cnn,
)
from scrutiny.models._build import CONTEXT_ARGS, build_model

__all__ = ["CONTEXT_ARGS", "build_model"]
