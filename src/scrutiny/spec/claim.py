"""Claims: what a paper reports, on which setups, and the hypotheses to test, as a YAML file.

```yaml
title: Wider small CNNs are better on digits
source: {paper: "...", where: "Table 1", url: "https://..."}
metric: final_test_acc            # a final_* field of each trial's result
higher_is_better: true               # which way is "better" in prose and plots; never flips a hypothesis
seeds: 0-4
multiplicity: holm                   # holm (default), bonferroni or none: the family-wise error rate at alpha
alpha: 0.05
failed_seeds: {diverged: worst, failed: inconclusive}
pairing: none                        # or seed: paired tests over common seeds
tuning: {seeds: 100-102, split: val, configurations: {wide: 4, narrow: 4}}
arms:
  wide:   {spec: ../../specs/digits_cnn.yaml, set: [model.width=32], label: "width 32",
           reported: {value: 0.98, pm: 0.005, note: "Table 1"}}
  narrow: {spec: ../../specs/digits_cnn.yaml, set: [model.width=4]}
hypotheses:
  - wide > narrow                 # literally: mean(wide) > mean(narrow) ("+ 0.01" or "- 0.01" for a margin)
  - wide ≈ reported ± 0.01        # A's mean within tol of its reported value
  - "|wide - narrow| < 0.05"      # A and B equivalent within delta
scales:
  smoke: {seeds: 0-1, set: [train.epochs=1]}
  cpu:   {seeds: 0-2}
  paper: {seeds: 0-4, set: [data.root=/data]}
```

Spec paths are relative to the claim file. An arm's spec is its file, then the arm's ``set``, then the scale's
``set``, then the scale's per-arm ``set``, then overrides from the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeGuard

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from scrutiny.errors import SpecError
from scrutiny.spec._errors import raise_spec_error
from scrutiny.spec.fields import SpecFields, spec_fields
from scrutiny.spec.hypothesis import MAX_HYPOTHESIS_CHARS, Hypothesis, parse_hypothesis
from scrutiny.spec.load import add_import_folder, load_spec, read_yaml
from scrutiny.spec.schema import Spec
from scrutiny.spec.seeds import parse_seeds

__all__ = [
    "MAX_HYPOTHESIS_CHARS",
    "Claim",
    "Hypothesis",
    "arm_specs",
    "check_fields",
    "claim_seeds",
    "load_claim",
    "parse_hypothesis",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _one_seed(value: Any) -> Any:
    """``seeds: 0`` (one seed, read by YAML as a number) means ``"0"``."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Source(_Strict):
    paper: str
    where: str | None = None
    url: str | None = None
    note: str | None = None


class Reported(_Strict):
    """A published number: ``value`` with its ``pm`` where the paper gives one.

    ``runs``: how many runs the published number is the mean of (1 by default: most papers report one run). A match
    against one published run compares that run with the distribution of our runs (a prediction interval), not
    with the interval of our mean.
    """

    value: float
    pm: float | None = None
    runs: int = Field(1, ge=1)
    note: str | None = None


class Arm(_Strict):
    spec: str
    set: tuple[str, ...] = ()
    label: str | None = None
    reported: Reported | None = None
    note: str | None = None


class FailedSeeds(_Strict):
    """What a seed that did not complete counts as, per status.

    ``worst``: scored at the worst end of the metric's range (divergence is a result of the method); ``exclude``:
    left out, and the verdict says how many; ``inconclusive``: any such seed makes the hypotheses on that arm
    INCONCLUSIVE.
    """

    diverged: Literal["worst", "exclude", "inconclusive"] = "worst"
    failed: Literal["worst", "exclude", "inconclusive"] = "inconclusive"


class Tuning(_Strict):
    """How the arms' settings were chosen, declared before the verdict run."""

    seeds: str | list[int] | None = Field(
        None, description="seeds used while tuning (must differ from the verdict seeds)"
    )
    split: Literal["train", "val", "test"] | None = Field(None, description="the split the settings were chosen on")
    configurations: dict[str, int] = Field(default_factory=dict, description="configurations tried per arm")
    note: str | None = None

    _seeds = field_validator("seeds", mode="before")(_one_seed)


ScaleName = Literal["smoke", "cpu", "paper"]
SCALE_NAMES: tuple[ScaleName, ...] = ("smoke", "cpu", "paper")


def _is_scale_name(scale: str) -> TypeGuard[ScaleName]:
    return scale in SCALE_NAMES


class Scale(_Strict):
    seeds: str | list[int] | None = None
    set: tuple[str, ...] = ()
    arms: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    note: str | None = None
    budget: str | None = Field(None, description="what this scale costs, for the reader (e.g. '5 min on 2 cores')")
    requires: tuple[Literal["data_root", "weights"], ...] = Field(
        (), description="local inputs the user must give at this scale: a data folder, weights for evaluation-only arms"
    )

    _seeds = field_validator("seeds", mode="before")(_one_seed)


