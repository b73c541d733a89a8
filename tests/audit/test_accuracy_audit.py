"""The PNN accuracy monitor and the reported-accuracy audit, on hand-computed sequences."""

import json

import numpy as np
import pytest

from scrutiny.audit import (
    SmoothedMonitor,
    audit_reported_accuracy,
    counts_from_file,
    counts_from_trial,
    monitor_epoch_values,
)
from scrutiny.errors import ScrutinyError

# Two epochs of three test batches (the last one partial): correct counts and sizes.
CORRECT = [[10, 5, 5], [9, 8, 1]]
SIZES = [10, 10, 5]


def test_monitor_is_a_moving_average_that_reset_does_not_clear():
    m = SmoothedMonitor()
    m.register(["Accuracy"])
    m.update({"Accuracy": 100.0}, 10)  # 0.7·0 + 0.3·100
    assert m.getvalues("Accuracy") == pytest.approx(30.0)
    m.update({"Accuracy": 50.0}, 10)  # 0.7·30 + 0.3·50
    assert m.getvalues("Accuracy") == pytest.approx(36.0)
    m.reset()
    assert m.getvalues("Accuracy") == pytest.approx(36.0) and m.num == 0
    fixed = SmoothedMonitor(smoothing=False)  # the README's fix: a sample-weighted running mean
    fixed.register(["Accuracy"])
    fixed.update({"Accuracy": 100.0}, 10)
    fixed.update({"Accuracy": 40.0}, 5)
    assert fixed.getvalues("Accuracy") == pytest.approx(80.0)


def test_trainer_test_skips_the_partial_batch_and_carries_over_epochs():
    # epoch 0: 0 -> 30 -> 36 (the 5-example batch skipped); epoch 1: 36 -> 52.2 -> 60.54
    assert monitor_epoch_values(CORRECT, SIZES, 10) == pytest.approx([0.36, 0.6054])
    # keeping the partial batch: epoch 0 ends 0.7·36 + 0.3·100 = 55.2
    assert monitor_epoch_values(CORRECT, SIZES, None)[0] == pytest.approx(0.552)


def test_audit_finds_the_computation_and_its_inflation():
    audit = audit_reported_accuracy(CORRECT, SIZES, 60.54)
    values = {c.name: c.value for c in audit.computations}
    assert audit.exact == pytest.approx(18 / 25) and audit.reported == pytest.approx(0.6054)
    assert values["batch_mean"] == pytest.approx((0.9 + 0.8 + 0.2) / 3)
    assert values["drop_partial"] == pytest.approx(17 / 20)
    assert values["best_epoch"] == pytest.approx(20 / 25)
    assert values["drop_partial+best_epoch"] == pytest.approx(17 / 20)
    assert values["ema+drop_partial+best_epoch"] == pytest.approx(0.6054)
    assert set(audit.matches) == {"ema+drop_partial", "ema+drop_partial+best_epoch"}
    assert audit.component_inflation()["drop_partial"] == pytest.approx(17 / 20 - 18 / 25)
    assert audit.closest.name in audit.matches
    assert json.dumps(audit.to_dict())
    assert audit_reported_accuracy(CORRECT, SIZES, 0.8).matches == ["best_epoch"]
    assert audit_reported_accuracy(CORRECT, SIZES, 0.5).matches == []


def test_final_epoch_counts_with_epoch_totals():
    audit = audit_reported_accuracy(CORRECT[1], SIZES, 0.8, epoch_correct=[20, 18], epoch_n=[25, 25])
    values = {c.name: c for c in audit.computations}
    assert audit.per_batch == "final epoch" and audit.n_epochs == 2
    assert values["best_epoch"].value == pytest.approx(0.8) and audit.matches == ["best_epoch"]
    # the carried-in value is taken as epoch 0's exact accuracy: 80 -> 0.7·80 + 0.3·90 = 83 -> 0.7·83 + 0.3·80 = 82.1
    assert values["ema+drop_partial"].value == pytest.approx(0.821) and "0.7^2" in values["ema+drop_partial"].note
    assert "ema+drop_partial+best_epoch" in audit.unavailable
    with pytest.raises(ScrutinyError, match="disagree"):
        audit_reported_accuracy(CORRECT[1], SIZES, 0.8, epoch_correct=[20, 17], epoch_n=[25, 25])
    with pytest.raises(ScrutinyError, match="correct <= size"):
        audit_reported_accuracy([11, 0], [10, 10], 0.5)


