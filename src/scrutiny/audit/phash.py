"""Perceptual hash (pHash) as ``imagehash.phash`` defines it, computed in batches, and Hamming distances.

imagehash 4.3.2 (BSD; Buchner, after Krawetz's "Looks Like It", hackerfactor.com 2011): convert to 8-bit
greyscale (PIL mode ``L``), resize to 32×32 with Lanczos, take the 2-D DCT-II (unnormalised, rows then columns),
keep the 8×8 lowest frequencies (the DC term included), and set a bit where a coefficient is above their median.
The 64 bits are read row by row, the first one most significant, so :func:`to_hex` of a hash equals
``str(imagehash.phash(image))``. Two hashes are compared by the number of bits that differ.

This module is scrutiny's own code: the greyscale conversion is Pillow's fixed-point ITU-R 601-2 luma written in
numpy (``(19595 R + 38470 G + 7471 B + 2**15) >> 16``), the DCT is :func:`scipy.fft.dct` over a batch, and only a
resize of an image that is not already 32×32 goes through Pillow's Lanczos filter (the one imagehash uses).
"""

from __future__ import annotations

import numpy as np

HASH_SIDE = 8  # the hash is the sign pattern of the 8×8 lowest frequencies
DCT_SIDE = 32  # the greyscale image is resized to 32×32 before the DCT
HASH_BITS = HASH_SIDE * HASH_SIDE
_BYTE_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def gray_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """Pillow's ``convert("L")`` of RGB pixels.

    Args:
        rgb: uint8 pixels ``(..., H, W, 3)``.

    Returns:
        uint8 luma ``(..., H, W)``, equal to Pillow's to the bit.
    """
    x = rgb.astype(np.uint32)
    return ((x[..., 0] * 19595 + x[..., 1] * 38470 + x[..., 2] * 7471 + 0x8000) >> 16).astype(np.uint8)


def gray32(image: np.ndarray) -> np.ndarray:
    """One image's 32×32 greyscale input to the DCT.

    Args:
        image: uint8 pixels ``(H, W)`` (greyscale) or ``(H, W, 3)`` (RGB).

    Returns:
        uint8 ``(32, 32)``: the luma, resized with Pillow's Lanczos filter where it is not 32×32 already.
    """
    gray = gray_from_rgb(image) if image.ndim == 3 else np.asarray(image, dtype=np.uint8)
    if gray.shape == (DCT_SIDE, DCT_SIDE):
        return gray
    from PIL import Image

    resized = Image.fromarray(np.ascontiguousarray(gray), mode="L").resize(
        (DCT_SIDE, DCT_SIDE), Image.Resampling.LANCZOS
    )
    return np.asarray(resized, dtype=np.uint8)


def phash_gray32(gray: np.ndarray) -> np.ndarray:
    """pHashes of a batch of 32×32 greyscale images.

    Args:
        gray: uint8 (or float) ``(N, 32, 32)``.

    Returns:
        uint64 ``(N,)``: bit 63 is the coefficient ``(0, 0)``, bit 0 the coefficient ``(7, 7)``.
    """
    from scipy.fft import dct

    gray = np.asarray(gray, dtype=np.float64)
    if gray.ndim != 3 or gray.shape[1:] != (DCT_SIDE, DCT_SIDE):
        raise ValueError(f"gray: expected shape (N, {DCT_SIDE}, {DCT_SIDE}), got {gray.shape}")
    if len(gray) == 0:
        return np.zeros(0, dtype=np.uint64)
    coeffs = dct(dct(gray, axis=1), axis=2)[:, :HASH_SIDE, :HASH_SIDE].reshape(len(gray), HASH_BITS)
    bits = coeffs > np.median(coeffs, axis=1, keepdims=True)
    return np.packbits(bits, axis=1, bitorder="big").view(">u8").ravel().astype(np.uint64)


def phash_images(images: list[np.ndarray]) -> np.ndarray:
    """pHashes ``(N,)`` uint64 of uint8 images ``(H, W)`` or ``(H, W, 3)`` of any sizes."""
    if not images:
        return np.zeros(0, dtype=np.uint64)
    return phash_gray32(np.stack([gray32(im) for im in images]))


def phash_pil(image) -> int:
    """pHash of one PIL image, converted the way imagehash converts it (``convert("L")``, then Lanczos)."""
    from PIL import Image

    gray = image.convert("L")
    if gray.size != (DCT_SIDE, DCT_SIDE):
        gray = gray.resize((DCT_SIDE, DCT_SIDE), Image.Resampling.LANCZOS)
    return int(phash_gray32(np.asarray(gray, dtype=np.uint8)[None])[0])


def to_hex(value: int | np.integer) -> str:
    """The 16 hex digits imagehash prints for a hash."""
    return f"{int(value):016x}"


def popcount(x: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 in ``x`` (any shape), as uint8 of the same shape."""
    x = np.asarray(x, dtype=np.uint64)
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(x)
    return _BYTE_POPCOUNT[x.view(np.uint8)].reshape(*x.shape, 8).sum(axis=-1, dtype=np.uint8)


def hamming(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """Bits that differ between hashes ``a`` and ``b`` (broadcast), uint8."""
    return popcount(np.bitwise_xor(np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64)))
