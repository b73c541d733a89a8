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

STREAMS = ("init", "data_order", "augment", "dropout", "eval")


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


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"0,3,7"`` -> [0, 3, 7]; ``"0-2,9"`` -> [0, 1, 2, 9].

    Order is kept and repeats are dropped.
    """
    import re

    from scrutiny.errors import ScrutinyError

    seeds: list[int] = []
    for part in str(text).split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if match is None or (match[2] is not None and int(match[2]) < int(match[1])):
            raise ScrutinyError(f"--seeds: expected non-negative seeds like '0-4' or '0,3,7', got {text!r}")
        lo = int(match[1])
        seeds.extend(range(lo, int(match[2]) + 1) if match[2] is not None else [lo])
    return list(dict.fromkeys(seeds))
