"""Bounded input: size, alias expansion, nesting, seeds and override length are limited, each a one-line error."""

from __future__ import annotations

import os
import time

import pytest

from scrutiny.errors import ScrutinyError, SpecError
from scrutiny.spec import load_spec
from scrutiny.spec.load import MAX_DEPTH, MAX_NODES, MAX_YAML_BYTES, parse_override, read_yaml
from scrutiny.spec.seeds import MAX_SEEDS, parse_seeds

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def _one_line(exc: BaseException, *needles: str) -> None:
    text = str(exc)
    assert "\n" not in text and len(text) < 400, text
    for needle in needles:
        assert needle in text, text


def test_an_alias_bomb_is_refused_quickly(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)  # under 1 KB; 9**9 values when expanded
    t0 = time.perf_counter()
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert time.perf_counter() - t0 < 2.0
    _one_line(info.value, str(path), f"{MAX_NODES:,} values")


def test_deep_nesting_is_refused(tmp_path):
    for depth in (MAX_DEPTH + 5, 5000):  # past the limit, and past Python's recursion limit
        path = tmp_path / f"deep{depth}.yaml"
        path.write_text("a: " + "[" * depth + "]" * depth + "\n")
        with pytest.raises(SpecError) as info:
            read_yaml(path)
        _one_line(info.value, str(path), f"{MAX_DEPTH} levels")


def test_a_recursive_alias_is_refused(tmp_path):
    path = tmp_path / "rec.yaml"
    path.write_text("a: &a [1, *a]\n")
    with pytest.raises(SpecError) as info:
        read_yaml(path)
    _one_line(info.value, str(path))


def test_size_and_kind_of_file(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("x: " + "a" * (MAX_YAML_BYTES + 10) + "\n")
    with pytest.raises(SpecError) as info:
        read_yaml(big)
    _one_line(info.value, str(big), "limit")
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # reading it would hang
    for path in (fifo, tmp_path, "/dev/zero"):
        with pytest.raises(SpecError) as info:
            read_yaml(path)
        _one_line(info.value, str(path), "not a regular file")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"label: caf\xe9\n")
    with pytest.raises(SpecError) as info:
        read_yaml(latin)
    _one_line(info.value, str(latin), "UTF-8", "offset 10")


def test_seed_ranges_are_bounded_and_parsed_in_linear_time():
    with pytest.raises(ScrutinyError) as info:
        parse_seeds("0-99999999999")
    _one_line(info.value, "seeds", f"{MAX_SEEDS:,}")
    with pytest.raises(ScrutinyError):
        parse_seeds("9" * 5000)  # int() of 5,000 digits would raise ValueError
    t0 = time.perf_counter()
    with pytest.raises(ScrutinyError):
        parse_seeds("0," * 4999 + "x")
    assert time.perf_counter() - t0 < 1.0
    assert len(parse_seeds(f"0-{MAX_SEEDS - 1}")) == MAX_SEEDS


def test_overrides_are_bounded():
    with pytest.raises(SpecError) as info:
        parse_override("optim.lr=" + "1" * 20000)
    _one_line(info.value, "--set", "limit")
    with pytest.raises(SpecError) as info:
        parse_override("model.x=" + "[" * 3000 + "]" * 3000)
    _one_line(info.value, "--set", "model.x")


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("optim.lr=true", "optim.lr"),
        ("data.batch_size=false", "data.batch_size"),
        ("data.batch_size=0", "data.batch_size"),
        ("train.epochs=-1", "train.epochs"),
        ("optim.lr=.inf", "optim.lr"),
        ("optim.momentum=.nan", "optim.momentum"),
        ("optim.betas=[0.9, 1.5]", "optim.betas.1"),
        ("model.width=0", "model.width"),
        ("model.width=true", "model.width"),
        ("data.n_train=-5", "data.n_train"),
        ("eval.protocol_args.x=.inf", "eval.protocol_args.x"),
    ],
)
def test_invalid_values_are_refused_naming_the_key(tiny_spec_file, override, key):
    with pytest.raises(SpecError) as info:
        load_spec(tiny_spec_file, [override])
    _one_line(info.value, "--set", key)


def test_error_messages_show_only_an_excerpt(tiny_spec_file):
    with pytest.raises(SpecError) as info:
        load_spec(tiny_spec_file, ["optim.lr=" + "x" * 5000])
    _one_line(info.value, "optim.lr", "…")
