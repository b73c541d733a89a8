"""Seeds: one root seed per trial derives an independent seed for each random stream.

Streams:
    init: parameter initialisation (the global torch generator while the model is built);
    data_order: the order of training examples (a dedicated ``torch.Generator``);
    augment: training augmentation, seeded per (epoch, example) from this stream's seed;
    dropout: the global torch generator during training (dropout and other in-model randomness);
    eval: randomness in evaluation, for protocols that need any.

Each stream's seed is the first 63 bits of SHA-256("<root>:<stream>"), so changing one stream's use leaves
every other stream's numbers as they were.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from scrutiny.spec.seeds import MAX_SEED, MAX_SEEDS, parse_seeds  # re-exported: defined with the specs they serve

STREAMS = ("init", "data_order", "augment", "dropout", "eval")
__all__ = ["MAX_SEED", "MAX_SEEDS", "STREAMS", "TrialSeeds", "derive_seed", "parse_seeds"]


def derive_seed(seed: int, stream: str) -> int:
    """A 63-bit seed for ``stream`` derived from the trial's root ``seed``."""
    digest = hashlib.sha256(f"{seed}:{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


@dataclass(frozen=True)
class TrialSeeds:
    """The root seed and the derived seed of every stream."""

    root: int
    init: int
    data_order: int
    augment: int
    dropout: int
    eval: int

    @classmethod
    def from_root(cls, seed: int) -> TrialSeeds:
        return cls(root=seed, **{stream: derive_seed(seed, stream) for stream in STREAMS})

    def to_dict(self) -> dict[str, int]:
        return asdict(self)
