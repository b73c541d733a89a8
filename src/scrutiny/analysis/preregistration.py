"""Pre-registration: what a claim will decide is fixed before the trials that decide it, and the report shows it.

``scrutiny check`` records, per claim and scale, in ``<store>/claims/<key>.json``: the hash of the claim's
confirmatory part (arms and their resolved spec hashes, the confirmatory hypotheses with their tolerances, the
seeds, α, the multiplicity rule, the failure policy and the pairing) with the time it was first seen, and per
hypothesis when it was first seen and whether trials of its arms at its seeds had already finished then. A
hypothesis (or a tolerance: it is part of the hypothesis) first seen after its results existed is flagged
"changed after results were seen".
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrutiny.spec import Spec, spec_hash, trial_id
from scrutiny.spec.claim import Claim, Hypothesis


def _digest(obj: Any) -> str:
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


def _key(claim: Claim, path: Path, scale: str) -> str:
    return f"{path.parent.name}-{path.stem}-{scale}-{_digest(claim.title)[:8]}"


def register(
    store_root: str | Path,
    claim: Claim,
    path: Path,
    scale: str,
    specs: dict[str, Spec],
    seeds: list[int],
    complete: set[str],
) -> dict[str, Any]:
    """Record the claim's confirmatory part (before its trials run) and return the registration for the report.

    ``complete``: the ids of trials already finished in the store.
    """
    from scrutiny.store._atomic import write_json

    part = confirmatory_part(claim, scale, specs, seeds)
    folder = Path(store_root) / "claims"
    file = folder / f"{_key(claim, path, scale)}.json"
    record = _read(file) or {"claim": claim.title, "scale": scale, "hashes": [], "hypotheses": {}}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    digest = _digest(part)
    if digest not in [e["hash"] for e in record["hashes"]]:
        record["hashes"].append({"hash": digest, "first_seen": now})
    for h in claim.hypotheses:
        if not h.applies(scale) or h.exploratory:
            continue
        key = _digest({"h": _hyp(h), "seeds": seeds, "arms": [spec_hash(specs[a]) for a in (h.a, h.b) if a]})
        if key in record["hypotheses"]:
            continue
        existed = sorted(tid for a in (h.a, h.b) if a for s in seeds if (tid := trial_id(specs[a], s)) in complete)
        record["hypotheses"][key] = {"text": h.text(), "first_seen": now, "results_existed": len(existed)}
    folder.mkdir(parents=True, exist_ok=True)
    write_json(file, record)
    return status(store_root, claim, path, scale, specs, seeds)


def status(
    store_root: str | Path, claim: Claim, path: Path, scale: str, specs: dict[str, Spec], seeds: list[int]
) -> dict[str, Any]:
    """The registration as the report shows it: the current hash, when it was first seen, flagged hypotheses."""
    part = confirmatory_part(claim, scale, specs, seeds)
    record = _read(Path(store_root) / "claims" / f"{_key(claim, path, scale)}.json") or {}
    digest = _digest(part)
    seen = {e["hash"]: e["first_seen"] for e in record.get("hashes", [])}
    flagged = []
    for h in claim.hypotheses:
        if not h.applies(scale) or h.exploratory:
            continue
        key = _digest({"h": _hyp(h), "seeds": seeds, "arms": [spec_hash(specs[a]) for a in (h.a, h.b) if a]})
        entry = record.get("hypotheses", {}).get(key)
        if entry is None or entry["results_existed"]:
            flagged.append(h.text())
    return {
        "hash": digest,
        "registered": digest in seen,
        "first_seen": seen.get(digest),
        "earlier_hashes": [h for h in seen if h != digest],
        "changed_after_results": flagged,
    }


def _read(file: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
