"""Identity of specs and trials.

``spec_hash`` is the first 12 hex digits of the SHA-256 of the resolved spec serialised as canonical JSON (keys
sorted, no whitespace, tuples as lists), with ``label`` and ``description`` removed. Keys added to the schema
after its first version are left out while they hold their default (``probes: []``, ``eval.save_batches:
false``, ``model.weights: null``, ``train.save_checkpoint: true``), so adding a key never changes the id of an
existing trial. Because the spec is resolved first (every default, including builder defaults, written out), key
order and spelling a default explicitly do not change it. The seed is not part of a spec, so it is excluded by
construction.

A trial's id is ``<spec hash>-s<seed>``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from scrutiny.spec.schema import Spec

NOT_IDENTITY = ("label", "description")
_LATER_KEYS: tuple[tuple[tuple[str, ...], Any], ...] = (
    (("probes",), []),
    (("eval", "save_batches"), False),
    (("model", "weights"), None),
    (("train", "save_checkpoint"), True),
)  # (path, default) of keys added later
HASH_LENGTH = 12


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def identity_dict(spec: Spec) -> dict[str, Any]:
    """The part of the resolved spec that defines its identity."""
    data = spec.to_dict()
    for key in NOT_IDENTITY:
        data.pop(key, None)
    for path, default in _LATER_KEYS:
        parent = data
        for part in path[:-1]:
            parent = parent.get(part, {})
        if path[-1] in parent and parent[path[-1]] == default:
            del parent[path[-1]]
    return data


def spec_hash(spec: Spec) -> str:
    """Stable content hash of the resolved spec, seed, label and description excluded."""
    return hashlib.sha256(canonical_json(identity_dict(spec)).encode()).hexdigest()[:HASH_LENGTH]


def trial_id(spec: Spec | str, seed: int) -> str:
    """``<spec hash>-s<seed>``: the one definition of a trial's id.

    Args:
        spec: The resolved spec, or its hash (:func:`spec_hash`) where only the hash is at hand.
        seed: The trial's root seed.
    """
    h = spec if isinstance(spec, str) else spec_hash(spec)
    return f"{h}-s{seed}"
