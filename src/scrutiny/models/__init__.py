"""The model zoo: builders registered in :data:`scrutiny.registry.MODELS`, one file per paper family.

A builder takes keyword-only arguments. The arguments ``num_classes``, ``in_channels`` and ``image_size``
(:data:`CONTEXT_ARGS`) are filled from the dataset (:func:`model_context`) when the builder accepts them and the spec
does not set them.
"""

from scrutiny._discover import import_submodules
from scrutiny.models._build import build_model
from scrutiny.models._context import model_context
from scrutiny.registry import CONTEXT_ARGS

import_submodules(__name__)  # registers every model family (one file each)

__all__ = ["CONTEXT_ARGS", "build_model", "model_context"]