class SectionRef(BaseModel):
    """One entry of ``sections``: a registered report section (``scrutiny list sections``) and its arguments."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Claim(_Strict):
    title: str
    source: Source
    description: str | None = None
    metric: str = "final_test_acc"
    higher_is_better: bool = True
    seeds: str | list[int] = "0-2"
    arms: dict[str, Arm]
    hypotheses: tuple[Hypothesis, ...]
    scales: dict[ScaleName, Scale] = Field(default_factory=dict)
    default_scale: ScaleName = "cpu"
    notes: tuple[str, ...] = ()
    sections: tuple[SectionRef, ...] = ()
    alpha: float = Field(0.05, gt=0, lt=0.5, description="family-wise error rate of the confirmatory hypotheses")
    multiplicity: Literal["holm", "bonferroni", "none"] = "holm"
    failed_seeds: FailedSeeds = Field(default_factory=FailedSeeds)
    pairing: Literal["none", "seed"] = Field("none", description="'seed': paired tests over the arms' common seeds")
    tuning: Tuning | None = None
    ranges: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="metric -> (low, high) where the name does not tell (acc, iou: [0, 1])"
    )

    _seeds = field_validator("seeds", mode="before")(_one_seed)

    @field_validator("failed_seeds", mode="before")
    @classmethod
    def _one_policy(cls, value: Any) -> Any:
        return {"diverged": value, "failed": value} if isinstance(value, str) else value

    @field_validator("hypotheses", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [parse_hypothesis(h) if isinstance(h, str) else h for h in value]

    @model_validator(mode="after")
    def _check_names(self) -> Claim:
        for i, h in enumerate(self.hypotheses):
            for side in (h.a, h.b):
                if side is not None and side not in self.arms:
                    raise ValueError(f"hypotheses.{i}: unknown arm '{side}'; arms are {sorted(self.arms)}")
            if h.kind in ("compare", "equivalent") and h.b is None:
                raise ValueError(f"hypotheses.{i}: '{h.kind}' needs two arms")
            for m in (h.metric, h.metric_b):
                if m and "@" in m and not m.rpartition("@")[2].isdigit():
                    raise ValueError(f"hypotheses.{i}: '{m}': write <field>@<epoch> with a whole epoch (test_acc@2)")
            if h.paired and (h.metric_b or h.metric or self.metric) == (h.metric or self.metric):
                raise ValueError(f"hypotheses.{i}: both sides are arm '{h.a}' with the same metric")
            if h.kind == "bound" and h.value is None:
                raise ValueError(f"hypotheses.{i}: 'bound' needs value")
            if h.kind == "equivalent" and h.delta is None:
                raise ValueError(f"hypotheses.{i}: 'equivalent' needs delta")
            if h.kind == "matches_reported":
                if h.value is None and self.arms[h.a].reported is None:
                    raise ValueError(f"hypotheses.{i}: arm '{h.a}' has no reported value")
                if h.tol is None:
                    raise ValueError(f"hypotheses.{i}: 'matches_reported' needs tol (write 'a ≈ reported ± 0.01')")
        if self.tuning is not None:
            unknown = sorted(set(self.tuning.configurations) - set(self.arms))
            if unknown:
                raise ValueError(f"tuning.configurations: unknown arm(s) {', '.join(unknown)}")
        for metric, (low, high) in self.ranges.items():
            if not low < high:
                raise ValueError(f"ranges.{metric}: expected low < high, got {low}, {high}")
        for name, scale in self.scales.items():
            for arm in scale.arms:
                if arm not in self.arms:
                    raise ValueError(f"scales.{name}.arms: unknown arm '{arm}'")
        return self


def load_claim(path: str | Path) -> Claim:
    """Read and validate a claim file; errors are one line naming the file and the key."""
    path = Path(path)
    data = read_yaml(path)
    add_import_folder(path.parent)  # the claim's own module:callable names, and specs in subfolders, see its modules
    try:
        claim = Claim.model_validate(data)
        _check_sections(claim, path)
        return claim
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        if err["type"] == "value_error":
            message = str(err["msg"]).removeprefix("Value error, ")
            key, _, rest = message.partition(": ")
            raise SpecError(str(path), key if rest else None, rest or message) from None
        raise_spec_error(exc, Claim, {}, str(path))
        raise  # unreachable


def arm_specs(
    claim: Claim,
    claim_path: str | Path,
    scale: str,
    overrides: list[str] | None = None,
    arm_overrides: dict[str, list[str]] | None = None,
) -> dict[str, Spec]:
    """The resolved spec of every arm at ``scale``; ``arm_overrides`` (arm -> ``key=value``s) apply last."""
    from scrutiny.errors import ScrutinyError

    if not _is_scale_name(scale):
        raise ScrutinyError(f"scale: expected smoke, cpu or paper, got {scale!r}")
    chosen = claim.scales.get(scale, Scale())
    unknown = sorted(set(arm_overrides or {}) - set(claim.arms))
    if unknown:
        raise ScrutinyError(f"arm overrides: unknown arm(s) {', '.join(unknown)}; arms are {', '.join(claim.arms)}")
    base = Path(claim_path).parent
    specs = {}
    for name, arm in claim.arms.items():
        stages = [
            (f"arms.{name}.set", list(arm.set)),
            (f"scales.{scale}.set", list(chosen.set)),
            (f"scales.{scale}.arms.{name}", list(chosen.arms.get(name, ()))),
            (None, list(overrides or [])),
            (None, list((arm_overrides or {}).get(name, ()))),
        ]
        try:
            specs[name] = load_spec(base / arm.spec, [item for _, items in stages for item in items])
        except SpecError as exc:
            _blame_claim(exc, claim_path, base / arm.spec, stages)
            raise
    return specs


def _blame_claim(exc: SpecError, claim_path: str | Path, spec_path: Path, stages: list) -> None:
    """An override error from a claim's own ``set`` lists names the claim file and the key that holds the item."""
    from scrutiny.spec.load import OVERRIDE_SOURCE

    if exc.source != OVERRIDE_SOURCE:
        return
    done: list[str] = []
    for where, items in stages:
        for i, item in enumerate(items):
            try:
                load_spec(spec_path, [*done, item])
            except SpecError as inner:
                if where is not None and inner.source == OVERRIDE_SOURCE:
                    key = f"{where}.{i}" + (f" ({inner.key})" if inner.key else "")
                    raise SpecError(str(claim_path), key, inner.message) from None
                return
            done.append(item)


