"""Train/test duplicates: three detectors, one report of pairs, each with its distance under every detector.

Detectors (each compares every image of an audited split with every image of the reference split, usually the
training split, and with the other images of its own split):

* ``exact``: the decoded pixels are identical (equal BLAKE2b digests of the values).
* ``phash``: the 64-bit perceptual hashes (:mod:`scrutiny.audit.phash`) differ in at most ``phash`` bits.
* ``semantic``: the cosine similarity of the images' penultimate features in a model (:mod:`scrutiny.audit.embed`)
  is at least ``cosine``; run only when features are given. Each feature is first centred and scaled by its mean
  and standard deviation over the reference split: raw ReLU features share one dominant direction, which makes
  every pair of images look alike (median nearest-neighbour cosine 0.997 between distinct generated images in a
  randomly initialised small CNN, against 0.83 after standardising).

Default thresholds and why (the measured recall and false-positive rates are in ``docs/data_audit.md``):
``phash = 8`` bits (distances are even: the median splits the 64 coefficients 32/32). On generated 32×32 images
(:mod:`scrutiny.audit.planted`) every JPEG re-encoding, brightness and contrast change and down-and-up resizing lay
within 8 bits of its source, while no distinct image came closer than 12 bits to its nearest training image; 8
leaves a margin below that (imagededup's PHash default, 10, is for larger photographs). pHash misses shifts and
crops of small images (median 16-18 bits): that is the semantic detector's job. On tiny, low-information images
(8×8 digits upsampled) distinct images of one class come within 8 bits, so there the montage decides.
``cosine = 0.95``: in ciFAIR (Barz & Denzler 2020) feature-space neighbours were candidates that a person then
judged; 0.95 flagged under 1% of distinct generated images with a randomly initialised network and is meant for
the montage, not as a verdict by itself. Both are parameters.

An audited image "has a duplicate" when any detector pairs it with a reference image; those are the images that
:func:`scrutiny.analysis.dedup.rescore_without_duplicates` leaves out. Pairs within a split are reported only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scrutiny.audit.hashing import SplitHashes, hash_source
from scrutiny.audit.images import PixelSource
from scrutiny.audit.neighbours import cosine_search, hamming_search, normalise
from scrutiny.audit.phash import hamming
from scrutiny.errors import ScrutinyError

KIND = "scrutiny duplicates audit"
SCHEMA_VERSION = 1
DETECTORS = ("exact", "phash", "semantic")
DEFAULT_PHASH_DISTANCE = 8
DEFAULT_MIN_COSINE = 0.95


@dataclass(frozen=True)
class Thresholds:
    """``phash``: largest Hamming distance (bits of 64) of a near-duplicate; ``cosine``: smallest similarity."""

    phash: int = DEFAULT_PHASH_DISTANCE
    cosine: float = DEFAULT_MIN_COSINE

    def __post_init__(self) -> None:
        if not 0 <= self.phash <= 64:
            raise ScrutinyError(f"phash_distance: expected 0..64 bits, got {self.phash}")
        if not -1.0 <= self.cosine <= 1.0:
            raise ScrutinyError(f"min_cosine: expected a similarity in [-1, 1], got {self.cosine}")


@dataclass
class DuplicatePair:
    """Two images that a detector matched; ``b`` is in the reference split, or ``a``'s split for a within pair."""

    a_split: str
    a_index: int
    b_split: str
    b_index: int
    a_name: str
    b_name: str
    exact: bool
    phash: int
    cosine: float | None
    flagged_by: list[str]


