"""Hypotheses that name an epoch: ``a[test_acc@1]`` reads the per-epoch metrics every trial stores."""

import pytest

from scrutiny.errors import ScrutinyError, SpecError
from scrutiny.spec import trial_id
from scrutiny.spec.claim import load_claim
from scrutiny.store import Store
from scrutiny.workflows.check import check_claim, plan_claim

SPEC = """
model: {name: small_cnn, width: 8}
data: {name: digits, batch_size: 32, eval_batch_size: 500}
optim: {name: sgd, lr: 0.1, momentum: 0.9}
train: {epochs: 3, device: cpu}
"""
CLAIM = """
title: epochs
source: {paper: none}
seeds: 0-2
arms:
  fast: {spec: s.yaml}
  slow: {spec: s.yaml, set: [optim.lr=0.001]}
hypotheses:
  - fast[test_acc@1] > slow[test_acc@1]
  - fast[test_acc@3] > fast[test_acc@1]
"""


def test_a_hypothesis_names_an_epoch(tmp_path):
    (tmp_path / "s.yaml").write_text(SPEC)
    (tmp_path / "claim.yaml").write_text(CLAIM)
    store = Store(tmp_path / "runs")
    result = check_claim(plan_claim(tmp_path / "claim.yaml", "cpu", store), store, threads=1)
    early, later = result.verdicts
    fast = result.specs["fast"]
    by_seed = [{r["epoch"]: r["test_acc"] for r in store.metrics(trial_id(fast, s))} for s in range(3)]
    assert early.details["mean_a"] == pytest.approx(sum(r[1] for r in by_seed) / 3)
    assert later.details["paired"] and later.estimate == pytest.approx(sum(r[3] - r[1] for r in by_seed) / 3)
    assert early.verdict == "REPRODUCED"  # lr 0.1 is far ahead of lr 0.001 after one epoch
    bad = CLAIM.replace("fast[test_acc@3] > fast[test_acc@1]", "fast[test_acc@9] > fast[test_acc@1]")
    (tmp_path / "claim.yaml").write_text(bad)
    # an epoch the specs never reach is refused when the claim is planned, before any trial (spec/fields.py)
    with pytest.raises(ScrutinyError, match=r"'test_acc' is evaluated at epochs 1-3, not at epoch 9"):
        plan_claim(tmp_path / "claim.yaml", "cpu", store)
    (tmp_path / "claim.yaml").write_text(CLAIM.replace("@3", "@last"))
    with pytest.raises(SpecError, match="write <field>@<epoch> with a whole epoch"):
        load_claim(tmp_path / "claim.yaml")
