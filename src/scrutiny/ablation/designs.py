"""Designs over the differences between two specs: the factors, and which arms (factor subsets) to run.

A *factor* is one or more differing leaf keys of two resolved specs A and B that are switched together. An *arm*
is A with a subset of the factors set to B's values, written as the frozenset of the switched factors' names:
``frozenset()`` is A and the set of all factors is B.

Designs (``k`` factors):

- ``one-at-a-time``: A, B, and A with each single factor switched (``k + 2`` arms).
- ``leave-one-out``: A, B, and B with each single factor left at A's value (``k + 2`` arms).
- ``factorial``: every subset (``2^k`` arms); refused above ``max_factorial`` factors unless forced.
- ``shapley``: exact over every subset (the factorial arms), or sampled: the prefixes of ``permutations`` random
  orders of the factors (at most ``permutations·(k - 1) + 2`` distinct arms), drawn from an explicit seed.

Everything here is pure: no specs are built and nothing runs (see :mod:`scrutiny.workflows.ablate`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scrutiny.errors import ScrutinyError
from scrutiny.spec import ABSENT, Difference
from scrutiny.stats import make_rng

DESIGNS = ("one-at-a-time", "leave-one-out", "factorial", "shapley")
DEFAULT_MAX_FACTORIAL = 6
# A key absent on one side is meaningful only with the key that chooses its builder: couple them.
_CHOOSERS = (("model.", "model.name"), ("data.", "data.name"), ("eval.protocol_args.", "eval.protocol"))
_CHOOSER_FACTOR = {"model.name": "model", "data.name": "data", "eval.protocol": "eval.protocol"}

Arm = frozenset[str]


@dataclass(frozen=True)
class Factor:
    """One factor: a name and the differing dotted keys switched together."""

    name: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class DesignPlan:
    """A design's arms over named factors.

    Attributes:
        design: One of :data:`DESIGNS`.
        factors: Factor names, in order.
        arms: Distinct arms, A first and B second, then in the design's order.
        orders: For sampled Shapley values, the sampled orders of the factor names; ``None`` otherwise.
        exact: False only for sampled Shapley values.
    """

    design: str
    factors: tuple[str, ...]
    arms: tuple[Arm, ...]
    orders: tuple[tuple[str, ...], ...] | None = None
    exact: bool = True

    @property
    def full(self) -> Arm:
        return frozenset(self.factors)


def arm_name(arm: Arm, factors: Sequence[str]) -> str:
    """``"A"``, ``"B"``, ``"A+lr+width"`` (few switched) or ``"B-lr"`` (all but few switched)."""
    if not arm:
        return "A"
    if len(arm) == len(factors):
        return "B"
    on = [f for f in factors if f in arm]
    off = [f for f in factors if f not in arm]
    return "B-" + "-".join(off) if len(off) < len(on) else "A+" + "+".join(on)


def make_factors(differences: Sequence[Difference], groups: Mapping[str, Sequence[str]] | None = None) -> list[Factor]:
    """Turn differing keys into factors: named groups first, then one factor per remaining key.

    A group key selects the difference with that key or every difference below it (``optim`` selects
    ``optim.name`` and ``optim.betas``). Keys absent on one side are coupled to the key that chooses their builder
    (``model.*`` to ``model.name``, ``data.*`` to ``data.name``, ``eval.protocol_args.*`` to ``eval.protocol``),
    because they are valid only with it; an ungrouped factor holding ``model.name`` is named ``model`` (``data``
    for ``data.name``).

    Args:
        differences: From :func:`scrutiny.spec.diff`.
        groups: Factor name -> dotted keys or key prefixes.

    Raises:
        ScrutinyError: A group key that matches no difference, a difference claimed by two groups, a bad name.
    """
    keys = [d.key for d in differences]
    owner: dict[str, str] = {}
    factors: dict[str, list[str]] = {}
    for name, members in (groups or {}).items():
        if not name or not members:
            raise ScrutinyError(f"groups: expected name=key1,key2, got {name!r} with keys {list(members)!r}")
        if name in factors:
            raise ScrutinyError(f"groups: {name}: the name is used twice")
        factors[name] = []
        for member in members:
            hits = [k for k in keys if k == member or k.startswith(member + ".")]
            if not hits:
                raise ScrutinyError(f"groups: {name}: '{member}' is not a differing key (see 'scrutiny diff A B')")
            for k in hits:
                if owner.get(k, name) != name:
                    raise ScrutinyError(f"groups: {name}: '{k}' is already in group '{owner[k]}'")
                if k not in owner:
                    owner[k] = name
                    factors[name].append(k)
    for d in differences:
        if d.key in owner:
            continue
        chooser = _chooser(d)
        target = owner.get(chooser) if chooser else None
        if target is None and chooser in keys:
            target = owner[chooser] = _CHOOSER_FACTOR[chooser]
            factors.setdefault(target, []).append(chooser)
        if target is None:
            target = _CHOOSER_FACTOR.get(d.key, d.key)
            if target in factors:
                raise ScrutinyError(f"groups: factor name '{target}' is used by a group and by a key; rename the group")
            factors[target] = []
        owner[d.key] = target
        if d.key not in factors[target]:
            factors[target].append(d.key)
    return [Factor(name, tuple(sorted(ks))) for name, ks in factors.items()]


def _chooser(d: Difference) -> str | None:
    if d.a is not ABSENT and d.b is not ABSENT:
        return None
    for prefix, chooser in _CHOOSERS:
        if d.key.startswith(prefix) and d.key != chooser:
            return chooser
    return None


def _subsets(factors: Sequence[str]) -> list[Arm]:
    return [frozenset(c) for r in range(len(factors) + 1) for c in itertools.combinations(factors, r)]


def _ordered(arms: list[Arm], full: Arm) -> tuple[Arm, ...]:
    out = [frozenset(), full]
    for arm in arms:
        if arm not in out:
            out.append(arm)
    return tuple(out)


def plan_design(
    design: str,
    factors: Sequence[str],
    *,
    max_factorial: int = DEFAULT_MAX_FACTORIAL,
    force: bool = False,
    permutations: int | None = None,
    seed: int | np.random.Generator | None = None,
) -> DesignPlan:
    """The arms of ``design`` over ``factors``.

    Args:
        design: One of :data:`DESIGNS`.
        factors: Factor names (at least one).
        max_factorial: Largest ``k`` for an exhaustive design (``factorial``, exact ``shapley``) unless ``force``.
        force: Allow an exhaustive design above ``max_factorial``.
        permutations: ``shapley`` only: sample this many orders instead of the exact computation.
        seed: Seed or generator of the sampled orders (required with ``permutations``).

    Raises:
        ScrutinyError: Unknown design, no factors, too many factors, a missing seed.
    """
    factors = tuple(factors)
    if design not in DESIGNS:
        raise ScrutinyError(f"design: expected one of {', '.join(DESIGNS)}, got {design!r}")
    if not factors:
        raise ScrutinyError("the two specs do not differ: there is no gap to attribute")
    if len(set(factors)) != len(factors):
        raise ScrutinyError(f"factor names must be distinct, got {list(factors)}")
    if permutations is not None and design != "shapley":
        raise ScrutinyError("permutations: applies to design 'shapley' only")
    full = frozenset(factors)
    k = len(factors)
    if design == "one-at-a-time":
        return DesignPlan(design, factors, _ordered([frozenset([f]) for f in factors], full))
    if design == "leave-one-out":
        return DesignPlan(design, factors, _ordered([full - {f} for f in factors], full))
    if design == "shapley" and permutations is not None:
        if permutations < 1:
            raise ScrutinyError(f"permutations: expected a positive number, got {permutations}")
        if seed is None:
            raise ScrutinyError("seed: required with permutations: sampled orders are drawn from an explicit seed")
        rng = make_rng(seed, "plan_design")
        orders = tuple(tuple(factors[i] for i in rng.permutation(k)) for _ in range(permutations))
        arms = [frozenset(order[:j]) for order in orders for j in range(k + 1)]
        return DesignPlan(design, factors, _ordered(arms, full), orders=orders, exact=False)
    if k > max_factorial and not force:
        raise ScrutinyError(
            f"max_factorial: design {design} over {k} factors makes {2**k} arms, above max_factorial {max_factorial}; "
            "group coupled keys (groups), sample Shapley values (permutations with a seed), or force it"
        )
    return DesignPlan(design, factors, _ordered(_subsets(factors), full))
