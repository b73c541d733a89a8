"""Which trials serve which arm of which claim: a small record per claim file and scale, kept in the store.

``scrutiny check`` writes ``<store>/arms/<key>.json`` before its trials run (:func:`record_arms`), so that the
store, which otherwise knows trials only by spec hash, can answer by arm name (``scrutiny runs --claim FILE``,
``scrutiny compare --a claim.yaml:arm``, the progress lines of a check). The record holds:

=============== =====================================================================================
claim_file      the claim YAML, as an absolute path (how a record is found again)
title, metric   the claim's title and its default metric
scale           the scale checked
checked_at      when the record was last written (UTC)
arms            arm -> ``spec_hash``, ``label``, ``seeds`` and ``trial_ids`` (``<spec hash>-s<seed>``)
=============== =====================================================================================

A later check of the same claim file at the same scale rewrites the record: the arms are what the latest check
ran (with its overrides and seeds). A trial is identified by its spec and seed only, so one trial may serve several
arms: two arms of one claim that resolve to the same spec (labels are not part of the spec's identity), or arms of
different claims. The trials of an arm are the store's trials of its spec hash; seeds added by a sequential check
(``--until-decisive``) belong to the arm as well, though the record lists only the seeds planned at the start.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrutiny.errors import ScrutinyError
from scrutiny.spec import spec_hash, trial_id
from scrutiny.store._atomic import write_json
from scrutiny.store._writer import stamp
from scrutiny.store.store import Store

if TYPE_CHECKING:
    from scrutiny.spec import Spec
    from scrutiny.spec.claim import Claim

__all__ = [
    "ArmTrials",
    "ClaimArms",
    "all_arms",
    "arm_names",
    "arms_file",
    "claim_arm",
    "read_arms",
    "record_arms",
    "split_claim_arm",
    "trials_of",
]

ARMS_DIR = "arms"
_SCALE_ORDER = ("smoke", "cpu", "paper")  # smallest first; other scales after them, by name
_CLAIM_ARM = re.compile(r"(?P<file>.+\.ya?ml):(?P<arm>[^:/\\]+)", re.IGNORECASE)


@dataclass(frozen=True)
class ArmTrials:
    """One arm of a checked claim: its resolved spec (by hash) and the trials planned for it.

    Attributes:
        name: The arm's name in the claim.
        label: The claim's label of the arm, else the spec's label (``None`` where neither has one).
        spec_hash: The hash of the arm's resolved spec.
        seeds: The seeds the check planned.
        trial_ids: ``<spec hash>-s<seed>`` for each planned seed.
    """

    name: str
    label: str | None
    spec_hash: str
    seeds: list[int]
    trial_ids: list[str]


@dataclass(frozen=True)
class ClaimArms:
    """The arms of one claim file at one scale, as its latest check recorded them."""

    claim_file: str
    title: str
    scale: str
    metric: str
    checked_at: str
    arms: dict[str, ArmTrials] = field(default_factory=dict)

    def names_by_spec(self) -> dict[str, list[str]]:
        """Spec hash -> the names of the arms it serves (several where arms share a spec), in the claim's order."""
        out: dict[str, list[str]] = {}
        for arm in self.arms.values():
            out.setdefault(arm.spec_hash, []).append(arm.name)
        return out

    def arm(self, name: str) -> ArmTrials:
        """The arm called ``name``.

        Raises:
            ScrutinyError: No such arm (one line naming the claim file and listing its arms).
        """
        if name not in self.arms:
            raise ScrutinyError(f"{self.claim_file}: no arm '{name}' (arms: {', '.join(self.arms)})")
        return self.arms[name]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _claim_path(claim_file: str | Path) -> Path:
    return Path(claim_file).expanduser().resolve()


def arms_file(store_root: str | Path, claim_file: str | Path, scale: str) -> Path:
    """Where the arms of ``claim_file`` at ``scale`` are recorded: ``<store>/arms/<folder>-<stem>-<hash>-<scale>.json``.

    The hash is of the claim file's absolute path, so two ``claim.yaml`` files in folders of the same name differ.
    """
    path = _claim_path(claim_file)
    key = hashlib.sha256(str(path).encode()).hexdigest()[:8]
    return Path(store_root) / ARMS_DIR / f"{path.parent.name}-{path.stem}-{key}-{scale}.json"


def record_arms(
    store: Store | str | Path,
    claim_file: str | Path,
    claim: Claim,
    scale: str,
    specs: Mapping[str, Spec],
    seeds: Sequence[int],
) -> ClaimArms:
    """Record which trials serve which arm of ``claim`` at ``scale`` (written atomically; replaces an earlier one).

    Args:
        store: The trial store.
        claim_file: The claim's YAML file.
        claim: The loaded claim (its title, metric and arm labels).
        scale: The scale being checked.
        specs: Arm -> its resolved spec at this scale.
        seeds: The seeds planned for every arm.

    Returns:
        The record as written.
    """
    root = store.root if isinstance(store, Store) else Path(store)
    arms = {}
    for name, spec in specs.items():
        h = spec_hash(spec)
        declared = claim.arms[name].label if name in claim.arms else None
        arms[name] = ArmTrials(name, declared or spec.label, h, list(seeds), [trial_id(h, s) for s in seeds])
    now = datetime.now(UTC).isoformat(timespec="seconds")
    record = ClaimArms(str(_claim_path(claim_file)), claim.title, scale, claim.metric, now, arms)
    write_json(arms_file(root, claim_file, scale), stamp({"kind": "claim arms", **record.to_dict()}))
    return record