def test_counts_from_csv_and_json(tmp_path):
    csv_path = tmp_path / "counts.csv"
    csv_path.write_text(
        "epoch,correct,size\n"
        + "".join(f"{e},{c},{n}\n" for e, row in enumerate(CORRECT) for c, n in zip(row, SIZES, strict=True))
    )
    got = counts_from_file(csv_path)
    assert np.array_equal(got["per_batch_correct"], CORRECT) and np.array_equal(got["per_batch_sizes"][0], SIZES)
    json_path = tmp_path / "counts.json"
    json_path.write_text(
        json.dumps({"correct": CORRECT[1], "sizes": SIZES, "epoch_correct": [20, 18], "epoch_n": [25, 25]})
    )
    assert counts_from_file(json_path)["epoch_n"] == [25, 25]
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ScrutinyError, match="'correct' and 'size'"):
        counts_from_file(tmp_path / "bad.csv")


def test_counts_from_a_stored_trial_cut_into_eval_batches(tmp_path):
    from scrutiny.store import Store

    store = Store(tmp_path / "runs")
    spec = {"spec": {"data": {"name": "digits", "batch_size": 64, "eval_batch_size": 4}, "eval": {"split": "test"}}}
    writer = store.begin("abc123-s0", spec)
    writer.append_metrics({"epoch": 1, "test_correct": 5, "test_n": 10})
    writer.append_metrics({"epoch": 2, "test_correct": 7, "test_n": 10})
    pred = np.array([1, 1, 0, 0, 1, 1, 1, 1, 0, 1])
    writer.save_arrays("outputs.npz", {"test_pred": pred, "test_target": np.ones(10, dtype=int)})
    writer.finish({"status": "complete", "split": "test"})
    got = counts_from_trial(store, "abc")
    assert got["per_batch_correct"].tolist() == [2, 4, 1] and got["per_batch_sizes"].tolist() == [4, 4, 2]
    audit = audit_reported_accuracy(
        got["per_batch_correct"],
        got["per_batch_sizes"],
        0.7,
        batch_size=4,
        epoch_correct=got["epoch_correct"],
        epoch_n=got["epoch_n"],
    )
    assert "exact" in audit.matches


def test_a_single_epoch_given_as_final_epoch_counts_starts_the_moving_average_at_zero():
    """One epoch in all: nothing is carried in, so 21.0 (0.7·0.3 + 0.3·0, from a start at 0) is the monitor's value."""
    one_d = audit_reported_accuracy([10, 0], [10, 10], 21.0, epoch_correct=[10], epoch_n=[20])
    two_d = audit_reported_accuracy([[10, 0]], [10, 10], 21.0)
    assert "ema" in one_d.matches and "ema" in two_d.matches
    ema = next(c for c in one_d.computations if c.name == "ema")
    assert abs(ema.value - 0.21) < 1e-12 and abs(ema.inflation - (0.21 - 0.5)) < 1e-12
    assert ema.note == ""  # no unknown carried-in value to warn about
    # two epochs: the carried-in value is the first epoch's exact accuracy (0.8), and the note says it is assumed
    two = audit_reported_accuracy([10, 0], [10, 10], 21.0, epoch_correct=[16, 10], epoch_n=[20, 20])
    ema2 = next(c for c in two.computations if c.name == "ema")
    assert abs(ema2.value - (0.49 * 0.8 + 0.21)) < 1e-12 and "carried-in value unknown" in ema2.note
    assert "ema" not in two.matches
