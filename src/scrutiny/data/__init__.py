"""Dataset builders, registered in :data:`scrutiny.registry.DATASETS`.

A builder takes keyword arguments from the spec's ``data`` section (``root`` included) and returns a
:class:`DataBundle`. Importing this package registers the built-in datasets.
"""

from scrutiny.data import cifar, digits, imagefolder, not_so_clevr, synthetic  # noqa: F401  (registration)
from scrutiny.data._bundle import DataBundle
from scrutiny.data.augment import AugmentedDataset, RandomCropFlip

__all__ = ["AugmentedDataset", "DataBundle", "RandomCropFlip"]