def _from_dict(data: dict[str, Any]) -> ClaimArms | None:
    try:
        arms = {
            name: ArmTrials(name, a.get("label"), str(a["spec_hash"]), list(a["seeds"]), list(a["trial_ids"]))
            for name, a in data["arms"].items()
        }
        return ClaimArms(
            str(data["claim_file"]),
            str(data["title"]),
            str(data["scale"]),
            str(data.get("metric", "final_test_acc")),
            str(data.get("checked_at", "")),
            arms,
        )
    except (KeyError, TypeError, AttributeError):
        return None


def _scale_key(scale: str) -> tuple[int, str]:
    return (_SCALE_ORDER.index(scale) if scale in _SCALE_ORDER else len(_SCALE_ORDER), scale)


def all_arms(store: Store | str | Path) -> list[ClaimArms]:
    """Every record of arms in the store (each claim file and scale checked), by claim file, smallest scale first.

    Records that cannot be read (not JSON, not a record of arms) are skipped: they name no claim.
    """
    root = store.root if isinstance(store, Store) else Path(store)
    folder = root / ARMS_DIR
    if not folder.is_dir():
        return []
    found = []
    for file in sorted(folder.glob("*.json")):
        if file.is_symlink() or not file.is_file():
            continue
        try:
            data = json.loads(file.read_text())
        except (OSError, ValueError):
            continue
        record = _from_dict(data) if isinstance(data, dict) else None
        if record is not None:
            found.append(record)
    return sorted(found, key=lambda r: (r.claim_file, *_scale_key(r.scale)))


def read_arms(store: Store | str | Path, claim_file: str | Path, scale: str | None = None) -> list[ClaimArms]:
    """The recorded arms of ``claim_file`` (every scale checked, smallest first; or ``scale`` alone)."""
    wanted = str(_claim_path(claim_file))
    return [r for r in all_arms(store) if r.claim_file == wanted and (scale is None or r.scale == scale)]


def arm_names(store: Store | str | Path) -> dict[str, list[tuple[str, str]]]:
    """Spec hash -> ``(claim file, arm)`` of every recorded arm it serves (at any scale), for listings."""
    out: dict[str, list[tuple[str, str]]] = {}
    for record in all_arms(store):
        for arm in record.arms.values():
            pair = (record.claim_file, arm.name)
            if pair not in out.setdefault(arm.spec_hash, []):
                out[arm.spec_hash].append(pair)
    return out


def _store_text(store: Store | str | Path) -> str:
    return str(store.root if isinstance(store, Store) else store)


def claim_arm(
    store: Store | str | Path, claim_file: str | Path, arm: str, scale: str | None = None
) -> tuple[ClaimArms, ArmTrials]:
    """The record of ``claim_file`` at ``scale`` and its arm ``arm``.

    Args:
        store: The trial store.
        claim_file: The claim's YAML file (as given to ``scrutiny check``).
        arm: The arm's name in the claim.
        scale: The scale; default: the one scale the claim was checked at in this store (several: give one).

    Raises:
        ScrutinyError: The claim was never checked in this store (at ``scale``), it was checked at several scales
            and none was given, or it has no arm ``arm`` (one line naming the claim file; ``scale: ...`` where the
            scale is at fault).
    """
    records = read_arms(store, claim_file)
    where = _store_text(store)
    if not records:
        raise ScrutinyError(
            f"{claim_file}: no check of this claim is recorded in {where}/ (check it on this store first: "
            f"'scrutiny check {claim_file}')"
        )
    scales = [r.scale for r in records]
    if scale is None:
        if len(records) > 1:
            raise ScrutinyError(f"scale: {claim_file} was checked at scales {', '.join(scales)} in {where}/; give one")
        record = records[0]
    else:
        matching = [r for r in records if r.scale == scale]
        if not matching:
            raise ScrutinyError(
                f"scale: {claim_file} was not checked at scale {scale} in {where}/ (checked: {', '.join(scales)})"
            )
        record = matching[0]
    if arm not in record.arms:
        raise ScrutinyError(f"{claim_file}: no arm '{arm}' at scale {record.scale} (arms: {', '.join(record.arms)})")
    return record, record.arms[arm]


def split_claim_arm(key: str) -> tuple[str, str] | None:
    """``("claim.yaml", "arm")`` for a key of the form ``CLAIM.yaml:ARM`` (``.yml`` too); ``None`` for another key."""
    m = _CLAIM_ARM.fullmatch(key)
    return (m["file"], m["arm"]) if m else None


def trials_of(store: Store | str | Path, arm: ArmTrials) -> list[tuple[str, int | None, str]]:
    """``(trial id, seed, status)`` of the arm's trials: its planned ones (``missing`` where the store lacks them)
    and any other trial of its spec in the store (seeds added by a sequential check), in seed order."""
    st = store if isinstance(store, Store) else Store(store)
    ids = set(arm.trial_ids) | {t for t in st.trial_ids() if t.startswith(f"{arm.spec_hash}-s")}

    def seed(tid: str) -> int | None:
        tail = tid.rsplit("-s", 1)[-1]
        return int(tail) if tail.isdigit() else None

    ordered = sorted(ids, key=lambda t: (seed(t) is None, seed(t) or 0, t))
    return [(t, seed(t), st.status(t)) for t in ordered]
