"""Seed lists: ``"0-4"``, ``"0,3,7"`` or ``"0-2,9"`` as written in a claim, a scale or on the command line.

Defined here, at the bottom with the specs, so that a claim's seeds are read without importing the trial runner.
"""

from __future__ import annotations

from scrutiny.errors import ScrutinyError

MAX_SEEDS = 10_000
MAX_SEED = 2**63 - 1
_MAX_TEXT = 10_000


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"0,3,7"`` -> [0, 3, 7]; ``"0-2,9"`` -> [0, 1, 2, 9].

    Order is kept and repeats are dropped. At most :data:`MAX_SEEDS` seeds, each in ``[0, 2**63 - 1]``; the text
    is read in linear time, and the error names the parameter ``seeds`` and shows a short excerpt.
    """
    text = str(text)
    shown = repr(text[:40] + ("…" if len(text) > 40 else ""))

    def fail(why: str) -> ScrutinyError:
        return ScrutinyError(f"seeds: {why}, got {shown}")

    if len(text) > _MAX_TEXT:
        raise fail(f"longer than {_MAX_TEXT:,} characters")
    seeds: dict[int, None] = {}
    for part in text.split(","):
        lo_text, sep, hi_text = (w.strip() for w in part.partition("-"))
        if not _is_seed(lo_text) or (sep and not _is_seed(hi_text)):
            raise fail("expected non-negative seeds like '0-4' or '0,3,7'")
        lo, hi = int(lo_text), int(hi_text) if sep else int(lo_text)
        if hi < lo:
            raise fail(f"a range must not decrease ({lo}-{hi})")
        if hi - lo + 1 + len(seeds) > MAX_SEEDS:
            raise fail(f"more than {MAX_SEEDS:,} seeds (the limit)")
        seeds.update(dict.fromkeys(range(lo, hi + 1)))
    return list(seeds)


def _is_seed(word: str) -> bool:
    """An unsigned decimal of at most 19 digits that fits in 63 bits (checked before ``int()`` sees it)."""
    return 0 < len(word) <= 19 and word.isascii() and word.isdigit() and int(word) <= MAX_SEED
