"""Plan a claim at a scale: its arms' specs and trials with their status in the store, checked before anything runs.

:func:`plan_claim` reads the claim file, resolves every arm's spec (with ``--set`` overrides, data roots and
weights), checks each hypothesis's fields against what the specs will log, and lists the trials with their status.
:func:`check_inputs` says in one line what a scale needs that is not on this machine (a data root, weights), and
:meth:`ClaimPlan.check_models` builds every arm's model on the meta device. :mod:`scrutiny.workflows.check` runs
and scores what is planned here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from scrutiny.analysis.check import ClaimSetup, claim_setup
from scrutiny.errors import ScrutinyError
from scrutiny.execute import PlannedTrial, plan
from scrutiny.spec import Spec
from scrutiny.store import DEFAULT_STORE, Store

if TYPE_CHECKING:
    from scrutiny.workflows.estimate import ArmEstimate
    from scrutiny.workflows.preflight import ModelCheck

WeightsArg = Mapping[str, str | Path] | Sequence[str]


@dataclass
class ClaimPlan(ClaimSetup):
    """The trials a claim needs at a scale, with their status in the store when it was planned."""

    trials: list[PlannedTrial] = field(default_factory=list)

    def to_run(self, retry_failed: bool = False) -> list[PlannedTrial]:
        """The trials the store lacks (and the failed ones, with ``retry_failed``)."""
        return [t for t in self.trials if t.needs_run(retry_failed)]

    def arm_of(self, spec: Spec) -> str:
        """The (first) arm whose resolved spec is ``spec``."""
        return next(name for name, s in self.specs.items() if s == spec)

    def sources(self) -> dict[str, str]:
        """Arm -> its spec file (relative to the claim's folder, as the claim names it)."""
        base = self.path.parent
        return {name: str(base / self.claim.arms[name].spec) for name in self.specs}

    def check_models(self) -> dict[str, ModelCheck]:
        """Build every arm's model on the meta device before any trial runs (:mod:`scrutiny.workflows.preflight`).

        Raises:
            SpecError: A model that cannot be built: one line naming the spec file, the model key and the arm.
        """
        from scrutiny.workflows.preflight import preflight

        return preflight(self.specs, self.sources(), claim=str(self.path))

    def estimates(
        self,
        store: Store,
        retry_failed: bool = False,
        *,
        timed: bool = True,
        workers: int = 1,
        threads: int | None = None,
    ) -> dict[str, ArmEstimate]:
        """Per arm: the estimated time of its trials still to run and what it rests on (finished trials of the
        same spec at any number of epochs, else a training step timed with the threads a trial will have;
        :func:`scrutiny.workflows.estimate.estimate_trials`)."""
        from scrutiny.workflows.estimate import estimate_trials

        return estimate_trials(
            self.specs,
            self.trials,
            store,
            retry_failed=retry_failed,
            timed=timed,
            workers=workers,
            threads=threads,
        )

    def estimate_seconds(self, store: Store) -> dict[str, float | None]:
        """Per arm: the estimated seconds of its trials still to run (None: nothing to go on); see :meth:`estimates`."""
        return {name: e.seconds for name, e in self.estimates(store).items()}


class MissingInputsError(ScrutinyError):
    """A scale ``requires`` local inputs that the arms' specs lack.

    Attributes:
        where: The claim and the scale.
        needs: Parameter -> what it must give (``data_root``: a folder; ``weights``: the arms without weights).
    """

    HINTS = {"data_root": "DIR", "weights": "ARM=FILE"}  # what a value of each parameter looks like

    def __init__(self, where: str, needs: dict[str, str]) -> None:
        self.where, self.needs = where, needs
        super().__init__(self.with_flags({}))

    def with_flags(self, flags: Mapping[str, str]) -> str:
        """The message with each parameter written as its command-line flag (and value) where ``flags`` has it."""
        parts = [
            f"{flags[name]} {self.HINTS[name]} {what}" if name in flags else f"{name} {what}"
            for name, what in self.needs.items()
        ]
        return f"{self.where} needs local inputs: give " + " and ".join(parts)


def weights_by_arm(weights: WeightsArg | None) -> dict[str, str]:
    """Arm -> weights file, from a mapping or from ``["resnet50=FILE", ...]``.

    Raises:
        ScrutinyError: A malformed item or an arm given twice (``weights: ...``).
    """
    if weights is None:
        return {}
    if isinstance(weights, Mapping):
        return {str(arm): str(path) for arm, path in weights.items()}
    out: dict[str, str] = {}
    for item in weights:
        arm, sep, path = str(item).partition("=")
        if not sep or not arm.strip() or not path.strip():
            raise ScrutinyError(f"weights: expected ARM=FILE, got {item!r}")
        if arm.strip() in out:
            raise ScrutinyError(f"weights: arm '{arm.strip()}' given twice")
        out[arm.strip()] = path.strip()
    return out


def _store(store: str | Path | Store) -> Store:
    return store if isinstance(store, Store) else Store(store)


def plan_claim(
    path: str | Path,
    scale: str | None = None,
    store: str | Path | Store = DEFAULT_STORE,
    *,
    overrides: Sequence[str] | None = None,
    seeds: str | None = None,
    arm_overrides: Mapping[str, Sequence[str]] | None = None,
    data_root: str | Path | None = None,
    weights: WeightsArg | None = None,
) -> ClaimPlan:
    """Load a claim and list its trials at ``scale`` with their status in ``store``; run nothing.

    Args:
        path: The claim YAML.
        scale: ``smoke``, ``cpu``, ``paper`` or another scale the claim declares (default: its ``default_scale``).
        store: The trial store (a folder or a :class:`~scrutiny.store.Store`).
        overrides: ``key=value`` overrides applied to every arm.
        seeds: The verdict seeds instead of the scale's: ``"0-4"`` or ``"0,3,7"``.
        arm_overrides: Arm -> ``key=value`` overrides of that arm alone.
        data_root: Sets ``data.root`` of every arm (e.g. an ImageNet folder with ``train/`` and ``val/``).
        weights: Arm -> a local state_dict loaded into that arm's model (``model.weights`` of that arm alone); or
            ``["ARM=FILE", ...]``.

    Returns:
        The claim's arms, seeds and trials.

    Raises:
        ScrutinyError: An invalid claim or spec, an unknown arm in ``weights`` (one line naming the parameter).
    """
    extra = [*(overrides or [])] + ([f"data.root={data_root}"] if data_root is not None else [])
    per_arm = {arm: list(items) for arm, items in (arm_overrides or {}).items()}
    by_arm = weights_by_arm(weights)
    if by_arm:
        from scrutiny.spec.claim import load_claim

        arms = list(load_claim(Path(path)).arms)
        unknown = sorted(set(by_arm) - set(arms))
        if unknown:
            raise ScrutinyError(f"weights: unknown arm(s) {', '.join(unknown)}; arms are {', '.join(arms)}")
        for arm, file in by_arm.items():
            per_arm.setdefault(arm, []).append(f"model.weights={file}")
    setup = claim_setup(path, scale, overrides=extra, seeds=seeds, arm_overrides=per_arm)
    check_claim_fields(setup)
    trials = plan([(spec, s) for spec in setup.specs.values() for s in setup.seeds], _store(store))
    return ClaimPlan(setup.claim, setup.path, setup.scale, setup.seeds, setup.specs, trials)


def check_claim_fields(p: ClaimSetup) -> None:
    """Every metric the claim names must be a field its arms' trials will hold (before any trial runs).

    The arms' tasks come from their datasets without loading them, where the datasets tell
    (:func:`scrutiny.workflows.preflight.dataset_facts`).

    Raises:
        SpecError: One line naming the claim file, the hypothesis, the arm and the unknown field.
    """
    from scrutiny.spec.claim import check_fields
    from scrutiny.workflows.preflight import dataset_facts

    tasks = {}
    for arm, spec in p.specs.items():
        facts = dataset_facts(spec)
        tasks[arm] = facts.task if facts is not None else None
    check_fields(p.claim, p.path, p.scale, p.specs, tasks)


def check_inputs(p: ClaimSetup) -> None:
    """Fail in one line when the scale ``requires`` local inputs that the specs lack.

    ``data_root``: every arm's ``data.root`` must be a folder. ``weights``: every evaluation-only arm
    (``train.epochs: 0``) must load ``model.weights``, or it would evaluate a random network. scrutiny downloads
    neither.

    Raises:
        MissingInputsError: The inputs the scale needs and lacks.
    """
    from scrutiny.spec.claim import Scale

    # the claim's scales are keyed by the built-in scale names; p.scale is any str, so look it up as one
    requires = cast("Mapping[str, Scale]", p.claim.scales).get(p.scale, Scale()).requires
    need: dict[str, str] = {}
    if "data_root" in requires:
        bad = sorted(
            {
                str(s.data.root)
                for s in p.specs.values()
                if not s.data.root or not Path(s.data.root).expanduser().is_dir()
            }
        )
        if bad:
            need["data_root"] = f"(a local dataset folder; got {', '.join(bad)})"
    if "weights" in requires:
        missing = [n for n, s in p.specs.items() if s.train.epochs == 0 and s.model.weights is None]
        if missing:
            need["weights"] = "for " + ", ".join(missing)
    if need:
        raise MissingInputsError(f"{p.path.parent.name} at scale {p.scale}", need)
