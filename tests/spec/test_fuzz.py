"""Property-based fuzzing of what users write: specs, ``--set`` overrides, claims and score files.

Each generated input must either load or fail with one line (a :class:`ScrutinyError`) that names the file (or
``--set``) and the key; never a traceback, and never an invalid number accepted in silence (a boolean where a
number goes, a non-finite float, a size or count out of its range). Hypothesis runs derandomized (a fixed seed)
with a bounded number of examples, so the suite spends well under a minute here.

``tests/faults/measure_hostile_input.py`` runs the same checks over more examples and counts what held.
"""

from __future__ import annotations

import copy
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scrutiny.errors import ScrutinyError
from scrutiny.spec import load_spec
from scrutiny.spec.claim import arm_specs, load_claim

FUZZ = settings(
    derandomize=True, deadline=None, max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

BASE = {
    "label": "fuzz",
    "model": {"name": "small_cnn", "width": 4},
    "data": {"name": "synthetic", "num_classes": 4, "channels": 1, "size": 8, "n_train": 64, "n_test": 32},
    "optim": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "betas": [0.9, 0.999]},
    "schedule": {"name": "step", "step_size": 2, "gamma": 0.5},
    "train": {"epochs": 1, "device": "cpu", "label_smoothing": 0.0},
    "eval": {"every_epochs": 1, "protocol": "plain"},
}
POS_INT = [
    "data.batch_size",
    "data.eval_batch_size",
    "eval.every_epochs",
    "schedule.step_size",
    "model.width",
    "data.n_train",
    "data.n_test",
    "data.size",
    "data.channels",
    "data.num_classes",
]
NONNEG_INT = ["data.num_workers", "train.epochs", "train.checkpoint_every"]
POS_FLOAT = ["optim.lr", "optim.eps", "schedule.gamma", "train.grad_clip"]
NONNEG_FLOAT = ["optim.momentum", "optim.weight_decay", "schedule.warmup_epochs", "schedule.min_lr"]
NUMBERS = {**{k: (int, 1) for k in POS_INT}, **{k: (int, 0) for k in NONNEG_INT}}
NUMBERS |= {**{k: (float, 1) for k in POS_FLOAT}, **{k: (float, 0) for k in NONNEG_FLOAT}}
KEYS = [
    *NUMBERS,
    "label",
    "model",
    "model.name",
    "model.weights",
    "data",
    "data.name",
    "data.sampler",
    "data.drop_last",
    "optim.name",
    "optim.betas",
    "optim.betas.0",
    "schedule.name",
    "schedule.milestones",
    "train",
    "train.device",
    "train.precision",
    "train.deterministic",
    "eval.split",
    "eval.protocol",
    "eval.protocol_args",
    "probes",
    "extends",
    "optim.lrr",
    "model.depth_",
    "unknown",
]

scalars = st.one_of(
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.sampled_from([0, -1, 2**63, 10**30, -(2**64)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.none(),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=6), scalars, max_size=2),
)
mutations = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.sampled_from(KEYS), values),
        st.tuples(st.just("delete"), st.sampled_from(KEYS), st.none()),
    ),
    min_size=1,
    max_size=3,
)
corruptions = st.one_of(st.none(), st.tuples(st.integers(0, 600), st.binary(min_size=1, max_size=6)))


def _one_line(exc: BaseException, source: str) -> None:
    text = str(exc)
    assert "\n" not in text, f"multi-line error: {text!r}"
    assert len(text) < 600, f"error of {len(text)} characters: {text[:200]!r}…"
    assert source in text, f"error does not name {source!r}: {text!r}"


def _apply(data: dict, op: str, key: str, value: Any) -> None:
    """Set or delete the dotted ``key`` (list items by index) in ``data``, creating missing mappings to set."""
    *parents, last = key.split(".")
    node: Any = data
    for part in parents:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
            continue
        if not isinstance(node, dict) or (part not in node and op != "set"):
            return
        node = node.setdefault(part, {})
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        if op == "set":
            node[int(last)] = value
        else:
            del node[int(last)]
    elif isinstance(node, dict):
        if op == "set":
            node[last] = value
        else:
            node.pop(last, None)


