"""Dataset builders, registered in :data:`scrutiny.registry.DATASETS`.

A builder takes keyword arguments from the spec's ``data`` section (``root`` included) and returns a
:class:`DataBundle`. Importing this package registers the built-in datasets.
"""

from scrutiny._discover import import_submodules
from scrutiny.data._bundle import DataBundle
from scrutiny.data.augment import AugmentedDataset, RandomCropFlip

import_submodules(__name__)  # registers every dataset builder (one file each)

__all__ = ["AugmentedDataset", "DataBundle", "RandomCropFlip"]
