"""scrutiny's pHash agrees with imagehash.phash bit for bit; Hamming distances by popcount match a per-pair loop."""

import imagehash
import numpy as np
from PIL import Image

from scrutiny.audit.neighbours import hamming_search
from scrutiny.audit.phash import gray_from_rgb, hamming, phash_images, phash_pil, to_hex
from scrutiny.audit.planted import base_images


def _sample_images(rng):
    images = list(base_images(40, rng))  # 32x32 RGB: the batched path without resizing
    for _ in range(40):  # other sizes and greyscale: Lanczos resize first
        h, w = rng.integers(8, 90, 2)
        big = np.asarray(Image.fromarray(base_images(1, rng)[0]).resize((int(w), int(h)), Image.Resampling.BICUBIC))
        images.append(big if rng.random() < 0.5 else big[..., 0].copy())
    return images


def test_phash_agrees_with_imagehash_bit_for_bit():
    images = _sample_images(np.random.default_rng(0))
    ours = phash_images(images)
    for im, h in zip(images, ours, strict=True):
        theirs = str(imagehash.phash(Image.fromarray(im)))
        assert to_hex(h) == theirs
        assert to_hex(phash_pil(Image.fromarray(im))) == theirs
    assert len({int(h) for h in ours}) > 70  # distinct images, distinct hashes: the comparison is not vacuous


def test_gray_matches_pillow():
    rgb = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert np.array_equal(gray_from_rgb(rgb), np.asarray(Image.fromarray(rgb).convert("L")))


def test_hamming_search_matches_a_per_pair_loop():
    rng = np.random.default_rng(2)
    ref = rng.integers(0, 2**63, 300, dtype=np.uint64)
    query = ref[rng.integers(0, 300, 60)] ^ (np.uint64(1) << rng.integers(0, 63, 60).astype(np.uint64))
    m = hamming_search(query, ref, 26, max_matches=10**6, block=17)
    loop = {(i, j) for i in range(60) for j in range(300) if bin(int(query[i]) ^ int(ref[j])).count("1") <= 26}
    assert set(zip(m.query.tolist(), m.ref.tolist(), strict=True)) == loop
    assert (m.nearest_distance == 1).all() and (hamming(query, ref[m.nearest]) == 1).all()
    same = hamming_search(ref, ref, 28, same_set=True, max_matches=10**6)
    assert (same.query < same.ref).all()
    assert same.nearest.tolist() != list(range(300))  # an image is never its own neighbour
