"""The ``ekld`` probe: head/tail groups and the summary by hand, the probe on a tiny model, and inside a trial."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from scrutiny.data.long_tail import class_sizes, digits_lt
from scrutiny.diagnostics.invariance import EKLDResult, ekld_from_logits
from scrutiny.errors import DataError, SpecError
from scrutiny.models import build_model
from scrutiny.probes import ProbeContext
from scrutiny.probes.invariance import ekld_probe, head_tail, summarise
from scrutiny.spec import load_spec
from scrutiny.store import Store
from scrutiny.trials import run_trial

METRICS = set("spearman spearman_low spearman_high head tail mean class_mean n_head n_tail n_images".split())
METRICS |= {"acc_head", "acc_tail", "acc_balanced"}


def test_head_and_tail_keep_ties_together():
    head, tail = head_tail(np.array([100, 25, 11, 6, 5, 5, 5, 5, 5, 5]))  # m = ceil(10 / 3) = 4
    assert head.tolist() == [True] * 4 + [False] * 6 and tail.tolist() == [False] * 4 + [True] * 6
    k49 = np.array(class_sizes(49, 2.0, 4800))  # 21 classes of 5; m = 17, the 17th largest is 16
    head, tail = head_tail(k49)
    assert head.sum() == 17 and k49[head].min() == 16 and tail.sum() == 21 and set(k49[tail]) == {5}
    head, tail = head_tail(np.full(6, 7))  # uniform sizes: no head or tail
    assert not head.any() and not tail.any()
    with pytest.raises(ValueError, match="fraction"):
        head_tail(k49, 0.6)


def test_summary_by_hand():
    """eKLD exactly decreasing in class size: rho = -1; head and tail are the means of the 2 largest / smallest."""
    k, n = 5, 4
    labels = np.repeat(np.arange(k), n)
    original = np.zeros((k * n, 3))
    transformed = np.zeros((k * n, 2, 3))
    transformed[:, :, 0] = (labels + 1)[:, None] * 0.5  # class c's copies move further from uniform as c grows
    values = ekld_from_logits(original, transformed, labels, k)
    sizes = np.array([50, 40, 30, 20, 10])  # class 0 is the largest
    nan = np.full(k, np.nan)
    result = EKLDResult(values, sizes, nan, nan, 0.95, "test", 2, 0)
    metrics, rows, corr = summarise(result, reps=200, seed=0)
    kl = values.per_class
    assert np.all(np.diff(kl) > 0)
    assert metrics["spearman"] == pytest.approx(-1.0) and corr["n"] == 5
    assert metrics["head"] == pytest.approx(kl[:2].mean()) and metrics["tail"] == pytest.approx(kl[3:].mean())
    assert metrics["n_head"] == metrics["n_tail"] == 2 and metrics["n_images"] == 20
    assert [r["rank"] for r in rows] == [0, 1, 2, 3, 4]
    assert [r["group"] for r in rows] == ["head", "head", "middle", "tail", "tail"]


@pytest.fixture(scope="module")
def bundle():
    return digits_lt(size=8, val_per_class=0, head=60, alpha=1.5, transform="rotation", instance=3)


def _ctx(bundle, seed: int) -> ProbeContext:
    torch.manual_seed(0)
    model = build_model({"name": "small_cnn", "width": 4}, {"num_classes": 10, "in_channels": 1, "image_size": (8, 8)})
    spec = SimpleNamespace(eval=SimpleNamespace(split="test"))
    return ProbeContext(model, spec, bundle, None, torch.device("cpu"), seed)


def test_probe_on_a_tiny_model(bundle):
    out = ekld_probe(_ctx(bundle, 11), n_transforms=3, reps=100)
    assert set(out.metrics) == METRICS
    assert out.metrics["spearman_low"] <= out.metrics["spearman"] <= out.metrics["spearman_high"]
    assert out.metrics["n_images"] == 430 and out.tables["split"] == "test_clean"  # 43 untransformed images a class
    assert out.tables["transform"] == "rotation" and out.tables["n_transforms"] == 3 and out.tables["seed"] == 11
    rows = out.tables["classes"]
    assert len(rows) == 10 and [r["rank"] for r in rows] == list(range(10))
    assert [r["train_size"] for r in rows] == sorted(bundle.info["class_sizes"], reverse=True)
    assert {r["n_images"] for r in rows} == {43} and all(r["low"] <= r["ekld"] <= r["high"] for r in rows)
    assert out.metrics["mean"] == pytest.approx(np.mean([r["ekld"] for r in rows]))  # balanced: pairs = classes
    again = ekld_probe(_ctx(bundle, 11), n_transforms=3, reps=100)
    assert again.metrics == out.metrics and again.tables == out.tables  # the seed fixes every draw
    other = ekld_probe(_ctx(bundle, 12), n_transforms=3, reps=100)
    assert other.metrics["mean"] != out.metrics["mean"]
    sub = ekld_probe(_ctx(bundle, 11), n_transforms=2, reps=50, max_per_class=5, split="test", transform="background")
    assert sub.metrics["n_images"] == 50 and sub.tables["split"] == "test" and sub.tables["transform"] == "background"


def test_probe_needs_a_transform_when_the_data_have_none():
    plain = digits_lt(size=8, val_per_class=0, head=60)
    with pytest.raises(DataError, match="probe ekld: the data apply no transform"):
        ekld_probe(_ctx(plain, 0), n_transforms=2, reps=10)
    assert ekld_probe(_ctx(plain, 0), transform="rotation", n_transforms=2, reps=10).tables["split"] == "test"


TINY_LT = """
model: {name: small_cnn, width: 4}
data: {name: digits_lt, size: 8, val_per_class: 0, head: 60, alpha: 1.5, transform: rotation, batch_size: 64}
train: {epochs: 1, device: cpu}
probes: [{name: ekld, n_transforms: 2, reps: 50}]
"""


def test_probe_inside_a_trial(tmp_path):
    path = tmp_path / "lt.yaml"
    path.write_text(TINY_LT)
    with pytest.raises(SpecError, match=r"probes\.0\.n_transfroms"):
        load_spec(path, ["probes=[{name: ekld, n_transfroms: 2}]"])
    record = run_trial(load_spec(path), 0, Store(tmp_path / "runs"), threads=1)
    assert record["status"] == "complete", record.get("error")
    assert {f"ekld_{m}" for m in METRICS} <= set(record["probe_fields"])
    table = Store(tmp_path / "runs").probe(record["trial_id"], "ekld")
    assert len(table["classes"]) == 10 and table["args"]["n_transforms"] == 2 and table["args"]["reps"] == 50
    assert table["correlation"]["rho"] == record["ekld_spearman"]
