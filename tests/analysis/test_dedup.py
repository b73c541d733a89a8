"""Re-scoring without leaked test examples, end to end: a claim that holds only because of planted leaks flips."""

import numpy as np
import pytest

from scrutiny.analysis.check import claim_setup, score_claim
from scrutiny.analysis.dedup import rescore_without_duplicates
from scrutiny.analysis.verdicts import REPRODUCED, evaluate
from scrutiny.audit.duplicates import audit_duplicates, load_audit
from scrutiny.audit.images import sources_from_splits
from scrutiny.errors import ScrutinyError
from scrutiny.execute import run_trials
from scrutiny.store import Store

# Labels carry no signal, so nothing generalises; half the test split are copies of training images (with their
# labels), so a model that memorised its training set scores well on them, and only on them.
LEAKY = """
import torch
from torch.utils.data import TensorDataset
from scrutiny.data import DataBundle

def leaky(*, root=None, n_train: int = 96, n_leaked: int = 40, n_fresh: int = 40):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_train + n_fresh, 1, 8, 8, generator=g)
    y = torch.randint(0, 2, (n_train + n_fresh,), generator=g)
    test_x = torch.cat([x[:n_leaked], x[n_train:]])
    test_y = torch.cat([y[:n_leaked], y[n_train:]])
    splits = {"train": TensorDataset(x[:n_train], y[:n_train]), "test": TensorDataset(test_x, test_y)}
    return DataBundle(splits=splits, num_classes=2, in_channels=1, image_size=(8, 8))
"""
SPEC = """
model: {name: small_cnn, width: 16}
data: {name: "leaky_data:leaky", batch_size: 32}
optim: {name: adam, lr: 0.01}
train: {epochs: 40, device: cpu}
eval: {save_outputs: true, every_epochs: 40}
"""
CLAIM = """
title: Memorising beats chance
source: {paper: "test"}
metric: final_test_acc
seeds: 0-2
arms:
  trained: {spec: spec.yaml}
  untrained: {spec: spec.yaml, set: [train.epochs=0]}
hypotheses:
  - trained > untrained
"""


@pytest.fixture
def leaky_claim(tmp_path, monkeypatch):
    (tmp_path / "leaky_data.py").write_text(LEAKY)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "spec.yaml").write_text(SPEC)
    (tmp_path / "claim.yaml").write_text(CLAIM)
    store = Store(tmp_path / "runs")
    plan = claim_setup(tmp_path / "claim.yaml", "cpu")
    run_trials([(spec, s) for spec in plan.specs.values() for s in plan.seeds], store, threads=1)
    return plan, store


def test_removing_leaked_examples_flips_the_verdict(tmp_path, leaky_claim):
    plan, store = leaky_claim
    result = score_claim(plan, store)
    bundle = plan.specs["trained"]
    from scrutiny.audit.dataset import build_dataset

    data = build_dataset(bundle.data.name, None, bundle.data.kwargs)
    audit = audit_duplicates(sources_from_splits(data.splits), "train", dataset={"name": bundle.data.name})
    assert audit.flagged("test").tolist() == list(range(40))  # exactly the planted copies
    audit.save(tmp_path / "audit.json")
    dedup = rescore_without_duplicates(result, store, load_audit(tmp_path / "audit.json"))
    h = plan.claim.hypotheses[0]
    before = evaluate(h, result.arms, True)
    after = evaluate(h, dedup.arms, True)
    assert before.verdict == REPRODUCED
    assert after.verdict != REPRODUCED, (before, after)
    assert dedup.n_total == {"test": 80} and not dedup.missing
    trained = dedup.arms["trained"]
    assert trained.others["final_test_n"].tolist() == [40.0] * 3
    assert trained.scores.mean() < result.arms["trained"].scores.mean() - 0.2
    # the same function from the plan gives the same scores
    again = rescore_without_duplicates(plan, store, load_audit(tmp_path / "audit.json"))
    assert np.array_equal(again.arms["trained"].scores, trained.scores)


def test_an_empty_audit_reproduces_the_stored_scores_and_missing_outputs_are_named(tmp_path, leaky_claim):
    plan, store = leaky_claim
    result = score_claim(plan, store)
    from scrutiny.audit.dataset import build_dataset

    data = build_dataset("leaky_data:leaky", None, {"n_leaked": 0, "n_fresh": 80})
    audit = audit_duplicates(sources_from_splits(data.splits), "train", dataset={"name": "leaky_data:leaky"})
    audit.splits["test"]["labels"] = None  # another test split of the same size: only the count is checked
    same = rescore_without_duplicates(result, store, audit)
    for name, arm in result.arms.items():
        np.testing.assert_allclose(same.arms[name].scores, arm.scores, rtol=0, atol=1e-12)
    gone = store.trial_dir(plan.trial_ids()[0]) / "outputs.npz"
    gone.unlink()
    partial = rescore_without_duplicates(result, store, audit)
    assert [m.trial_id for m in partial.missing] == [plan.trial_ids()[0]]
    assert "eval.save_outputs: true" in partial.missing[0].message()
    audit.dataset["name"] = "digits"
    with pytest.raises(ScrutinyError, match="the audit is of 'digits'"):
        rescore_without_duplicates(result, store, audit)
