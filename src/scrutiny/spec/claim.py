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
    ``matches_reported``: ``a``'s mean lies within ``tol`` of its reported value.
    ``equivalent``: ``|a - b| < delta``.
    """

    kind: Literal["greater", "matches_reported", "equivalent"]
    a: str
    b: str | None = None
    margin: float = 0.0
    tol: float | None = None
    delta: float | None = None
    metric: str | None = None
    higher_is_better: bool | None = None
    name: str | None = None
    note: str | None = None

    def text(self) -> str:
        if self.name:
            return self.name
        if self.kind == "greater":
            return f"{self.a} > {self.b}" + (f" + {self.margin:g}" if self.margin else "")
        if self.kind == "matches_reported":
            return f"{self.a} ≈ reported ± {self.tol:g}"
        return f"|{self.a} - {self.b}| < {self.delta:g}"


_GREATER = re.compile(r"^\s*(\w+)\s*(>|<)\s*(\w+)\s*(?:\+\s*([0-9.eE+-]+))?\s*$")
_REPORTED = re.compile(r"^\s*(\w+)\s*(?:≈|~=|~)\s*reported\s*(?:(?:±|\+-|\+/-)\s*([0-9.eE+-]+))?\s*$")
_EQUIV = re.compile(r"^\s*\|\s*(\w+)\s*-\s*(\w+)\s*\|\s*<\s*([0-9.eE+-]+)\s*$")


def parse_hypothesis(text: str) -> dict[str, Any]:
    """``"a > b"``, ``"a > b + 0.01"``, ``"a < b"``, ``"a ≈ reported ± 0.01"``, ``"|a - b| < 0.005"`` -> fields."""
    if m := _GREATER.match(text):
        a, op, b, margin = m.groups()
        if op == "<":
            a, b = b, a
        return {"kind": "greater", "a": a, "b": b, "margin": float(margin or 0.0)}
    if m := _REPORTED.match(text):
        return {"kind": "matches_reported", "a": m[1], "tol": float(m[2]) if m[2] else None}
    if m := _EQUIV.match(text):
        return {"kind": "equivalent", "a": m[1], "b": m[2], "delta": float(m[3])}
    raise ValueError(f"cannot read hypothesis {text!r}; write 'a > b', 'a ≈ reported ± tol' or '|a - b| < delta'")


class Scale(_Strict):
    seeds: str | list[int] | None = None
    set: tuple[str, ...] = ()
    arms: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    note: str | None = None
    budget: str | None = Field(None, description="what this scale costs, for the reader (e.g. '5 min on 2 cores')")


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
            if h.kind == "equivalent" and h.delta is None:
                raise ValueError(f"hypotheses.{i}: 'equivalent' needs delta")
            if h.kind == "matches_reported":
                if self.arms[h.a].reported is None:
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
        return Claim.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        if err["type"] == "value_error":
            message = str(err["msg"]).removeprefix("Value error, ")
            key, _, rest = message.partition(": ")
            raise SpecError(str(path), key if rest else None, rest or message) from None
        raise_spec_error(exc, Claim, {}, str(path))
        raise  # unreachable


def arm_specs(claim: Claim, claim_path: str | Path, scale: str, overrides: list[str] | None = None) -> dict[str, Spec]:
    """The resolved spec of every arm at ``scale``."""
    from scrutiny.errors import ScrutinyError

    if scale not in ("smoke", "cpu", "paper"):
        raise ScrutinyError(f"--scale: expected smoke, cpu or paper, got {scale!r}")
    chosen = claim.scales.get(scale, Scale())  # type: ignore[arg-type]
    base = Path(claim_path).parent
    specs = {}
    for name, arm in claim.arms.items():
        sets = [*arm.set, *chosen.set, *chosen.arms.get(name, ()), *(overrides or [])]
        specs[name] = load_spec(base / arm.spec, sets)
    return specs


def claim_seeds(claim: Claim, scale: str, override: str | None = None) -> list[int]:
    from scrutiny.trials.seeding import parse_seeds

    chosen = claim.scales.get(scale, Scale())  # type: ignore[arg-type]
    value = override or chosen.seeds or claim.seeds
    return parse_seeds(",".join(map(str, value)) if isinstance(value, list) else value)
