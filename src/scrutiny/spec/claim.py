"""Claims: what a paper reports, on which setups, and the hypotheses to test, as a YAML file.

```yaml
title: Wider small CNNs are better on digits
source: {paper: "...", where: "Table 1", url: "https://..."}
metric: final_test_acc            # a final_* field of each trial's result
higher_is_better: true
seeds: 0-4
arms:
  wide:   {spec: ../../specs/digits_cnn.yaml, set: [model.width=32], label: "width 32",
           reported: {value: 0.98, pm: 0.005, note: "Table 1"}}
  narrow: {spec: ../../specs/digits_cnn.yaml, set: [model.width=4]}
hypotheses:
  - wide > narrow                 # A > B (optionally "wide > narrow + 0.01" for a margin)
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

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from scrutiny.errors import SpecError
from scrutiny.spec._errors import raise_spec_error
from scrutiny.spec.load import load_spec, read_yaml
from scrutiny.spec.schema import Spec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    paper: str
    where: str | None = None
    url: str | None = None
    note: str | None = None


class Reported(_Strict):
    """A published number: ``value`` with its ``pm`` where the paper gives one."""

    value: float
    pm: float | None = None
    note: str | None = None


class Arm(_Strict):
    spec: str
    set: tuple[str, ...] = ()
    label: str | None = None
    reported: Reported | None = None
    note: str | None = None


class Hypothesis(_Strict):
    """One testable statement.

    ``greater``: ``a`` beats ``b`` by more than ``margin`` (in the metric's units, in its better direction).
    ``bound``: the mean of ``a`` lies above (``op: ">"``) or below (``op: "<"``) the number ``value``, read
    literally, whatever the metric's direction.
    ``matches_reported``: ``a``'s mean lies within ``tol`` of ``value``, or of ``a``'s reported value.
    ``equivalent``: ``|a - b| < delta``.

    ``metric`` is the metric of ``a`` (and of ``b`` unless ``metric_b`` is set). When ``a`` and ``b`` are the same
    arm, the two sides are two metrics of the same trials and the comparison is paired over seeds.
    """

    kind: Literal["greater", "bound", "matches_reported", "equivalent"]
    a: str
    b: str | None = None
    margin: float = 0.0
    tol: float | None = None
    delta: float | None = None
    value: float | None = None
    op: Literal[">", "<"] = ">"
    metric: str | None = None
    metric_b: str | None = None
    higher_is_better: bool | None = None
    name: str | None = None
    note: str | None = None
    scales: tuple[Literal["smoke", "cpu", "paper"], ...] | None = Field(
        None, description="the scales at which this hypothesis is tested (default: all)"
    )

    def applies(self, scale: str) -> bool:
        return self.scales is None or scale in self.scales

    @property
    def paired(self) -> bool:
        return self.b is not None and self.a == self.b

    def side(self, which: str) -> str:
        if which == "a":
            return f"{self.a}[{self.metric}]" if self.metric else self.a
        metric = self.metric_b or self.metric
        return f"{self.b}[{metric}]" if metric and (self.metric_b or self.paired) else str(self.b)

    def text(self) -> str:
        if self.name:
            return self.name
        a = self.side("a")
        if self.kind == "greater":
            return f"{a} > {self.side('b')}" + (f" + {self.margin:g}" if self.margin else "")
        if self.kind == "bound":
            return f"{a} {self.op} {self.value:g}"
        if self.kind == "matches_reported":
            target = "reported" if self.value is None else f"{self.value:g}"
            return f"{a} ≈ {target} ± {self.tol:g}"
        return f"|{a} - {self.side('b')}| < {self.delta:g}"


_SIDE = r"(\w+)(?:\[\s*([\w.:-]+)\s*\])?"
_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
_PM = r"(?:±|\+-|\+/-)"
_GREATER = re.compile(rf"^\s*{_SIDE}\s*(>|<)\s*{_SIDE}\s*(?:\+\s*{_NUMBER})?\s*$")
_BOUND = re.compile(rf"^\s*{_SIDE}\s*(>|<)\s*{_NUMBER}\s*$")
_MATCHES = re.compile(rf"^\s*{_SIDE}\s*(?:≈|~=|~)\s*(reported|{_NUMBER})\s*(?:{_PM}\s*{_NUMBER})?\s*$")
_EQUIV = re.compile(rf"^\s*\|\s*{_SIDE}\s*-\s*{_SIDE}\s*\|\s*<\s*{_NUMBER}\s*$")


def _metrics(ma: str | None, mb: str | None, same_arm: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if ma:
        out["metric"] = ma
    if mb and (mb != ma or same_arm):
        out["metric_b"] = mb
    return out


def parse_hypothesis(text: str) -> dict[str, Any]:
    """Read one hypothesis written as text into its fields.

    Forms (``arm`` or ``arm[metric]`` on each side): ``a > b``, ``a > b + 0.01``, ``a < b`` (``b`` beats ``a``),
    ``a[m] > 0.5`` and ``a[m] < 0.5`` (a literal bound), ``a ≈ reported ± 0.01``, ``a[m] ≈ 2.0 ± 0.2``,
    ``|a - b| < 0.005``, and ``a[m1] > a[m2]`` (two metrics of the same trials, paired over seeds).
    """
    if m := _BOUND.match(text):
        a, ma, op, value = m.groups()
        return {"kind": "bound", "a": a, "op": op, "value": float(value), **_metrics(ma, None, False)}
    if m := _GREATER.match(text):
        a, ma, op, b, mb, margin = m.groups()
        if op == "<":
            a, ma, b, mb = b, mb, a, ma
        if ma is None and mb is not None and a != b:
            raise ValueError(f"cannot read hypothesis {text!r}: name the metric of both sides or of neither")
        return {"kind": "greater", "a": a, "b": b, "margin": float(margin or 0.0), **_metrics(ma, mb, a == b)}
    if m := _MATCHES.match(text):
        a, ma, target, value, tol = m.groups()
        out = {"kind": "matches_reported", "a": a, "tol": float(tol) if tol else None, **_metrics(ma, None, False)}
        if target != "reported":
            out["value"] = float(value)
        return out
    if m := _EQUIV.match(text):
        a, ma, b, mb, delta = m.groups()
        if ma is None and mb is not None and a != b:
            raise ValueError(f"cannot read hypothesis {text!r}: name the metric of both sides or of neither")
        return {"kind": "equivalent", "a": a, "b": b, "delta": float(delta), **_metrics(ma, mb, a == b)}
    raise ValueError(
        f"cannot read hypothesis {text!r}; write 'a > b', 'a[metric] > 0.5', 'a ≈ reported ± tol', "
        "'a[metric] ≈ 2.0 ± 0.1' or '|a - b| < delta'"
    )


class Scale(_Strict):
    seeds: str | list[int] | None = None
    set: tuple[str, ...] = ()
    arms: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    note: str | None = None
    budget: str | None = Field(None, description="what this scale costs, for the reader (e.g. '5 min on 2 cores')")
    requires: tuple[Literal["data_root", "weights"], ...] = Field(
        (), description="local inputs the user must give at this scale: a data folder, weights for evaluation-only arms"
    )


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
    scales: dict[Literal["smoke", "cpu", "paper"], Scale] = Field(default_factory=dict)
    default_scale: Literal["smoke", "cpu", "paper"] = "cpu"
    notes: tuple[str, ...] = ()
    sections: tuple[SectionRef, ...] = ()

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
            if h.kind in ("greater", "equivalent") and h.b is None:
                raise ValueError(f"hypotheses.{i}: '{h.kind}' needs two arms")
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
        for name, scale in self.scales.items():
            for arm in scale.arms:
                if arm not in self.arms:
                    raise ValueError(f"scales.{name}.arms: unknown arm '{arm}'")
        return self


def load_claim(path: str | Path) -> Claim:
    """Read and validate a claim file; errors are one line naming the file and the key."""
    path = Path(path)
    data = read_yaml(path)
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

    if scale not in ("smoke", "cpu", "paper"):
        raise ScrutinyError(f"--scale: expected smoke, cpu or paper, got {scale!r}")
    chosen = claim.scales.get(scale, Scale())  # type: ignore[arg-type]
    unknown = sorted(set(arm_overrides or {}) - set(claim.arms))
    if unknown:
        raise ScrutinyError(f"arm overrides: unknown arm(s) {', '.join(unknown)}; arms are {', '.join(claim.arms)}")
    base = Path(claim_path).parent
    specs = {}
    for name, arm in claim.arms.items():
        sets = [
            *arm.set,
            *chosen.set,
            *chosen.arms.get(name, ()),
            *(overrides or []),
            *(arm_overrides or {}).get(name, ()),
        ]
        specs[name] = load_spec(base / arm.spec, sets)
    return specs


def claim_seeds(claim: Claim, scale: str, override: str | None = None) -> list[int]:
    from scrutiny.trials.seeding import parse_seeds

    chosen = claim.scales.get(scale, Scale())  # type: ignore[arg-type]
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
