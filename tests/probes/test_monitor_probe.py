"""The ``monitor`` probe: the PNN code's reported test accuracy, replayed on a trial's own per-batch counts."""

from types import SimpleNamespace

import numpy as np
import pytest

from scrutiny.audit.monitor import SmoothedMonitor
from scrutiny.errors import ScrutinyError
from scrutiny.probes.monitor import monitor
from scrutiny.spec import load_spec
from scrutiny.store import Store
from scrutiny.trials import run_trial


def fake_ctx(correct, sizes, batch_size, *, save_batches=True, epochs=None):
    """A probe context holding only what the probe reads: the spec's keys and the per-epoch batches."""
    epochs = list(range(1, len(correct) + 1)) if epochs is None else epochs
    spec = SimpleNamespace(
        eval=SimpleNamespace(save_batches=save_batches, every_epochs=1),
        data=SimpleNamespace(eval_batch_size=batch_size),
        train=SimpleNamespace(epochs=max(epochs)),
    )
    batches = [
        {"epoch": e, "n": np.asarray(sizes, dtype=np.int64), "acc": np.asarray(c, dtype=np.float64)}
        for e, c in zip(epochs, correct, strict=True)
    ]
    return SimpleNamespace(spec=spec, eval_batches=batches if save_batches else [])


def test_hand_computed_two_epochs_with_a_partial_batch():
    # batch size 4, test set of 10: batches of 4, 4 and a partial 2 (skipped by the monitor)
    out = monitor(fake_ctx([[2, 4, 1], [4, 3, 2]], [4, 4, 2], 4))
    m = out.metrics
    # epoch 1: A = 0.3·0.5 = 0.15, then 0.7·0.15 + 0.3·1.0 = 0.405; epoch 2 carries on from 0.405:
    # 0.7·0.405 + 0.3·1.0 = 0.5835, then 0.7·0.5835 + 0.3·0.75 = 0.63345
    assert [r["monitor"] for r in out.tables["epochs"]] == pytest.approx([0.405, 0.63345])
    assert m["reported_acc"] == pytest.approx(0.63345) and m["reported_epoch"] == 2
    assert m["final_epoch_acc"] == pytest.approx(0.63345)
    assert m["exact_acc"] == pytest.approx(0.9)  # 9 of 10
    assert m["inflation"] == pytest.approx(0.63345 - 0.9)
    # smoothing alone (every batch kept): epoch 1 ends at 0.7·0.405 + 0.3·0.5 = 0.4335; epoch 2:
    # 0.60345, 0.647415, then 0.7·0.647415 + 0.3·1.0 = 0.7531905
    assert m["smoothing_inflation"] == pytest.approx(0.7531905 - 0.9)
    assert m["best_epoch_inflation"] == pytest.approx(0.0)  # epoch 2 is the exact best
    assert m["drop_partial_inflation"] == pytest.approx(7 / 8 - 0.9)
    assert m["batch_mean_inflation"] == pytest.approx((1.0 + 0.75 + 1.0) / 3 - 0.9)
    parts = m["smoothing_inflation"] + m["best_epoch_inflation"] + m["drop_partial_inflation"]
    assert m["interaction"] == pytest.approx(m["inflation"] - parts)
    assert out.tables["n_skipped_per_epoch"] == 1 and out.tables["batch_size"] == 4
    rows = out.tables["epochs"]
    assert [r["exact"] for r in rows] == pytest.approx([0.7, 0.9])
    assert [r["exact_drop_partial"] for r in rows] == pytest.approx([6 / 8, 7 / 8])
    assert [r["ema_all_batches"] for r in rows] == pytest.approx([0.4335, 0.7531905])


