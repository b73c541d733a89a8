"""Hash every image of a split in chunks: a 16-byte digest of its decoded pixels and its 64-bit pHash.

Only the hashes are kept (24 bytes an image), so a folder of any size streams through. An image that cannot be
decoded is named, counted and skipped: its entry is marked invalid and no detector matches it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from scrutiny.audit.images import _UNREADABLE, ArraySource, PixelSource
from scrutiny.audit.phash import DCT_SIDE, gray32, gray_from_rgb, phash_gray32


@dataclass
class SplitHashes:
    """The hashes of one split.

    Attributes:
        phash: pHash of each image, uint64 ``(n,)`` (0 where invalid).
        digests: BLAKE2b digest of each image's decoded pixels (``b""`` where invalid), length ``n``.
        valid: Whether each image was read, bool ``(n,)``.
        skipped: ``{"index", "name", "reason"}`` of each image that could not be read.
    """

    split: str
    n: int
    phash: np.ndarray
    digests: list[bytes]
    valid: np.ndarray
    skipped: list[dict] = field(default_factory=list)


def hash_source(
    source: PixelSource, *, chunk_size: int = 4096, warn: Callable[[str], None] | None = None
) -> SplitHashes:
    """Hash every image of ``source``; ``warn`` receives one line per unreadable image."""
    n = source.n
    phash = np.zeros(n, dtype=np.uint64)
    valid = np.ones(n, dtype=bool)
    digests: list[bytes] = [b""] * n
    skipped: list[dict] = []
    for idx in source.chunks(chunk_size):
        if isinstance(source, ArraySource):
            _hash_arrays(source, idx, phash, digests)
            continue
        grays, ok = [], []
        for i in idx:
            try:
                pixels, digests[i] = source.read(i)
            except _UNREADABLE as exc:
                valid[i] = False
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                skipped.append({"index": i, "name": source.name(i), "reason": reason[:200]})
                if warn is not None:
                    warn(f"{source.name(i)}: unreadable image ({reason[:200]}); skipped")
                continue
            grays.append(gray32(pixels))
            ok.append(i)
        if ok:
            phash[ok] = phash_gray32(np.stack(grays))
    return SplitHashes(source.split, n, phash, digests, valid, skipped)


def _hash_arrays(source: ArraySource, idx: list[int], phash: np.ndarray, digests: list[bytes]) -> None:
    """In-memory images: one vectorised greyscale conversion and DCT per chunk."""
    sl = slice(idx[0], idx[-1] + 1)
    pixels = source.pixels[sl]
    if pixels.shape[1:3] == (DCT_SIDE, DCT_SIDE):
        gray = gray_from_rgb(pixels) if pixels.ndim == 4 else pixels
    else:
        gray = np.stack([gray32(p) for p in pixels])
    phash[sl] = phash_gray32(gray)
    for i in idx:
        digests[i] = source.read(i)[1]