def check_fields(
    claim: Claim,
    claim_path: str | Path,
    scale: str,
    specs: dict[str, Spec],
    tasks: dict[str, str | None] | None = None,
) -> None:
    """Every metric the claim names must be a field that its arms' trials will hold (:mod:`scrutiny.spec.fields`).

    The claim's ``metric`` is read from every arm's final record; a hypothesis's metrics from its arms' records
    (``final_*``, ``best_*``, probe fields) or, as ``<key>@<epoch>``, from their per-epoch rows, at an epoch that
    the arm's spec at ``scale`` trains and evaluates (a hypothesis that does not apply at ``scale`` is checked for
    its key only).

    Args:
        claim: The claim.
        claim_path: Its file, named in the error.
        scale: The scale whose specs are given.
        specs: Arm -> its resolved spec at ``scale`` (:func:`arm_specs`).
        tasks: Arm -> its dataset's task where known (default: unknown; every task's metrics are allowed).

    Raises:
        SpecError: One line naming the claim file, the key (``metric`` or ``hypotheses.<i>``), the hypothesis, the
            arm and the field, with the close matches or the fields there will be.
    """
    fields = {arm: spec_fields(spec, (tasks or {}).get(arm)) for arm, spec in specs.items()}
    if "@" in claim.metric:
        raise SpecError(
            str(claim_path),
            "metric",
            f"'{claim.metric}': the claim's metric is read from each trial's final record; name an epoch in a "
            "hypothesis instead (a[test_acc@2] > b[test_acc@2])",
        )
    for arm, f in fields.items():
        problem = f.problem(claim.metric, any_record_field=True)
        if problem is not None:
            raise SpecError(str(claim_path), "metric", f"arm '{arm}': {problem}")
    for i, h in enumerate(claim.hypotheses):
        metric_a = h.metric or claim.metric
        for arm, metric in [(h.a, metric_a)] + ([(h.b, h.metric_b or metric_a)] if h.b else []):
            if metric == claim.metric or arm not in fields:
                continue  # checked above for every arm; an unknown arm is the claim's own error
            name = metric
            if "@" in metric and not h.applies(scale):
                name = _any_epoch(metric, fields[arm])
            problem = fields[arm].problem(name)
            if problem is not None:
                at = f" at scale {scale}" if "@" in name else ""
                raise SpecError(str(claim_path), f"hypotheses.{i}", f"'{h.text()}': arm '{arm}'{at}: {problem}")


def _any_epoch(metric: str, fields: SpecFields) -> str:
    """``key@k`` at an epoch the spec has, for a hypothesis checked at another scale than its own."""
    key, _, at = metric.rpartition("@")
    if not at.isdigit():
        return metric
    epochs = fields.evaluated if key in fields.eval_keys else fields.epochs
    return f"{key}@{epochs[-1]}" if epochs else metric


def claim_seeds(claim: Claim, scale: str, override: str | None = None) -> list[int]:
    chosen = claim.scales.get(scale, Scale()) if _is_scale_name(scale) else Scale()
    value = override or chosen.seeds or claim.seeds
    return parse_seeds(",".join(map(str, value)) if isinstance(value, list) else value)


def _check_sections(claim: Claim, path: Path) -> None:
    """Each section's name must be registered and its arguments must fit its signature."""
    from scrutiny.registry import SECTIONS
    from scrutiny.spec.load import _resolve_builder_args

    for i, entry in enumerate(claim.sections):
        _resolve_builder_args(
            entry.name,
            entry.kwargs,
            f"sections.{i}",
            SECTIONS,
            {},
            str(path),
            common={"result", "store"},
            name_key=f"sections.{i}.name",
        )