def test_best_epoch_on_test_is_what_the_monitor_reports_when_accuracy_falls():
    # every batch full: epoch 1 perfect, epoch 2 half right
    out = monitor(fake_ctx([[4, 4, 4], [2, 2, 2]], [4, 4, 4], 4))
    m = out.metrics
    # epoch 1: 0.3, 0.51, 0.657; epoch 2: 0.7·0.657 + 0.15 = 0.6099, 0.57693, 0.553851
    assert m["reported_acc"] == pytest.approx(0.657) and m["reported_epoch"] == 1
    assert m["final_epoch_acc"] == pytest.approx(0.553851)
    assert m["exact_acc"] == pytest.approx(0.5)
    assert m["best_epoch_inflation"] == pytest.approx(0.5)
    assert m["drop_partial_inflation"] == 0.0 and m["batch_mean_inflation"] == pytest.approx(0.0)
    # the original class, driven by hand, gives the same reported value
    mon = SmoothedMonitor()
    mon.register(["Accuracy"])
    best = 0.0
    for epoch in ([4, 4, 4], [2, 2, 2]):
        mon.reset()
        for c in epoch:
            mon.update({"Accuracy": c * 100.0 / 4}, 4)
        best = max(best, mon.getvalues("Accuracy"))
    assert m["reported_acc"] == pytest.approx(best / 100)


def test_smoothness_and_batch_size_arguments():
    ctx = fake_ctx([[2, 4, 1], [4, 3, 2]], [4, 4, 2], 4)
    plain = monitor(ctx, smoothness=0.0).metrics  # no smoothing: the last full batch's accuracy
    assert plain["final_epoch_acc"] == pytest.approx(0.75)
    keep_all = monitor(ctx, batch_size=2).metrics  # only the 2-example batch has the "configured" size
    assert keep_all["final_epoch_acc"] == pytest.approx(0.7 * (0.3 * 0.5) + 0.3 * 1.0)  # 0.15, then 0.405
    with pytest.raises(ScrutinyError, match="batch_size: no test batch has 3"):
        monitor(ctx, batch_size=3)
    with pytest.raises(ScrutinyError, match="smoothness"):
        monitor(ctx, smoothness=1.0)


def test_missing_batches_and_skipped_epochs_are_one_line_errors():
    with pytest.raises(ScrutinyError, match=r"set eval\.save_batches: true") as info:
        monitor(fake_ctx([[1, 1]], [2, 2], 2, save_batches=False))
    assert "\n" not in str(info.value)
    with pytest.raises(ScrutinyError, match=r"eval\.every_epochs"):
        monitor(fake_ctx([[1, 1], [2, 2]], [2, 2], 2, epochs=[2, 4]))


def test_the_probe_in_a_real_trial_matches_its_stored_batches(tiny_spec_file, store_dir):
    spec = load_spec(tiny_spec_file, ["probes=[{name: monitor}]", "eval.save_batches=true"])
    record = run_trial(spec, 0, Store(store_dir), threads=1)
    assert record["status"] == "complete", record.get("error")
    assert record["monitor_exact_acc"] == pytest.approx(record["final_test_acc"], abs=1e-12)
    store = Store(store_dir)
    arrays = store.arrays(record["trial_id"], "eval_batches.npz")
    correct = np.stack([arrays["epoch1_acc"], arrays["epoch2_acc"]])
    sizes = arrays["epoch1_n"]
    assert sizes.tolist() == [100, 100, 100, 100, 50]  # the partial last batch of 50 is skipped by the monitor
    running, values = 0.0, []
    for epoch in correct:
        for c, n in zip(epoch[:-1], sizes[:-1], strict=True):
            running = 0.7 * running + 0.3 * c / n
        values.append(running)
    assert record["monitor_reported_acc"] == pytest.approx(max(values))
    assert record["monitor_reported_epoch"] == 1 + int(np.argmax(values))
    table = store.probe(record["trial_id"], "monitor")
    assert [r["epoch"] for r in table["epochs"]] == [1, 2]
    assert {c["name"] for c in table["computations"]} >= {"exact", "ema+drop_partial+best_epoch"}
