"""The record of which trials serve which arm of which claim (``<store>/arms/``): written, found again by claim file
and scale, and resolved to one arm with one-line errors. No trial runs here."""

from __future__ import annotations

import json

import pytest

from scrutiny.analysis.check import claim_setup
from scrutiny.errors import ScrutinyError
from scrutiny.spec import spec_hash
from scrutiny.store import Store
from scrutiny.store.arms import all_arms, arm_names, claim_arm, read_arms, record_arms, split_claim_arm, trials_of

SPEC = """
model: {name: small_cnn, width: 8}
data: {name: digits}
train: {epochs: 1, device: cpu}
"""
CLAIM = """
title: width
source: {paper: none}
seeds: 0-1
arms:
  wide: {spec: s.yaml, set: [model.width=16]}
  narrow: {spec: s.yaml, label: the narrow one}
  same: {spec: s.yaml}
hypotheses: [wide > narrow]
scales:
  smoke: {set: [train.epochs=1], seeds: "0"}
"""


@pytest.fixture
def claim(tmp_path):
    (tmp_path / "s.yaml").write_text(SPEC)
    (tmp_path / "claim.yaml").write_text(CLAIM)
    return tmp_path / "claim.yaml"


def _record(claim, store, scale):
    setup = claim_setup(claim, scale)
    return record_arms(store, claim, setup.claim, setup.scale, setup.specs, setup.seeds)


@pytest.mark.parametrize(
    ("key", "parts"),
    [
        ("claim.yaml:wide", ("claim.yaml", "wide")),
        ("../my lab/Claim.YML:arm-2", ("../my lab/Claim.YML", "arm-2")),
        ("5c1aec48", None),
        ("tiny-digits", None),
        ("torchvision:resnet18", None),  # a label with a colon is not a claim's arm
        ("claim.yaml:", None),
        ("claim.yaml:a/b", None),
    ],
)
def test_claim_arm_keys(key, parts):
    assert split_claim_arm(key) == parts


def test_the_record_says_which_trials_serve_which_arm(claim, tmp_path):
    store = Store(tmp_path / "runs")
    record = _record(claim, store, "cpu")
    (file,) = (store.root / "arms").glob("*.json")
    data = json.loads(file.read_text())  # plain JSON, readable without scrutiny
    assert data["kind"] == "claim arms" and data["schema_version"] and data["scrutiny_version"]
    assert data["claim_file"] == str(claim.resolve()) and data["scale"] == "cpu" and data["title"] == "width"
    assert data["arms"]["narrow"]["label"] == "the narrow one"
    assert data["arms"]["narrow"]["trial_ids"] == [f"{data['arms']['narrow']['spec_hash']}-s{s}" for s in (0, 1)]
    # labels are not part of a spec's identity: 'narrow' and 'same' are one spec, so its trials serve both arms
    assert record.names_by_spec()[record.arms["narrow"].spec_hash] == ["narrow", "same"]
    assert arm_names(store)[record.arms["wide"].spec_hash] == [(str(claim.resolve()), "wide")]
    assert read_arms(store, tmp_path / "." / "claim.yaml") == [record]  # the same file, however it is written


def test_a_later_check_at_a_scale_replaces_its_record_and_scales_are_kept_apart(claim, tmp_path):
    store = tmp_path / "runs"
    _record(claim, store, "cpu")
    _record(claim, store, "smoke")
    (claim.parent / "s.yaml").write_text(SPEC.replace("width: 8", "width: 4"))
    again = _record(claim, store, "cpu")
    assert [r.scale for r in read_arms(store, claim)] == ["smoke", "cpu"]  # smallest first
    (cpu,) = read_arms(store, claim, "cpu")
    assert cpu.arms["narrow"].spec_hash == again.arms["narrow"].spec_hash
    assert cpu.arms["narrow"].spec_hash != read_arms(store, claim, "smoke")[0].arms["narrow"].spec_hash


def test_claim_arm_needs_a_scale_only_where_several_were_checked(claim, tmp_path):
    store = tmp_path / "runs"
    with pytest.raises(ScrutinyError, match=r"^claim.yaml: no check of this claim is recorded in .*runs/"):
        claim_arm(store, "claim.yaml", "wide")
    cpu = _record(claim, store, "cpu")
    assert claim_arm(store, claim, "wide") == (cpu, cpu.arms["wide"])
    _record(claim, store, "smoke")
    with pytest.raises(ScrutinyError, match=r"^scale: .*claim.yaml was checked at scales smoke, cpu in .*; give one$"):
        claim_arm(store, claim, "wide")
    assert claim_arm(store, claim, "wide", "cpu")[1] == cpu.arms["wide"]
    with pytest.raises(ScrutinyError, match=r"^scale: .* was not checked at scale paper .*\(checked: smoke, cpu\)$"):
        claim_arm(store, claim, "wide", "paper")
    with pytest.raises(ScrutinyError) as err:
        claim_arm(store, "claim.yml", "wide")
    assert "\n" not in str(err.value)


def test_an_unknown_arm_lists_the_arms_in_one_line_naming_the_claim_file(claim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _record(claim, tmp_path / "runs", "cpu")
    with pytest.raises(ScrutinyError) as err:
        claim_arm(tmp_path / "runs", "claim.yaml", "wid")
    assert str(err.value) == "claim.yaml: no arm 'wid' at scale cpu (arms: wide, narrow, same)"


def test_unreadable_records_name_no_claim(claim, tmp_path):
    store = tmp_path / "runs"
    record = _record(claim, store, "cpu")
    (store / "arms" / "torn.json").write_text('{"claim_file": ')
    (store / "arms" / "other.json").write_text('{"kind": "something else"}')
    assert all_arms(store) == [record]


def test_an_arms_trials_are_its_planned_ones_and_any_other_seed_of_its_spec(claim, tmp_path):
    store = Store(tmp_path / "runs")
    record = _record(claim, store, "cpu")
    wide = record.arms["wide"]
    spec = claim_setup(claim, "cpu").specs["wide"]
    assert spec_hash(spec) == wide.spec_hash
    for seed in (1, 5):  # seed 5: added by a sequential check, beyond the planned 0-1
        folder = store.root / f"{wide.spec_hash}-s{seed}"
        folder.mkdir(parents=True)
        (folder / "spec.json").write_text(json.dumps({"spec_hash": wide.spec_hash, "seed": seed}))
    assert trials_of(store, wide) == [
        (f"{wide.spec_hash}-s0", 0, "missing"),
        (f"{wide.spec_hash}-s1", 1, "incomplete"),
        (f"{wide.spec_hash}-s5", 5, "incomplete"),
    ]
