"""Probes: registered measurements run at the end of a trial, stored as result fields and tables."""

import json

import numpy as np
import pytest

from scrutiny.errors import SpecError
from scrutiny.probes import ProbeOutput
from scrutiny.registry import PROBES
from scrutiny.spec import load_spec, spec_hash
from scrutiny.store import Store
from scrutiny.trials import run_trial


def _weight_norm(ctx, scale: float = 1.0) -> ProbeOutput:
    """A probe for the tests: the L2 norm of every parameter, times ``scale``."""
    norm = sum(float((p.detach() ** 2).sum()) for p in ctx.model.parameters()) ** 0.5
    batches = [b["epoch"] for b in ctx.eval_batches]
    return ProbeOutput(
        metrics={"norm": norm * scale, "epochs_seen": len(ctx.history), "batch_epochs": len(batches)},
        tables={"rows": [{"epoch": e} for e in batches]},
    )


@pytest.fixture
def probe():
    PROBES.add("test_weight_norm", _weight_norm)
    yield "test_weight_norm"
    PROBES._entries.pop("test_weight_norm")
    PROBES._meta.pop("test_weight_norm", None)


def test_probe_fields_and_tables_land_in_the_trial(tiny_spec_file, store_dir, probe):
    spec = load_spec(tiny_spec_file, [f"probes=[{{name: {probe}, scale: 2.0}}]", "eval.save_batches=true"])
    record = run_trial(spec, 0, Store(store_dir), threads=1)
    assert record["status"] == "complete", record.get("error")
    assert record["test_weight_norm_norm"] > 0 and record["test_weight_norm_epochs_seen"] == 2
    assert record["test_weight_norm_batch_epochs"] == 2
    assert record["probe_fields"] == [
        "test_weight_norm_norm",
        "test_weight_norm_epochs_seen",
        "test_weight_norm_batch_epochs",
    ]
    store = Store(store_dir)
    table = store.probe(record["trial_id"], "test_weight_norm")
    assert table["rows"] == [{"epoch": 1}, {"epoch": 2}] and table["args"] == {"scale": 2.0}
    batches = store.arrays(record["trial_id"], "eval_batches.npz")
    assert batches["epoch2_n"].sum() == 450 and batches["epoch2_n"].tolist() == [100, 100, 100, 100, 50]
    assert batches["epoch2_acc"].sum() == pytest.approx(record["final_test_acc"] * 450)


def test_probe_arguments_are_checked_against_the_signature(tiny_spec_file, probe):
    with pytest.raises(SpecError, match=r"probes\.0\.scael"):
        load_spec(tiny_spec_file, [f"probes=[{{name: {probe}, scael: 2.0}}]"])
    with pytest.raises(SpecError, match=r"probes\.0\.name.*no_such_probe"):
        load_spec(tiny_spec_file, ["probes=[{name: no_such_probe}]"])
    with pytest.raises(SpecError, match=r"two probes write fields named"):
        load_spec(tiny_spec_file, [f"probes=[{{name: {probe}}}, {{name: {probe}}}]"])


def test_probes_and_save_batches_at_their_defaults_leave_the_hash_alone(tiny_spec_file, probe):
    plain = load_spec(tiny_spec_file)
    assert spec_hash(load_spec(tiny_spec_file, ["probes=[]", "eval.save_batches=false"])) == spec_hash(plain)
    assert spec_hash(load_spec(tiny_spec_file, ["eval.save_batches=true"])) != spec_hash(plain)
    assert spec_hash(load_spec(tiny_spec_file, [f"probes=[{{name: {probe}}}]"])) != spec_hash(plain)


