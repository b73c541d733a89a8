"""Check a claim: run what the store lacks for every arm at a scale, then score, test and cost the arms.

:func:`check_claim` is what ``scrutiny check`` and ``scrutiny case`` do, in four modes:

- the default: run the arms' missing trials (resumably), then decide every hypothesis from the store;
- sequential (``max_seeds``): add seeds in rounds until every confirmatory hypothesis is decided or the budget is
  spent, with alpha spending over the looks (:mod:`scrutiny.analysis.sequential`);
- bring your own scores (``scores``): decide on a file of per-seed scores, train nothing;
- without duplicates (``exclude_duplicates``): decide again on the test examples that a duplicates audit does not
  flag.

Planning (the trials, the inputs a scale needs, the models and fields checked) is :mod:`.plan`'s; this module
re-exports its names. Before any trial runs, the claim's confirmatory part is registered in the store
(:func:`register_claim`). The scoring itself is :mod:`scrutiny.analysis.check`'s, which reads only the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrutiny.analysis.check import (
    ClaimResult,
    ClaimSetup,
    claim_result,
    collect_arms,
    decide_without_duplicates,
    score_claim_file,
)
from scrutiny.analysis.check import score_claim as score_setup
from scrutiny.analysis.sequential import schedule
from scrutiny.errors import ScrutinyError
from scrutiny.spec import trial_id
from scrutiny.store import DEFAULT_STORE, Store
from scrutiny.workflows.plan import (
    ClaimPlan,
    MissingInputsError,
    WeightsArg,
    _store,
    check_claim_fields,
    check_inputs,
    plan_claim,
    weights_by_arm,
)

__all__ = [
    "ClaimPlan",
    "MissingInputsError",
    "check_claim",
    "check_claim_fields",
    "check_inputs",
    "plan_claim",
    "register_claim",
    "score_claim",
    "sweep_summary",
    "weights_by_arm",
]

if TYPE_CHECKING:
    from scrutiny.analysis.scores import ArmScores
    from scrutiny.execute import Executor, Reporter, SweepResult


def register_claim(p: ClaimPlan, store: str | Path | Store) -> dict[str, Any]:
    """Record what the claim will decide at this scale before its trials run (see :mod:`.preregistration`).

    Returns:
        The registration as the report shows it (:func:`scrutiny.analysis.preregistration.status`).
    """
    from scrutiny.analysis.preregistration import (
        confirmatory_part,
        digest,
        hypothesis_key,
        read_record,
        record_file,
        status,
    )
    from scrutiny.store._atomic import write_json

    root = _store(store).root
    complete = {t.trial_id for t in p.trials if t.status == "complete"}
    claim, scale, specs, seeds = p.claim, p.scale, p.specs, p.seeds
    file = record_file(root, claim, p.path, scale)
    record = read_record(file) or {"claim": claim.title, "scale": scale, "hashes": [], "hypotheses": {}}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    current = digest(confirmatory_part(claim, scale, specs, seeds))
    if current not in [e["hash"] for e in record["hashes"]]:
        record["hashes"].append({"hash": current, "first_seen": now})
    for h in claim.hypotheses:
        if not h.applies(scale) or h.exploratory:
            continue
        key = hypothesis_key(h, seeds, specs)
        if key in record["hypotheses"]:
            continue
        existed = sorted(tid for a in (h.a, h.b) if a for s in seeds if (tid := trial_id(specs[a], s)) in complete)
        record["hypotheses"][key] = {"text": h.text(), "first_seen": now, "results_existed": len(existed)}
    file.parent.mkdir(parents=True, exist_ok=True)
    write_json(file, record)
    return status(root, claim, p.path, scale, specs, seeds)


def sweep_summary(sweep: SweepResult) -> dict[str, Any]:
    """What a sweep did, as the report shows it: trials run and skipped, whether it was interrupted, outcomes."""
    return {
        "ran": len(sweep.ran),
        "skipped": len(sweep.skipped),
        "interrupted": sweep.interrupted,
        "counts": sweep.counts(),
    }


def score_claim(
    p: ClaimSetup, store: str | Path | Store, *, sweep: SweepResult | None = None, seed: int = 0
) -> ClaimResult:
    """Score a claim from what the store holds (runs no trial), with every report section's inputs computed.

    Unlike :func:`scrutiny.analysis.check.score_claim`, the sections that show networks or attributions get them
    (:func:`scrutiny.workflows.sections.section_inputs`).
    """
    from scrutiny.workflows.sections import section_inputs

    summary = sweep_summary(sweep) if sweep is not None else None
    return score_setup(p, _store(store), sweep=summary, seed=seed, section_inputs=section_inputs)


def check_claim(
    claim: str | Path | ClaimPlan,
    store: str | Path | Store = DEFAULT_STORE,
    *,
    scale: str | None = None,
    seeds: str | None = None,
    overrides: Sequence[str] | None = None,
    data_root: str | Path | None = None,
    weights: WeightsArg | None = None,
    scores: str | Path | None = None,
    max_seeds: int | None = None,
    round_size: int = 2,
    exclude_duplicates: str | Path | None = None,
    workers: int = 1,
    threads: int | None = None,
    retry_failed: bool = False,
    executor: Executor | None = None,
    reporter: Reporter | None = None,
    seed: int = 0,
) -> ClaimResult:
    """Check a claim: run the trials the store lacks (resumably), then score every arm and decide every hypothesis.

    Example::

        from scrutiny import check_claim
        from scrutiny.cases import case_claim

        result = check_claim(case_claim("digits_width"), "scrutiny-runs", scale="smoke")
        for v in result.verdicts:
            print(v.verdict, v.hypothesis, v.estimate, (v.low, v.high))

    Args:
        claim: The claim YAML, or a plan of it (:func:`plan_claim`; then ``scale``, ``seeds``, ``overrides``,
            ``data_root`` and ``weights`` are the plan's and may not be given).
        store: The trial store (a folder or a :class:`~scrutiny.store.Store`); the claim's registration is kept in it.
        scale: ``smoke``, ``cpu``, ``paper`` or another scale of the claim (default: its ``default_scale``).
        seeds: The verdict seeds instead of the scale's: ``"0-4"`` or ``"0,3,7"``.
        overrides: ``key=value`` overrides applied to every arm.
        data_root: Sets ``data.root`` of every arm.
        weights: Arm -> a local state_dict loaded into that arm's model; or ``["ARM=FILE", ...]``.
        scores: A CSV or JSON file of per-seed scores (``arm``, ``seed``, one column per metric): decide on them
            and run nothing (the claim's specs are not read).
        max_seeds: Sequential mode: add seeds in rounds of ``round_size`` per undecided arm until every
            confirmatory hypothesis is decided or ``max_seeds`` per arm is reached, with alpha spending over the looks.
        round_size: Sequential mode: seeds added per undecided arm per round.
        exclude_duplicates: A duplicates audit (:mod:`scrutiny.audit.duplicates`): decide again without the test
            examples it flags (``result.without_duplicates``).
        workers: Worker processes on this machine.
        threads: CPU threads per trial.
        retry_failed: Run failed trials again.
        executor: Where the trials run (:class:`scrutiny.execute.Executor`); default: this machine.
        reporter: Receives progress events of the sweep.
        seed: Seed of the resampling tests.

    Returns:
        The claim's result: per arm its scores and costs, per hypothesis its verdict, the report sections. When the
        sweep was interrupted, ``result.sweep["interrupted"]`` is true and the finished trials are kept.

    Raises:
        ScrutinyError: An invalid claim, spec or parameter (one line naming it); :class:`MissingInputsError` when the
            scale needs local inputs that are not given.
    """
    if scores is not None:
        given = [n for n, v in (("max_seeds", max_seeds), ("exclude_duplicates", exclude_duplicates)) if v is not None]
        if given:
            raise ScrutinyError(f"scores: decides on the file's scores: it takes no {' or '.join(given)}")
        path = claim.path if isinstance(claim, ClaimSetup) else claim
        return score_claim_file(path, scores, scale if not isinstance(claim, ClaimSetup) else claim.scale, seed)
    st = _store(store)
    if isinstance(claim, ClaimPlan):
        given = [n for n, v in (("scale", scale), ("seeds", seeds), ("overrides", overrides)) if v]
        given += [n for n, v in (("data_root", data_root), ("weights", weights)) if v is not None]
        if given:
            raise ScrutinyError(f"claim: a ClaimPlan fixes {', '.join(given)}; give them to plan_claim instead")
        p = claim
    else:
        p = plan_claim(claim, scale, st, overrides=overrides, seeds=seeds, data_root=data_root, weights=weights)
    looks = schedule(len(p.seeds), max_seeds, round_size) if max_seeds is not None else None  # fixed before any look
    check_inputs(p)
    if looks is not None or p.to_run(retry_failed):
        p.check_models()  # before anything is stored: a model that cannot be built fails here, in one line
    register_claim(p, st)
    from scrutiny.store.arms import record_arms  # which trials serve which arm: runs --claim, compare --a claim:arm

    arm_names = record_arms(st, p.path, p.claim, p.scale, p.specs, p.seeds).names_by_spec()
    if reporter is not None:
        reporter.name_arms(arm_names)  # progress lines show arm names, not hashes

    def run(seeds_per_arm: dict[str, list[int]]) -> SweepResult:
        from scrutiny.execute import run_trials

        pairs = [(p.specs[a], s) for a, arm_seeds in seeds_per_arm.items() for s in arm_seeds]
        return run_trials(
            pairs,
            st,
            reporter=reporter,
            workers=workers,
            threads=threads,
            retry_failed=retry_failed,
            executor=executor,
        )

    if looks is None:
        sweep = run({a: p.seeds for a in p.specs}) if p.to_run(retry_failed) else None
        result = score_claim(p, st, sweep=sweep, seed=seed)
    else:
        result = _until_decisive(p, st, run, looks, seed)
    if exclude_duplicates is not None:
        decide_without_duplicates(result, st, exclude_duplicates, seed)
    return result


def _until_decisive(p: ClaimPlan, store: Store, run: Any, looks: list[int], seed: int) -> ClaimResult:
    """Sequential mode: looks at a fixed schedule of seeds per arm (:mod:`scrutiny.analysis.sequential`)."""
    from scrutiny.analysis.sequential import run_looks
    from scrutiny.analysis.verdicts import Rules
    from scrutiny.workflows.sections import section_inputs

    max_seeds = looks[-1]
    first_new = max(p.seeds) + 1
    pool = list(p.seeds) + list(range(first_new, first_new + max_seeds - len(p.seeds)))
    sweeps: list[SweepResult] = []

    def score_at(counts: dict[str, int]) -> dict[str, ArmScores]:
        chosen = {a: pool[:n] for a, n in counts.items()}
        sweeps.append(run(chosen))
        return collect_arms(p, store, chosen)

    hyps = [h for h in p.claim.hypotheses if h.applies(p.scale)]
    verdicts, made, arms = run_looks(hyps, Rules.of_claim(p.claim, seed=seed), looks, score_at, list(p.specs))
    summary = sweep_summary(sweeps[-1]) if sweeps else None
    result = claim_result(p, store, arms, verdicts, summary, section_inputs)
    result.looks = [look.to_dict() for look in made]
    if any(s.interrupted for s in sweeps):
        result.sweep["interrupted"] = True
    return result