@dataclass
class DuplicateAudit:
    """The report: every pair found, each audited image's nearest reference, and what was skipped.

    Attributes:
        splits: Per split: ``n``, ``skipped`` (unreadable images) and ``labels`` where known.
        nearest: Per audited split: ``phash_index``/``phash_distance`` and, with features, ``cosine_index``/
            ``cosine`` of every image's nearest reference image (lists of length ``n``; -1/65/None where none).
    """

    dataset: dict[str, Any]
    reference: str
    splits: dict[str, dict[str, Any]]
    thresholds: Thresholds
    detectors: list[str]
    pairs: list[DuplicatePair]
    nearest: dict[str, dict[str, list]]
    embedding: str | None = None
    truncated: int = 0
    path: str | None = field(default=None, compare=False)

    @property
    def audited(self) -> list[str]:
        return [s for s in self.splits if s != self.reference]

    def flagged(self, split: str, detectors: Sequence[str] | None = None) -> np.ndarray:
        """Sorted indices ``(k,)`` of ``split``'s images paired with a reference image by any of ``detectors``."""
        use = set(detectors or self.detectors)
        idx = {
            p.a_index
            for p in self.pairs
            if p.a_split == split and p.b_split == self.reference and use & set(p.flagged_by)
        }
        return np.array(sorted(idx), dtype=np.int64)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per audited split: images with a reference duplicate (any detector, and each), and within pairs."""
        out = {}
        for split in self.audited:
            row = {"n": int(self.splits[split]["n"]), "with_duplicate": int(len(self.flagged(split)))}
            for det in self.detectors:
                row[det] = int(len(self.flagged(split, [det])))
            row["within_pairs"] = sum(1 for p in self.pairs if p.a_split == split and p.b_split == split)
            row["skipped"] = len(self.splits[split].get("skipped", []))
            out[split] = row
        return out

    def closest(self, k: int = 24) -> list[tuple[str, int, int]]:
        """The ``k`` audited images closest to a reference image: ``(split, index, reference index)``, by pHash
        distance, then by cosine similarity where there are features."""
        rows = []
        for split in self.audited:
            near = self.nearest[split]
            cosines = near.get("cosine") or [None] * len(near["phash_index"])
            for i, (j, d, cos) in enumerate(zip(near["phash_index"], near["phash_distance"], cosines, strict=True)):
                if j >= 0:
                    rows.append((d, -cos if cos is not None else 0.0, split, i, j))
        return [(s, i, j) for _, _, s, i, j in sorted(rows)[:k]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "schema_version": SCHEMA_VERSION,
            "dataset": self.dataset,
            "reference": self.reference,
            "thresholds": asdict(self.thresholds),
            "detectors": self.detectors,
            "embedding": self.embedding,
            "counts": self.counts(),
            "splits": self.splits,
            "truncated": self.truncated,
            "pairs": [asdict(p) for p in self.pairs],
            "nearest": self.nearest,
        }

    def save(self, path: str | Path) -> None:
        from scrutiny.store._atomic import json_safe, write_atomic

        text = json.dumps(json_safe(self.to_dict()))
        write_atomic(Path(path), lambda fh: fh.write(text.encode()))


def load_audit(path: str | Path) -> DuplicateAudit:
    """Read a saved audit; a file that is not one raises a one-line error naming the file and the key."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ScrutinyError(f"{path}: no such audit file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScrutinyError(f"{path}: unreadable audit ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise ScrutinyError(f"{path}: kind: not a duplicates audit (write one with 'scrutiny audit duplicates')")
    try:
        pairs = [DuplicatePair(**p) for p in data["pairs"]]
        th = Thresholds(**data["thresholds"])
        return DuplicateAudit(
            data["dataset"], data["reference"], data["splits"], th, list(data["detectors"]), pairs,
            data["nearest"], data.get("embedding"), int(data.get("truncated", 0)), str(path),
        )  # fmt: skip
    except KeyError as exc:
        raise ScrutinyError(f"{path}: {exc.args[0]}: missing") from None
    except (TypeError, ValueError) as exc:
        raise ScrutinyError(f"{path}: pairs: malformed ({exc})") from None


def audit_duplicates(
    sources: dict[str, PixelSource],
    reference: str,
    *,
    thresholds: Thresholds | None = None,
    features: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    embedding: str | None = None,
    dataset: dict[str, Any] | None = None,
    max_matches: int = 10,
    warn: Callable[[str], None] | None = None,
    hashes: dict[str, SplitHashes] | None = None,
) -> DuplicateAudit:
    """Find duplicates between every split of ``sources`` and ``reference``, and within each audited split.

    Args:
        sources: Split name -> its pixels; must include ``reference``.
        reference: The split the others are compared with (the training split).
        thresholds: Detector thresholds (default :class:`Thresholds`).
        features: Split name -> ``(features (n, d), valid (n,))`` for the semantic detector (every split).
        embedding: What the features came from (a trial id or a model name), for the report.
        dataset: How the data were named (``name``, ``root``, ``args``), recorded in the report.
        max_matches: Most pairs kept per image and detector, the closest first.
        warn: Receives one line per unreadable image.
        hashes: Hashes already computed (by :func:`~scrutiny.audit.hashing.hash_source`), to skip hashing.
    """
    th = thresholds or Thresholds()
    if reference not in sources:
        raise ScrutinyError(f"reference: split '{reference}' is not among the audited splits {sorted(sources)}")
    hashes = hashes or {name: hash_source(src, warn=warn) for name, src in sources.items()}
    for name, h in hashes.items():
        h.split = name  # the caller's split names, whatever the sources call themselves
    feats = _standardise(features or {}, reference)
    detectors = ["exact", "phash"] + (["semantic"] if feats else [])
    found: dict[tuple[str, int, str, int], set[str]] = {}
    nearest: dict[str, dict[str, list]] = {}
    truncated = 0
    ref = hashes[reference]
    for split, h in hashes.items():
        if split == reference:
            continue
        for same, other in ((False, ref), (True, h)):
            for i, j in _exact_pairs(h, other, same, max_matches):
                found.setdefault((split, i, other.split, j), set()).add("exact")
            m = hamming_search(
                h.phash, other.phash, th.phash, query_valid=h.valid, ref_valid=other.valid, same_set=same,
                max_matches=max_matches,
            )  # fmt: skip
            truncated += m.truncated
            for i, j in zip(m.query.tolist(), m.ref.tolist(), strict=True):
                found.setdefault((split, i, other.split, j), set()).add("phash")
            near = {"phash_index": m.nearest.tolist(), "phash_distance": m.nearest_distance.tolist()}
            if feats:
                (fq, vq), (fr, vr) = feats[split], feats[other.split]
                c = cosine_search(
                    fq, fr, th.cosine, query_valid=vq & h.valid, ref_valid=vr & other.valid, same_set=same,
                    max_matches=max_matches,
                )  # fmt: skip
                truncated += c.truncated
                for i, j in zip(c.query.tolist(), c.ref.tolist(), strict=True):
                    found.setdefault((split, i, other.split, j), set()).add("semantic")
                near |= {"cosine_index": c.nearest.tolist(), "cosine": _nan_none(c.nearest_distance)}
            if not same:
                nearest[split] = near
    pairs = [_pair(key, dets, sources, hashes, feats) for key, dets in sorted(found.items())]
    splits = {name: {"n": h.n, "skipped": h.skipped, "labels": _labels(sources[name])} for name, h in hashes.items()}
    return DuplicateAudit(dataset or {}, reference, splits, th, detectors, pairs, nearest, embedding, truncated)


def _standardise(features: dict[str, tuple[np.ndarray, np.ndarray]], reference: str) -> dict:
    """Features centred and scaled per dimension by the reference split's valid rows, then unit length."""
    if not features:
        return {}
    ref, ok = features[reference]
    rows = np.asarray(ref, dtype=np.float64)[np.asarray(ok, bool)]
    mean = rows.mean(axis=0) if len(rows) else 0.0
    sd = rows.std(axis=0) + 1e-6 if len(rows) else 1.0
    return {
        k: (normalise((np.asarray(f, np.float64) - mean) / sd), np.asarray(v, bool)) for k, (f, v) in features.items()
    }


def _labels(source: PixelSource) -> list[int] | None:
    return None if source.labels is None else source.labels.tolist()


def _nan_none(x: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in x]


def _exact_pairs(h: SplitHashes, other: SplitHashes, same: bool, k: int) -> list[tuple[int, int]]:
    index: dict[bytes, list[int]] = {}
    for j, d in enumerate(other.digests):
        if other.valid[j]:
            index.setdefault(d, []).append(j)
    out: list[tuple[int, int]] = []
    for i, d in enumerate(h.digests):
        if not h.valid[i]:
            continue
        matches = [j for j in index.get(d, ()) if not same or j > i]
        out.extend((i, j) for j in matches[:k])
    return out


def _pair(key, dets, sources, hashes, feats) -> DuplicatePair:
    a_split, i, b_split, j = key
    ha, hb = hashes[a_split], hashes[b_split]
    cos = None
    if feats:
        cos = float(np.dot(feats[a_split][0][i], feats[b_split][0][j]))
    return DuplicatePair(
        a_split, i, b_split, j, sources[a_split].name(i), sources[b_split].name(j),
        bool(ha.digests[i] == hb.digests[j]), int(hamming(ha.phash[i], hb.phash[j])), cos,
        [d for d in DETECTORS if d in dets],
    )  # fmt: skip
