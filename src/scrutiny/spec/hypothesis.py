"""Hypotheses: one testable statement of a claim, read literally, as a model and as text.

The text forms (``a > b``, ``a < b + 0.01``, ``a[m] > 0.5``, ``a ≈ reported ± 0.01``, ``|a - b| < 0.005``, ...) are
read by one linear scan into tokens, so long or hostile input costs linear time; at most ``MAX_HYPOTHESIS_CHARS``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


MAX_HYPOTHESIS_CHARS = 400


class Hypothesis(_Strict):
    """One testable statement, read literally.

    ``compare``: ``mean(a) op mean(b) + margin`` with ``op`` ``>`` or ``<`` and a signed ``margin`` (``a > b - 0.01``
    is non-inferiority: a is at most 0.01 worse).
    ``bound``: ``mean(a) op value``.
    ``matches_reported``: ``a``'s mean lies within ``tol`` of ``value``, or of ``a``'s reported value.
    ``equivalent``: ``|mean(a) - mean(b)| < delta``.

    ``metric`` is the metric of ``a`` (and of ``b`` unless ``metric_b`` is set). When ``a`` and ``b`` are the same
    arm, the two sides are two metrics of the same trials and the comparison is paired over seeds. The claim's
    ``higher_is_better`` never changes what a hypothesis says. ``exploratory: true`` keeps a hypothesis out of the
    family whose error rate is controlled; it is reported apart.
    """

    kind: Literal["compare", "bound", "matches_reported", "equivalent"]
    a: str
    b: str | None = None
    op: Literal[">", "<"] = ">"
    margin: float = 0.0
    tol: float | None = Field(None, gt=0)
    delta: float | None = Field(None, gt=0)
    value: float | None = None
    metric: str | None = None
    metric_b: str | None = None
    name: str | None = None
    note: str | None = None
    exploratory: bool = False
    scales: tuple[Literal["smoke", "cpu", "paper"], ...] | None = Field(
        None, description="the scales at which this hypothesis is tested (default: all)"
    )

    @model_validator(mode="before")
    @classmethod
    def _old_forms(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if "higher_is_better" in data:
                raise ValueError(
                    "higher_is_better: a hypothesis means what it says; write the comparison literally "
                    "(op: '<' or 'a[metric] < b[metric]') instead of flipping the metric's direction"
                )
            if data.get("kind") == "greater":
                data = {**data, "kind": "compare"}
        return data

    def applies(self, scale: str) -> bool:
        return self.scales is None or scale in self.scales

    @property
    def paired(self) -> bool:
        return self.b is not None and self.a == self.b

    def side(self, which: str) -> str:
        if which == "a":
            return f"{self.a}[{self.metric}]" if self.metric else self.a
        metric = self.metric_b or self.metric
        return f"{self.b}[{metric}]" if metric and (self.metric_b or self.paired or self.metric) else str(self.b)

    def text(self) -> str:
        if self.name:
            return self.name
        a = self.side("a")
        if self.kind == "compare":
            margin = f" {'+' if self.margin > 0 else '-'} {abs(self.margin):g}" if self.margin else ""
            return f"{a} {self.op} {self.side('b')}{margin}"
        if self.kind == "bound":
            return f"{a} {self.op} {self.value:g}"
        if self.kind == "matches_reported":
            target = "reported" if self.value is None else f"{self.value:g}"
            return f"{a} ≈ {target} ± {self.tol:g}"
        return f"|{a} - {self.side('b')}| < {self.delta:g}"


# One linear scan of the text into tokens (no nested quantifiers, so no backtracking on long input).
_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_]\w*)"
    r"|\[\s*(?P<metric>[\w.:@-]+)\s*\]|(?P<op>\+/-|\+-|~=|[<>≈~±|+-]))"
)
_FORMS = (
    "'a > b', 'a < b + 0.01', 'a > b - 0.01', 'a[metric] > 0.5', 'a ≈ reported ± tol', 'a[metric] ≈ 2.0 ± 0.1' "
    "or '|a - b| < delta'"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"cannot read hypothesis {_excerpt(text)}: unexpected {text[pos : pos + 10].strip()!r}")
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "op":
            value = {"+/-": "±", "+-": "±", "~=": "≈", "~": "≈"}.get(value, value)
        out.append((kind, value))
        pos = m.end()
    return out


def _excerpt(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


class _Reader:
    """A cursor over the tokens of one hypothesis."""

    def __init__(self, text: str) -> None:
        self.text, self.toks, self.i = text, _tokens(text), 0

    def peek(self, kind: str, value: str | None = None) -> bool:
        if self.i >= len(self.toks):
            return False
        k, v = self.toks[self.i]
        return k == kind and (value is None or v == value)

    def take(self, kind: str, value: str | None = None) -> str:
        if not self.peek(kind, value):
            raise ValueError(f"cannot read hypothesis {_excerpt(self.text)}; write {_FORMS}")
        self.i += 1
        return self.toks[self.i - 1][1]

    def side(self) -> tuple[str, str | None]:
        name = self.take("name")
        return name, (self.take("metric") if self.peek("metric") else None)

    def number(self) -> float:
        sign = -1.0 if self.peek("op", "-") and self.take("op") else 1.0
        if sign > 0 and self.peek("op", "+"):
            self.take("op")
        return sign * float(self.take("num"))

    def done(self) -> bool:
        return self.i == len(self.toks)


def parse_hypothesis(text: str) -> dict[str, Any]:
    """Read one hypothesis written as text into its fields; it means literally what it says.

    Forms (``arm`` or ``arm[metric]`` on each side): ``a > b``, ``a < b``, ``a > b + 0.01``, ``a > b - 0.01``
    (non-inferiority), ``a[m] > 0.5`` and ``a[m] < 0.5`` (a bound), ``a ≈ reported ± 0.01``, ``a[m] ≈ 2.0 ± 0.2``,
    ``|a - b| < 0.005``, and ``a[m1] > a[m2]`` (two metrics of the same trials, paired over seeds). At most
    ``MAX_HYPOTHESIS_CHARS`` characters.
    """
    if not isinstance(text, str):
        raise ValueError(f"a hypothesis must be text or a mapping, got {type(text).__name__}")
    if len(text) > MAX_HYPOTHESIS_CHARS:
        raise ValueError(f"hypothesis {_excerpt(text)} is longer than {MAX_HYPOTHESIS_CHARS} characters")
    r = _Reader(text)
    if r.peek("op", "|"):
        r.take("op")
        (a, ma), _, (b, mb) = r.side(), r.take("op", "-"), r.side()
        r.take("op", "|")
        r.take("op", "<")
        delta = r.number()
        out = {"kind": "equivalent", "a": a, "b": b, "delta": delta, **_metrics(ma, mb, a == b, text)}
    else:
        a, ma = r.side()
        if r.peek("op", "≈"):
            r.take("op")
            out = {"kind": "matches_reported", "a": a, **_metrics(ma, None, False, text)}
            if r.peek("name", "reported"):
                r.take("name")
            else:
                out["value"] = r.number()
            if r.peek("op", "±"):
                r.take("op")
                out["tol"] = r.number()
        else:
            op = r.take("op", ">") if r.peek("op", ">") else r.take("op", "<")
            if r.peek("name"):
                b, mb = r.side()
                margin = 0.0
                if r.peek("op", "+") or r.peek("op", "-"):
                    sign = 1.0 if r.take("op") == "+" else -1.0
                    margin = sign * float(r.take("num"))
                out = {"kind": "compare", "a": a, "b": b, "op": op, "margin": margin, **_metrics(ma, mb, a == b, text)}
            else:
                out = {"kind": "bound", "a": a, "op": op, "value": r.number(), **_metrics(ma, None, False, text)}
    if not r.done():
        raise ValueError(
            f"cannot read hypothesis {_excerpt(text)}: unexpected text after the statement; write {_FORMS}"
        )
    return out


def _metrics(ma: str | None, mb: str | None, same_arm: bool, text: str) -> dict[str, Any]:
    if ma is None and mb is not None and not same_arm:
        raise ValueError(f"cannot read hypothesis {_excerpt(text)}: name the metric of both sides or of neither")
    out: dict[str, Any] = {}
    if ma:
        out["metric"] = ma
    if mb and (mb != ma or same_arm):
        out["metric_b"] = mb
    return out
