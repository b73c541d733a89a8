"""Specs: YAML plus ``key=value`` overrides -> frozen, validated, resolved setups; their identity and diff."""

from scrutiny.spec.diff import ABSENT, Difference, diff, flatten
from scrutiny.spec.identity import canonical_json, spec_hash, trial_id
from scrutiny.spec.load import load_spec, parse_override, read_yaml, resolve
from scrutiny.spec.schema import Spec
from scrutiny.spec.seeds import parse_seeds

__all__ = [
    "ABSENT",
    "Difference",
    "Spec",
    "canonical_json",
    "diff",
    "flatten",
    "load_spec",
    "parse_override",
    "parse_seeds",
    "read_yaml",
    "resolve",
    "spec_hash",
    "trial_id",
]
