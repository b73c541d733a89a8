"""Pre-registration: what a claim will decide is fixed before the trials that decide it, and the report shows it.

Checking a claim (:func:`scrutiny.workflows.check.register_claim`, before its trials run) records, per claim and
scale, in ``<store>/claims/<key>.json``: the hash of the claim's confirmatory part (arms and their resolved spec
hashes, the confirmatory hypotheses with their tolerances, the seeds, α, the multiplicity rule, the failure policy
and the pairing) with the time it was first seen, and per hypothesis when it was first seen and whether trials of
its arms at its seeds had already finished then. A hypothesis (or a tolerance: it is part of the hypothesis) first
seen after its results existed is flagged "changed after results were seen". This module reads the record
(:func:`status`) and says where it lives and what it holds; writing it is the check workflow's.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from scrutiny.spec import Spec, spec_hash
from scrutiny.spec.claim import Claim, Hypothesis


def digest(obj: Any) -> str:
    """The SHA-256 of ``obj`` as sorted JSON."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def confirmatory_part(claim: Claim, scale: str, specs: dict[str, Spec], seeds: list[int]) -> dict[str, Any]:
    """Everything that decides the claim's verdicts at ``scale``, as plain data."""
    hyps = [h for h in claim.hypotheses if h.applies(scale) and not h.exploratory]
    return {
        "arms": {name: spec_hash(spec) for name, spec in sorted(specs.items())},
        "hypotheses": [_hyp(h) for h in hyps],
        "seeds": list(seeds),
        "alpha": claim.alpha,
        "multiplicity": claim.multiplicity,
        "failed_seeds": claim.failed_seeds.model_dump(),
        "pairing": claim.pairing,
        "reported": {n: a.reported.model_dump() for n, a in sorted(claim.arms.items()) if a.reported},
    }


def _hyp(h: Hypothesis) -> dict[str, Any]:
    return h.model_dump(exclude={"name", "note", "scales"})


def record_file(store_root: str | Path, claim: Claim, path: Path, scale: str) -> Path:
    """Where the registration of ``claim`` (file ``path``) at ``scale`` is kept: ``<store>/claims/<key>.json``."""
    key = f"{path.parent.name}-{path.stem}-{scale}-{digest(claim.title)[:8]}"
    return Path(store_root) / "claims" / f"{key}.json"


def hypothesis_key(h: Hypothesis, seeds: list[int], specs: dict[str, Spec]) -> str:
    """The key of a confirmatory hypothesis in the record: its text, tolerances, seeds and arms' spec hashes."""
    return digest({"h": _hyp(h), "seeds": seeds, "arms": [spec_hash(specs[a]) for a in (h.a, h.b) if a]})


def status(
    store_root: str | Path, claim: Claim, path: Path, scale: str, specs: dict[str, Spec], seeds: list[int]
) -> dict[str, Any]:
    """The registration as the report shows it: the current hash, when it was first seen, flagged hypotheses."""
    part = confirmatory_part(claim, scale, specs, seeds)
    record = read_record(record_file(store_root, claim, path, scale)) or {}
    current = digest(part)
    seen = {e["hash"]: e["first_seen"] for e in record.get("hashes", [])}
    flagged = []
    for h in claim.hypotheses:
        if not h.applies(scale) or h.exploratory:
            continue
        entry = record.get("hypotheses", {}).get(hypothesis_key(h, seeds, specs))
        if entry is None or entry["results_existed"]:
            flagged.append(h.text())
    return {
        "hash": current,
        "registered": current in seen,
        "first_seen": seen.get(current),
        "earlier_hashes": [h for h in seen if h != current],
        "changed_after_results": flagged,
    }


def read_record(file: Path) -> dict[str, Any] | None:
    """The record in ``file``, or ``None`` where there is none (or it is not a JSON object)."""
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
