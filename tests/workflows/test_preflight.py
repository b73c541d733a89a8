"""Before any trial: the fields a spec will produce (one definition, checked against a real trial), the datasets'
facts without loading them (checked against the loaded bundles), the models built on the meta device, and the
estimates scaled from finished trials."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from scrutiny.cases import case_claim
from scrutiny.errors import SpecError
from scrutiny.registry import DATASETS, PROBES
from scrutiny.spec import load_spec
from scrutiny.spec.fields import TASK_METRICS, spec_fields
from scrutiny.spec.load import resolve
from scrutiny.store import Store
from scrutiny.trials.loop import run_trial
from scrutiny.trials.tasks import make_task
from scrutiny.workflows.check import plan_claim
from scrutiny.workflows.estimate import StoreTimes, _scaled, format_seconds
from scrutiny.workflows.preflight import check_model, dataset_facts, preflight

TINY = {
    "model": {"name": "small_cnn", "width": 4},
    "data": {"name": "synthetic", "channels": 1, "size": 8, "n_train": 48, "n_test": 20, "batch_size": 16},
    "train": {"epochs": 3, "device": "cpu"},
    "eval": {"every_epochs": 2},
}


def _spec(**sections):
    return resolve({**TINY, **sections})


def _number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def test_the_listed_fields_are_those_a_trial_writes(tmp_path):
    spec = _spec()
    store = Store(tmp_path / "runs")
    record = run_trial(spec, 0, store, threads=1)
    assert record["status"] == "complete"
    fields = spec_fields(spec, "classification")
    written = {k for k, v in store.result(record["trial_id"]).items() if _number(v)}
    scored = {k for k in written if k.startswith(("final_", "best_"))}
    assert scored == set(fields.scored)
    assert written - {"seed", "schema_version"} <= set(fields.record)  # bookkeeping is no metric
    rows = {row["epoch"]: row for row in store.metrics(record["trial_id"])}
    assert tuple(rows) == fields.epochs == (1, 2, 3) and fields.evaluated == (2, 3)
    for epoch, row in rows.items():
        keys = {k for k in row if k != "epoch"}
        expected = set(fields.train_keys) | (set(fields.eval_keys) if epoch in fields.evaluated else set())
        assert keys == expected, epoch
        assert all(fields.problem(f"{k}@{epoch}") is None for k in keys)


@pytest.mark.parametrize("task", sorted(TASK_METRICS))
def test_task_metrics_are_the_tasks_own(task):
    t = make_task(task)
    if task == "classification":
        out, target = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    elif task == "regression":
        out, target = torch.randn(4, 2), torch.randn(4, 2)
    elif task == "rendering":
        out, target = torch.randn(4, 1, 5, 5), torch.ones(4, 1, 5, 5)
    else:
        out, target = torch.rand(4, 7), torch.zeros(4)
    assert tuple(t.metrics(out, target)) == TASK_METRICS[task]


def test_fields_of_a_spec_that_does_not_train_and_of_probes(monkeypatch):
    spec = _spec(train={"epochs": 0, "device": "cpu"}, probes=[{"name": "ekld", "prefix": "inv"}])
    fields = spec_fields(spec)
    assert fields.epochs == fields.evaluated == (0,)
    assert fields.problem("test_acc@0") is None and fields.problem("final_test_dist") is None  # task unknown: all
    assert "no epoch row has 'lr'" in fields.problem("lr@0")
    assert fields.problem("final_train_loss_epoch_avg").startswith("no field")
    assert fields.problem("inv_tail") is None  # a probe that does not declare its keys: any key
    assert "did you mean 'inv_tail'" in fields.problem("inb_tail")
    monkeypatch.setitem(PROBES._meta, "ekld", {**PROBES.meta("ekld"), "fields": lambda **args: ("tail", "head")})
    fields = spec_fields(spec)
    assert fields.problem("inv_tail") is None and "did you mean 'inv_tail'" in fields.problem("inv_tial")


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("synthetic", {"num_classes": 7, "channels": 2, "size": 6, "n_train": 10, "n_test": 4}),
        ("digits", {}),
        ("digits", {"size": 16, "channels": 3, "test_fraction": 0.3}),
        ("not_so_clevr", {"task": "classification", "canvas": 16, "square": 3}),
        ("not_so_clevr", {"task": "regression", "canvas": 16, "square": 3}),
        ("not_so_clevr", {"task": "rendering", "canvas": 16, "square": 3}),
        ("shapes", {"n_train": 6, "n_val": 4, "min_side": 28, "max_side": 30}),
        ("digits_lt", {"size": 12, "val_per_class": 0}),
    ],
)
def test_dataset_facts_without_loading_match_the_loaded_bundle(name, args):
    spec = load_spec(data={**TINY, "data": {"name": name, **args}})
    facts = dataset_facts(spec)
    assert facts is not None
    bundle = DATASETS.get(name)(**{"root": spec.data.root, **spec.data.kwargs})
    assert (facts.num_classes, facts.in_channels, facts.image_size) == (
        bundle.num_classes,
        bundle.in_channels,
        bundle.image_size,
    )
    assert facts.task == bundle.task
    x = bundle.split("test" if "test" in bundle.splits else "val")[0][0]
    assert tuple(x.shape) == facts.example_shape()
    for split, n in facts.sizes.items():
        assert len(bundle.split(split)) == n, split


def test_imagefolder_facts_count_the_class_folders_and_read_no_image(tmp_path):
    for split in ("train", "val"):
        for c in ("cat", "dog", "eel"):
            (tmp_path / split / c).mkdir(parents=True)
    spec = load_spec(data={**TINY, "data": {"name": "imagefolder", "root": str(tmp_path), "size": 24}})
    facts = dataset_facts(spec)
    assert facts is not None and (facts.num_classes, facts.in_channels, facts.image_size) == (3, 3, (24, 24))
    missing = load_spec(data={**TINY, "data": {"name": "imagefolder", "root": str(tmp_path / "nowhere")}})
    assert dataset_facts(missing) is None
    assert not check_model(missing, None).checked


def test_models_are_built_on_the_meta_device_once_per_model(monkeypatch):
    import scrutiny.workflows.preflight as pf

    built: list[str] = []
    real = pf._build

    def spy(spec, context, device):
        built.append(device)
        return real(spec, context, device)

    monkeypatch.setattr(pf, "_build", spy)
    specs = {"a": _spec(), "b": _spec(optim={"lr": 0.5}), "c": _spec(model={"name": "resnet18_cifar"})}
    checks = preflight(specs, {k: f"{k}.yaml" for k in specs})
    assert checks["a"] == checks["b"] and checks["c"].n_params > 10 * checks["a"].n_params
    assert built.count("meta") == 2  # a and b share a model; c (11M parameters) is run on the meta device
    assert "forward pass of a batch shaped (2, 1, 8, 8) on meta" in checks["c"].note
    bad = {"d": _spec(model={"name": "preact_resnet", "depth": 10})}
    with pytest.raises(SpecError, match=r"^d\.yaml: model\.depth: model 'preact_resnet' fails in building"):
        preflight(bad, {"d": "d.yaml"})


def test_every_built_in_claim_plans_at_every_scale():
    for case in ("coordconv", "digits_width", "invariance", "nf_spp", "pnn", "resnet_eval"):
        for scale in ("smoke", "cpu", "paper"):
            p = plan_claim(case_claim(case), scale, "/nonexistent-store")
            assert p.specs, (case, scale)


def test_a_finished_trial_is_scaled_by_training_steps(tmp_path):
    record = {"wall_time_s": 12.0, "device_time_s": 10.0, "epochs": 2, "train_steps": 40}
    assert _scaled(record, 2) == 12.0
    assert _scaled(record, 6) == pytest.approx(2.0 + 10.0 / 40 * 20 * 6)
    assert _scaled({**record, "epochs": 0, "train_steps": 0}, 3) is None
    assert _scaled({**record, "wall_time_s": None}, 2) is None
    store = Store(tmp_path / "runs")
    spec = _spec(train={"epochs": 1, "device": "cpu"})
    for seed in (0, 1):
        run_trial(spec, seed, store, threads=1)
    times = StoreTimes(store)
    longer = times.estimate(_spec(train={"epochs": 4, "device": "cpu"}))
    assert longer is not None and longer.basis == "from 2 finished trials at 1 epoch, scaled by training steps"
    same = times.estimate(spec)
    walls = [store.result(t)["wall_time_s"] for t in store.trial_ids()]
    assert same is not None and same.basis == "from 2 finished trials" and same.seconds == pytest.approx(np.mean(walls))
    assert times.estimate(_spec(model={"name": "small_cnn", "width": 6})) is None  # another spec
    assert [format_seconds(s) for s in (0.2, 42, 450, 7200, None)] == ["<1 s", "42 s", "7.5 min", "2.0 h", "—"]


def test_an_unknown_dataset_is_left_unchecked_and_says_so(tmp_path, monkeypatch):
    (tmp_path / "preflight_userdata.py").write_text(
        "from scrutiny.registry import DATASETS\ndef d(root=None):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = load_spec(data={**TINY, "data": {"name": "preflight_userdata:d"}})
    assert dataset_facts(spec) is None
    check = preflight({"s": spec}, {"s": "s.yaml"})["s"]
    assert not check.checked and "does not tell its facts" in check.note
    assert Path(tmp_path / "preflight_userdata.py").exists()


def test_a_timed_estimate_counts_the_steps_that_max_steps_leaves(monkeypatch):
    import scrutiny.workflows.estimate as estimate

    monkeypatch.setattr(estimate, "_time_steps", lambda *a, **k: (1.0, 0.0))  # a training step costs 1 s
    timer = estimate.StepTimer()
    full = _spec(train={"epochs": 3, "device": "cpu"})  # 48 examples in batches of 16: 3 steps per epoch
    cut = _spec(train={"epochs": 3, "device": "cpu", "max_steps": 4})
    assert timer.estimate(full, dataset_facts(full)).seconds == 9.0
    assert timer.estimate(cut, dataset_facts(cut)).seconds == 4.0
