"""``load_trial``/``load_model``: a trained model and its data from a stored trial or from weights; and the eKLD
measurement on it through the public API, equal to what the trial's own probe stored."""

import pytest

from scrutiny.errors import ScrutinyError
from scrutiny.spec import load_spec
from scrutiny.store import Store
from scrutiny.trials import run_trial
from scrutiny.workflows.restore import load_model, load_trial, parse_data

TINY_LT = """
model: {name: small_cnn, width: 4}
data: {name: digits_lt, size: 8, val_per_class: 0, head: 60, alpha: 1.5, transform: rotation, batch_size: 64}
train: {epochs: 1, device: cpu}
probes: [{name: ekld, n_transforms: 2, reps: 50}]
"""


@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    root = tmp_path_factory.mktemp("restore")
    (root / "lt.yaml").write_text(TINY_LT)
    record = run_trial(load_spec(root / "lt.yaml"), 0, Store(root / "runs"), threads=1)
    assert record["status"] == "complete", record.get("error")
    return {"store": root / "runs", "id": record["trial_id"]}


def test_load_trial_rebuilds_model_data_and_seed(trial):
    from scrutiny import load_trial as public

    assert public is load_trial
    restored = load_trial(trial["id"][:8], trial["store"])
    assert restored.trial == trial["id"] and restored.model_name == "small_cnn" and restored.data == "digits_lt"
    assert restored.weights.startswith("checkpoint.pt (") and restored.spec.model.kwargs["width"] == 4
    assert restored.bundle.num_classes == 10 and "test_clean" in restored.bundle.splits
    other = load_trial(trial["id"], trial["store"], data="instance=4")
    assert other.data_args["instance"] == 4
    by_name = load_model("small_cnn", trial["store"] / trial["id"] / "checkpoint.pt", {"name": "digits_lt", "size": 8},
                         ["model.width=4"])  # fmt: skip
    assert by_name.trial is None and by_name.eval_seed == 0 and by_name.eval_split == "test"


def test_measure_invariance_equals_the_probe(trial):
    from scrutiny import measure_invariance

    result = measure_invariance(trial["id"], store=trial["store"], n_transforms=2, reps=50)
    stored = Store(trial["store"]).probe(trial["id"], "ekld")
    assert result.seed == stored["seed"] and [r["ekld"] for r in result.classes] == [
        r["ekld"] for r in stored["classes"]
    ]
    assert result.to_dict()["trial"] == trial["id"] and result.figure is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: load_trial("nope", t["store"] / "missing"), r"^store: '.*' is not a folder"),
        (lambda t: load_model("small_cnn", "w.pt", None), r"^data: required with a model name"),
        (lambda t: load_model("small_cnn", None, "digits_lt"), r"^weights: required with a model name"),
        (lambda t: load_model("small_cnn", "w.pt", "size=8"), r"^data: name the dataset first"),
        (lambda t: load_trial(t["id"], t["store"], data="digits_lt nonsense=1"), r"^data: digits_lt: "),
        (lambda t: parse_data("digits_lt =3"), r"^data: expected 'NAME key=value"),
    ],
)
def test_errors_name_parameters(trial, call, message):
    with pytest.raises(ScrutinyError, match=message):
        call(trial)


def test_measure_invariance_checks_its_parameters(trial):
    from scrutiny.workflows.invariance import measure_invariance

    with pytest.raises(ScrutinyError, match=r"^fraction: expected a number in \(0, 0.5\]"):
        measure_invariance(trial["id"], store=trial["store"], fraction=0.9)
    with pytest.raises(ScrutinyError, match=r"^overrides: only with a model name"):
        measure_invariance(trial["id"], store=trial["store"], overrides=["width=2"])
