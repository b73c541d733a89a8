"""Ablate: build the arms of an ablation as specs, run them as trials in the store, and attribute the gap.

:func:`ablate` is what ``scrutiny ablate A B`` does: plan the design over the keys that differ between A and B
(:mod:`scrutiny.ablation.designs`), run every arm's trials that the store lacks, read the scores back and attribute
the gap (:func:`scrutiny.ablation.attribute`), optionally writing ``ablation.json``, ``ablation.md`` and
``waterfall.png``.

An arm is A's resolved spec with the keys of some factors set to B's values, then resolved again. A key that B
lacks is removed and a key that A lacks is added (the model keyword arguments of B's model, say), so switching the
``model`` factor switches the whole builder. Each arm is an ordinary spec: its trials are identified by content
hash, so arms shared by several designs (A, B, the single switches) run once, and an interrupted ablation resumes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scrutiny.ablation.attribution import Attribution, attribute
from scrutiny.ablation.designs import (
    DEFAULT_MAX_FACTORIAL,
    Arm,
    DesignPlan,
    Factor,
    arm_name,
    make_factors,
    plan_design,
)
from scrutiny.errors import ScrutinyError, SpecError
from scrutiny.execute import Reporter, SweepResult, run_trials
from scrutiny.spec import (
    ABSENT,
    Difference,
    Spec,
    diff,
    flatten,
    load_spec,
    parse_seeds,
    resolve,
    spec_hash,
    trial_id,
)
from scrutiny.store import DEFAULT_STORE, Store


@dataclass
class AblationPlan:
    """Everything an ablation runs: the two specs, their differences, the factors, the design and the arm specs."""

    a: Spec
    b: Spec
    differences: list[Difference]
    factors: list[Factor]
    design: DesignPlan
    arm_specs: dict[Arm, Spec]
    seeds: list[int]

    def arm_name(self, arm: Arm) -> str:
        return arm_name(arm, self.design.factors)

    def items(self) -> list[tuple[Spec, int]]:
        """(spec, seed) pairs of every arm, A and B first."""
        return [(self.arm_specs[arm], s) for arm in self.design.arms for s in self.seeds]

    def keys(self) -> dict[str, tuple[str, ...]]:
        return {f.name: f.keys for f in self.factors}

    def default_metric(self) -> str:
        return f"final_{self.a.eval.split}_acc"

    def to_dict(self, store: Store | None = None) -> dict[str, Any]:
        """The design, seeds, factors, differing keys and arms (with a store: how many trials each lacks)."""
        return {
            "design": self.design.design,
            "exact": self.design.exact,
            "orders": self.design.orders,
            "seeds": self.seeds,
            "factors": [{"name": f.name, "keys": list(f.keys)} for f in self.factors],
            "differences": [
                {"key": d.key, "a": None if d.a is ABSENT else d.a, "b": None if d.b is ABSENT else d.b}
                for d in self.differences
            ],
            "arms": self.arm_table(store),
            "n_trials": len(self.items()),
        }

    def to_run(self, store: Store, retry_failed: bool = False) -> int:
        """How many trials of the plan a sweep would run: those ``store`` lacks (and its failed ones if
        ``retry_failed``)."""
        rerun = ("missing", "incomplete", "failed") if retry_failed else ("missing", "incomplete")
        return sum(store.status(trial_id(spec, s)) in rerun for spec, s in self.items())

    def arm_table(self, store: Store | None = None) -> list[dict[str, Any]]:
        """One row per arm: name, switched factors, spec hash, and (with a store) how many trials it lacks."""
        rows = []
        for arm in self.design.arms:
            spec = self.arm_specs[arm]
            row: dict[str, Any] = {
                "arm": self.arm_name(arm),
                "switched": [f for f in self.design.factors if f in arm],
                "spec_hash": spec_hash(spec),
                "trials": len(self.seeds),
            }
            if store is not None:
                row["to_run"] = sum(store.status(trial_id(spec, s)) in ("missing", "incomplete") for s in self.seeds)
            rows.append(row)
        return rows


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = copy.deepcopy(value)


def _delete(data: dict[str, Any], key: str) -> None:
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            return
        node = child
    node.pop(parts[-1], None)


def build_arm(a: Spec, b: Spec, keys: Sequence[str], *, label: str | None = None) -> Spec:
    """A's resolved spec with ``keys`` set to B's values (removed where B lacks them), resolved again.

    Raises:
        ScrutinyError: The mixed spec does not validate (the message names the keys that were switched).
    """
    data = a.to_dict()
    b_flat = flatten(b.to_dict())
    absent = [k for k in keys if b_flat.get(k, ABSENT) is ABSENT]
    for key in absent:
        _delete(data, key)
    for key in keys:
        if key not in absent:
            _set(data, key, b_flat[key])
    if label is not None:
        data["label"] = label
    try:
        return resolve(data, fallback="<arm>")
    except SpecError as exc:
        raise ScrutinyError(
            f"arm with {', '.join(keys) or 'nothing'} switched to B does not validate ({exc}); group the coupled keys "
            "(groups: NAME=key1,key2)"
        ) from None


def parse_groups(groups: Mapping[str, Sequence[str]] | Sequence[str] | None) -> dict[str, list[str]]:
    """Factor name -> coupled keys, from a mapping or from ``["optimizer=optim.name,optim.betas", ...]``.

    Raises:
        ScrutinyError: A malformed item or a name used twice (``groups: ...``).
    """
    if groups is None:
        return {}
    if isinstance(groups, Mapping):
        return {str(name): [str(k) for k in keys] for name, keys in groups.items()}
    out: dict[str, list[str]] = {}
    for text in groups:
        name, sep, keys = str(text).partition("=")
        members = [k.strip() for k in keys.split(",") if k.strip()]
        if not sep or not name.strip() or not members:
            raise ScrutinyError(f"groups: expected name=key1,key2, got {text!r}")
        if name.strip() in out:
            raise ScrutinyError(f"groups: {name.strip()}: the name is used twice")
        out[name.strip()] = members
    return out


def _spec(spec: str | Path | Spec, overrides: Sequence[str]) -> Spec:
    if isinstance(spec, Spec):
        if overrides:
            raise ScrutinyError("overrides: only with a spec file; a resolved Spec is used as it is")
        return spec
    return load_spec(spec, list(overrides))


def plan_ablation(
    a: str | Path | Spec,
    b: str | Path | Spec,
    seeds: str | Sequence[int] = "0-2",
    *,
    design: str = "one-at-a-time",
    groups: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
    max_factorial: int = DEFAULT_MAX_FACTORIAL,
    force: bool = False,
    permutations: int | None = None,
    seed: int | None = None,
    overrides_a: Sequence[str] = (),
    overrides_b: Sequence[str] = (),
) -> AblationPlan:
    """Plan an ablation of the gap between specs ``a`` and ``b``: its factors, design and arm specs; run nothing.

    Args:
        a: Spec A (the baseline): a YAML file or a resolved :class:`~scrutiny.spec.Spec`.
        b: Spec B (the target), likewise.
        seeds: Seeds of every arm: ``"0-2"``, ``"0,3,7"`` or a list.
        design: ``one-at-a-time``, ``leave-one-out``, ``factorial`` or ``shapley`` (see
            :func:`scrutiny.ablation.plan_design`).
        groups: Factor name -> keys (or key prefixes) switched together; or ``["name=key1,key2", ...]``.
        max_factorial: Most factors for an exhaustive design (``factorial``, exact ``shapley``) unless ``force``.
        force: Allow an exhaustive design above ``max_factorial``.
        permutations: ``shapley`` only: sample this many orders of the factors (needs ``seed``).
        seed: Seed of the sampled orders.
        overrides_a: ``key=value`` overrides of A (with a spec file).
        overrides_b: ``key=value`` overrides of B (with a spec file).

    Raises:
        ScrutinyError: No seed, an invalid design, group or arm (one line naming the parameter).
    """
    a, b = _spec(a, overrides_a), _spec(b, overrides_b)
    seeds = parse_seeds(seeds) if isinstance(seeds, str) else list(seeds)
    if not seeds:
        raise ScrutinyError("seeds: at least one seed is needed")
    differences = diff(a, b)
    factors = make_factors(differences, parse_groups(groups))
    dplan = plan_design(
        design,
        [f.name for f in factors],
        max_factorial=max_factorial,
        force=force,
        permutations=permutations,
        seed=seed,
    )
    by_name = {f.name: f for f in factors}
    base = a.label or "A"
    arm_specs: dict[Arm, Spec] = {}
    for arm in dplan.arms:
        keys = [k for name in dplan.factors if name in arm for k in by_name[name].keys]
        name = arm_name(arm, dplan.factors)
        label = a.label if not arm else (b.label if arm == dplan.full else f"{base} [{name}]")
        arm_specs[arm] = build_arm(a, b, keys, label=label)
    return AblationPlan(a, b, differences, factors, dplan, arm_specs, list(dict.fromkeys(seeds)))


def run_ablation(
    plan: AblationPlan,
    store: Store,
    *,
    workers: int = 1,
    threads: int | None = None,
    retry_failed: bool = False,
    reporter: Reporter | None = None,
) -> SweepResult:
    """Run every trial of every arm that ``store`` lacks (resumable; see :func:`scrutiny.execute.run_trials`)."""
    return run_trials(
        plan.items(), store, workers=workers, threads=threads, retry_failed=retry_failed, reporter=reporter
    )


def collect_scores(plan: AblationPlan, store: Store, metric: str) -> tuple[dict[Arm, np.ndarray], list[int], list[str]]:
    """Per-seed scores of every arm, on the seeds that every arm has a number for.

    Returns:
        ``(scores, seeds, problems)``: arm -> scores ``(n_seeds,)`` in the order of ``seeds``; and one line per trial
        that gave no score (missing, failed, diverged, or without ``metric``).

    Raises:
        ScrutinyError: A complete trial's result lacks ``metric`` (the message lists the available ones).
    """
    values: dict[Arm, dict[int, float]] = {}
    problems: list[str] = []
    for arm in plan.design.arms:
        spec = plan.arm_specs[arm]
        values[arm] = {}
        for s in plan.seeds:
            tid = trial_id(spec, s)
            status = store.status(tid)
            if status != "complete":
                problems.append(f"{plan.arm_name(arm)} seed {s} ({tid}): {status}")
                continue
            result = store.result(tid)
            if metric not in result:
                options = sorted(k for k in result if k.startswith(("final_", "best_")))
                raise ScrutinyError(f"metric: {metric!r} is not in {tid}'s result; available: {', '.join(options)}")
            value = result[metric]
            if isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value):
                values[arm][s] = float(value)
            else:
                problems.append(f"{plan.arm_name(arm)} seed {s} ({tid}): {metric} is {value!r}")
    seeds = [s for s in plan.seeds if all(s in v for v in values.values())]
    scores = {arm: np.array([v[s] for s in seeds], dtype=np.float64) for arm, v in values.items()}
    return scores, seeds, problems


def attribute_from_store(
    plan: AblationPlan,
    store: Store,
    *,
    metric: str | None = None,
    confidence: float = 0.95,
    reps: int = 10_000,
    seed: int = 0,
) -> tuple[Attribution, list[str]]:
    """Read the arms' scores from ``store`` and attribute the gap; also return the trials that gave no score.

    Raises:
        ScrutinyError: No seed has a score in every arm.
    """
    metric = metric or plan.default_metric()
    scores, seeds, problems = collect_scores(plan, store, metric)
    if not seeds:
        raise ScrutinyError(
            f"no seed has a '{metric}' score in every arm ({len(problems)} trials without one, e.g. "
            f"{problems[0] if problems else '?'}); run the ablation first"
        )
    result = attribute(
        plan.design, scores, metric=metric, seeds=seeds, keys=plan.keys(), confidence=confidence, reps=reps, seed=seed
    )
    return result, problems


@dataclass
class AblationResult:
    """What :func:`ablate` did and found.

    Attributes:
        plan: The factors, the design and the arm specs.
        sweep: The sweep of the arms' trials (``ran``, ``skipped``, ``interrupted``).
        attribution: The gap attributed to the factors; ``None`` when the sweep was interrupted.
        problems: One line per trial that gave no score (missing, failed, diverged, or without the metric).
        written: The files written (``ablation.json``, ``ablation.md``, ``waterfall.png``), if a folder was given.
    """

    plan: AblationPlan
    sweep: SweepResult
    attribution: Attribution | None
    problems: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    planned: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def interrupted(self) -> bool:
        return self.sweep.interrupted

    def to_dict(self) -> dict[str, Any]:
        """``meta``, the plan as it stood before the sweep, what ran, the problems and the attribution."""
        return {
            **self.meta,
            **self.planned,
            "ran": len(self.sweep.ran),
            "skipped": len(self.sweep.skipped),
            "problems": self.problems,
            "result": self.attribution.to_dict() if self.attribution is not None else None,
        }


def ablate(
    a: str | Path | Spec | AblationPlan,
    b: str | Path | Spec | None = None,
    store: str | Path | Store = DEFAULT_STORE,
    *,
    seeds: str | Sequence[int] = "0-2",
    design: str = "one-at-a-time",
    groups: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
    overrides_a: Sequence[str] = (),
    overrides_b: Sequence[str] = (),
    metric: str | None = None,
    max_factorial: int = DEFAULT_MAX_FACTORIAL,
    force: bool = False,
    permutations: int | None = None,
    seed: int | None = None,
    confidence: float = 0.95,
    reps: int = 10_000,
    workers: int = 1,
    threads: int | None = None,
    retry_failed: bool = False,
    reporter: Reporter | None = None,
    out_dir: str | Path | None = None,
    meta: Mapping[str, Any] | None = None,
) -> AblationResult:
    """Attribute the gap between specs A and B to their differing keys by running arms that mix the two.

    Every arm is an ordinary spec whose trials are identified by content hash: arms shared by several designs run
    once, and an interrupted ablation resumes.

    Example::

        from scrutiny import ablate

        result = ablate("a.yaml", "b.yaml", "scrutiny-runs", seeds="0-2", design="leave-one-out")
        for e in result.attribution.effects:
            print(e.name, e.estimate, (e.low, e.high))

    Args:
        a: Spec A (the baseline): a YAML file or a resolved spec; or a plan (:func:`plan_ablation`), and then ``b``
            and the planning parameters (``seeds``, ``design``, ``groups``, ...) are the plan's.
        b: Spec B (the target), likewise.
        store: The trial store.
        seeds: Seeds of every arm.
        design: ``one-at-a-time``, ``leave-one-out``, ``factorial`` or ``shapley``.
        groups: Factor name -> keys switched together; or ``["name=key1,key2", ...]``.
        overrides_a: ``key=value`` overrides of A.
        overrides_b: ``key=value`` overrides of B.
        metric: The result key to attribute (default ``final_<split>_acc``).
        max_factorial: Most factors for an exhaustive design unless ``force``.
        force: Allow an exhaustive design above ``max_factorial``.
        permutations: ``shapley`` only: sample this many orders (with ``seed``).
        seed: Seed of the sampled orders and of the bootstrap (0 where not given).
        confidence: Bootstrap interval coverage.
        reps: Bootstrap replicates.
        workers: Worker processes.
        threads: CPU threads per trial.
        retry_failed: Run failed trials again.
        reporter: Receives progress events of the sweep.
        out_dir: Write ``ablation.json``, ``ablation.md`` and ``waterfall.png`` here.
        meta: Extra keys written first into ``ablation.json`` (e.g. the spec files).

    Returns:
        The plan, the sweep, the attribution (``None`` if the sweep was interrupted) and the trials without a score.

    Raises:
        ScrutinyError: An invalid spec, design or parameter (one line naming it); no seed with a score in every arm.
    """
    st = store if isinstance(store, Store) else Store(store)
    if isinstance(a, AblationPlan):
        if b is not None:
            raise ScrutinyError("b: a plan holds both specs; give the plan alone")
        plan = a
    else:
        if b is None:
            raise ScrutinyError("b: required with spec A")
        plan = plan_ablation(
            a,
            b,
            seeds,
            design=design,
            groups=groups,
            max_factorial=max_factorial,
            force=force,
            permutations=permutations,
            seed=seed,
            overrides_a=overrides_a,
            overrides_b=overrides_b,
        )
    # the arms' "to run" counts as the store holds them before the sweep
    result = AblationResult(plan, SweepResult(), None, planned=plan.to_dict(st), meta=dict(meta or {}))
    result.sweep = run_ablation(
        plan, st, workers=workers, threads=threads, retry_failed=retry_failed, reporter=reporter
    )
    if result.sweep.interrupted:
        return result
    result.attribution, result.problems = attribute_from_store(
        plan, st, metric=metric, confidence=confidence, reps=reps, seed=seed or 0
    )
    if out_dir is not None:
        result.written = write_ablation(out_dir, result.to_dict(), result.attribution)
    return result


def write_ablation(folder: str | Path, payload: Mapping[str, Any], attribution: Attribution) -> list[Path]:
    """Write ``ablation.json`` (``payload``), ``ablation.md`` (the table) and ``waterfall.png`` into ``folder``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from scrutiny.ablation import markdown_table, plot_waterfall
    from scrutiny.store._atomic import write_atomic, write_json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "ablation.json", dict(payload))
    (folder / "ablation.md").write_text(markdown_table(attribution))
    fig = plot_waterfall(attribution).figure
    assert isinstance(fig, Figure)  # without an ax, plot_waterfall draws on a figure of its own, not a subfigure
    fig.tight_layout()
    write_atomic(folder / "waterfall.png", lambda fh: fig.savefig(fh, format="png", dpi=120))
    plt.close(fig)
    return [folder / "ablation.json", folder / "ablation.md", folder / "waterfall.png"]