def _lookup(data: dict, key: str) -> tuple[bool, Any]:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _valid_number(value: Any, kind: type, low: int) -> bool | None:
    """Whether ``value`` is a valid number of ``kind`` at least ``low`` (positive when 1); None: not judged."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return None  # a numeric string: pydantic's lax parsing decides, as for `lr: 1e-3` (a string in YAML 1.1)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value is None and None
    if isinstance(value, float) and (not math.isfinite(value) or (kind is int and not value.is_integer())):
        return False
    return value > 0 if low == 1 else value >= 0


def check_spec(mutation_list, corruption, folder: Path) -> str:
    """Load one mutated spec file; return "loaded" or "refused", or raise AssertionError if the rule breaks."""
    data = copy.deepcopy(BASE)
    for op, key, value in mutation_list:
        _apply(data, op, key, value)
    raw = yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode()
    if corruption is not None:
        at, junk = corruption
        raw = raw[: at % (len(raw) + 1)] + junk + raw[at % (len(raw) + 1) :]
    path = folder / "spec.yaml"
    path.write_bytes(raw)
    try:
        load_spec(path)
    except ScrutinyError as exc:
        _one_line(exc, str(path))
        return "refused"
    if corruption is None:
        for key, (kind, low) in NUMBERS.items():
            present, value = _lookup(data, key)
            if present and _valid_number(value, kind, low) is False:
                raise AssertionError(f"accepted {key}: {value!r}")
    return "loaded"


override_keys = st.sampled_from(KEYS + ["optim", "data.name.x", "model.width.x", "a..b", "=", ""])
override_values = st.one_of(
    st.text(max_size=25),
    st.sampled_from(["true", ".inf", ".nan", "-1", "0", "[1, 2]", "{a: 1}", "&a [*a]", "1e-3", "'", "[[[["]),
)


def check_override(key: str, value: str, spec_file: Path) -> str:
    text = f"{key}={value}"
    try:
        load_spec(spec_file, [text])
    except ScrutinyError as exc:
        _one_line(exc, "--set")
        return "refused"
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value  # not YAML: the override is the text itself
    if key in NUMBERS and _valid_number(parsed, *NUMBERS[key]) is False:
        raise AssertionError(f"accepted --set {text!r}")
    return "loaded"


CLAIM = {
    "title": "t",
    "source": {"paper": "p", "url": "https://example.org/paper"},
    "seeds": "0-2",
    "arms": {
        "a": {"spec": "s.yaml", "set": ["model.width=8"]},
        "b": {"spec": "s.yaml", "set": ["model.width=4"], "reported": {"value": 0.5}},
    },
    "hypotheses": ["a > b", "b ≈ reported ± 0.1"],
    "scales": {"smoke": {"seeds": "0-1", "set": ["train.epochs=1"], "arms": {"b": ["model.width=2"]}}},
}
CLAIM_KEYS = [
    "title",
    "source",
    "source.url",
    "source.paper",
    "seeds",
    "arms",
    "arms.a",
    "arms.a.spec",
    "arms.a.set",
    "arms.a.set.0",
    "arms.b.reported",
    "arms.b.reported.value",
    "arms.b.reported.pm",
    "hypotheses",
    "hypotheses.0",
    "hypotheses.1",
    "scales",
    "scales.smoke",
    "scales.smoke.seeds",
    "scales.smoke.set",
    "scales.smoke.arms.b",
    "metric",
    "unknown",
]
claim_mutations = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.sampled_from(CLAIM_KEYS), values),
        st.tuples(
            st.just("set"),
            st.sampled_from(["hypotheses.0", "arms.a.set.0", "seeds"]),
            st.text(alphabet="ab<>=≈±|-.0123456789 reportd,", max_size=30),
        ),
        st.tuples(st.just("delete"), st.sampled_from(CLAIM_KEYS), st.none()),
    ),
    min_size=1,
    max_size=3,
)


def check_claim(mutation_list, folder: Path, with_arms: bool) -> str:
    """Load a mutated claim (and, with ``with_arms``, its arms' specs); the claim's own errors name the claim."""
    (folder / "s.yaml").write_text("model: {name: small_cnn}\ndata: {name: synthetic}\ntrain: {epochs: 1}\n")
    data = copy.deepcopy(CLAIM)
    for op, key, value in mutation_list:
        _apply(data, op, key, value)
    path = folder / "claim.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    try:
        claim = load_claim(path)
        if with_arms:
            for scale in ("cpu", "smoke"):
                arm_specs(claim, path, scale)
    except ScrutinyError as exc:
        _one_line(exc, str(path))
        return "refused"
    return "loaded"


json_scores = st.tuples(
    st.just("json"),
    st.one_of(st.dictionaries(st.sampled_from(["A", "B", "C"]), st.lists(scalars, max_size=6), max_size=3), values),
)
csv_scores = st.tuples(st.just("csv"), st.text(alphabet="AB,\n0123456789.-einaf x", max_size=80))
score_files = st.one_of(json_scores, csv_scores)


def check_scores(case, folder: Path, name_the_file: bool = False) -> str:
    """``scrutiny compare --file`` on a generated score file: a result or one line, never a traceback.

    With ``name_the_file``, the line must also name the file (not yet so for every error of cli/compare.py).
    """
    from io import StringIO

    from scrutiny.cli import main

    kind, content = case
    path = folder / f"scores.{kind}"
    path.write_text(json.dumps(content) if kind == "json" else content)
    argv, out, err = sys.argv, sys.stdout, sys.stderr
    sys.argv, sys.stdout, sys.stderr = ["scrutiny", "compare", "--file", str(path), "--json"], StringIO(), StringIO()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    finally:
        text = sys.stderr.getvalue()
        sys.argv, sys.stdout, sys.stderr = argv, out, err
    if code not in (0, None):
        lines = text.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("scrutiny: error: "), f"exit {code}: {text[-300:]!r}"
        assert not name_the_file or str(path) in lines[0], f"does not name the file: {lines[0]!r}"
        return "refused"
    return "loaded"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(mutations, corruptions)
def test_malformed_specs_load_or_fail_in_one_line(folder, mutation_list, corruption):
    check_spec(mutation_list, corruption, folder)


@FUZZ
@given(override_keys, override_values)
def test_set_overrides_load_or_fail_in_one_line(folder, key, value):
    spec_file = folder / "base.yaml"
    spec_file.write_text(yaml.safe_dump(BASE))
    check_override(key, value, spec_file)


@FUZZ
@given(claim_mutations)
def test_malformed_claims_load_or_fail_in_one_line(folder, mutation_list):
    check_claim(mutation_list, folder, with_arms=False)


@settings(FUZZ, max_examples=30)
@given(claim_mutations)
@example([("set", "arms.a.set.0", "")])  # once "--set: expected key=value ...", now names the claim and arms.a.set.0
def test_malformed_claim_arms_fail_naming_the_claim(folder, mutation_list):
    check_claim(mutation_list, folder, with_arms=True)


@settings(FUZZ, max_examples=150)
@given(json_scores)
def test_json_score_files_compare_or_fail_in_one_line(folder, case):
    check_scores(case, folder)


@settings(FUZZ, max_examples=30)
@given(csv_scores)
@example(("csv", "\n8"))  # a row longer than its header: once a TypeError, now one line
def test_csv_score_files_compare_or_fail_in_one_line(folder, case):
    check_scores(case, folder)