def test_zero_epochs_evaluates_the_initialised_model_once(tiny_spec_file, store_dir, probe):
    spec = load_spec(tiny_spec_file, ["train.epochs=0", f"probes=[{{name: {probe}}}]"])
    record = run_trial(spec, 0, Store(store_dir), threads=1)
    assert record["status"] == "complete", record.get("error")
    assert record["train_steps"] == 0 and record["best_epoch"] == 0 and record["final_test_n"] == 450
    assert record["final_train_loss_epoch_avg"] is None
    assert 0.0 <= record["final_test_acc"] <= 0.3  # an untrained 10-class net
    rows = [json.loads(x) for x in (store_dir / record["trial_id"] / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [0]
    # the same seed gives the same initialisation: the probe's value is reproducible
    again = run_trial(spec, 0, Store(store_dir / "again"), threads=1)
    assert np.isclose(again["test_weight_norm_norm"], record["test_weight_norm_norm"], rtol=0, atol=0)


def test_a_probe_error_fails_the_trial_as_a_record(tiny_spec_file, store_dir):
    def broken(ctx):
        raise RuntimeError("probe exploded")

    PROBES.add("test_broken", broken)
    try:
        record = run_trial(
            load_spec(tiny_spec_file, ["train.epochs=0", "probes=[{name: test_broken}]"]),
            0,
            Store(store_dir),
            threads=1,
        )
    finally:
        PROBES._entries.pop("test_broken")
    assert record["status"] == "failed" and "probe exploded" in record["error"]


def test_model_weights_load_a_state_dict_before_training(tiny_spec_file, store_dir, tmp_path):
    import torch

    from scrutiny.errors import CheckpointError

    first = run_trial(load_spec(tiny_spec_file), 0, Store(store_dir), threads=1)
    ckpt = store_dir / first["trial_id"] / "checkpoint.pt"
    spec = load_spec(tiny_spec_file, ["train.epochs=0", f"model.weights={ckpt}"])
    assert spec_hash(spec) != spec_hash(load_spec(tiny_spec_file, ["train.epochs=0"]))
    again = run_trial(spec, 5, Store(store_dir), threads=1)
    assert again["final_test_acc"] == first["final_test_acc"]  # the trained weights, evaluated again
    bad = tmp_path / "bad.pt"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    record = run_trial(load_spec(tiny_spec_file, ["train.epochs=0", f"model.weights={bad}"]), 0, Store(store_dir))
    assert record["status"] == "failed" and "does not fit the model" in record["error"]
    assert CheckpointError.__name__ in record["error"]


def test_a_missing_weights_file_is_a_spec_error(tiny_spec_file, tmp_path):
    with pytest.raises(SpecError, match=r"model\.weights: no such file"):
        load_spec(tiny_spec_file, [f"model.weights={tmp_path / 'nope.pt'}"])


def test_probes_see_the_checkpointed_model(tiny_spec_file, store_dir, probe):
    """Counting FLOPs runs a train-mode step after the checkpoint; BatchNorm statistics must come back unchanged."""
    import torch

    from scrutiny.store import load_checkpoint

    def running_means(ctx) -> ProbeOutput:
        stats = [b for name, b in ctx.model.named_buffers() if name.endswith("running_mean")]
        return ProbeOutput(metrics={"sum": float(sum(s.double().sum() for s in stats))})

    PROBES.add("test_running_means", running_means)
    try:
        spec = load_spec(tiny_spec_file, ["model.name=resnet18_cifar", "probes=[{name: test_running_means}]"])
        record = run_trial(spec, 0, Store(store_dir), threads=1)
    finally:
        PROBES._entries.pop("test_running_means")
    assert record["status"] == "complete", record.get("error")
    state = load_checkpoint(store_dir / record["trial_id"] / "checkpoint.pt")["model"]
    saved = sum(v.double().sum() for k, v in state.items() if k.endswith("running_mean"))
    assert float(saved) != 0.0 and record["test_running_means_sum"] == pytest.approx(float(saved), rel=0, abs=1e-12)
    assert torch.is_tensor(saved)


def test_a_diagnostic_trial_can_skip_its_checkpoint_and_counts_no_training_flops(tiny_spec_file, store_dir):
    spec = load_spec(tiny_spec_file, ["train.epochs=0", "train.save_checkpoint=false"])
    record = run_trial(spec, 0, Store(store_dir), threads=1)
    assert record["status"] == "complete" and record["flops_per_train_step"] is None
    assert not (store_dir / record["trial_id"] / "checkpoint.pt").exists()


def test_probe_requirements_are_checked_when_the_spec_loads(tiny_spec_file):
    with pytest.raises(SpecError, match=r"probes\.0: probe 'monitor' needs eval\.save_batches: True"):
        load_spec(tiny_spec_file, ["probes=[{name: monitor}]"])
    spec = load_spec(tiny_spec_file, ["probes=[{name: monitor}]", "eval.save_batches=true"])
    assert spec.probes[0].name == "monitor"
