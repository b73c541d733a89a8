"""``scrutiny invariance``: a trial from a tiny run, a model name with weights, and one-line errors."""

import json
import sys

import pytest

from scrutiny.spec import load_spec
from scrutiny.store import Store
from scrutiny.trials import run_trial

TINY_LT = """
model: {name: small_cnn, width: 4}
data: {name: digits_lt, size: 8, val_per_class: 0, head: 60, alpha: 1.5, transform: rotation, batch_size: 64}
train: {epochs: 1, device: cpu}
probes: [{name: ekld, n_transforms: 2, reps: 50}]
"""
FAST = ["--n-transforms", "2", "--reps", "50"]


@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    root = tmp_path_factory.mktemp("inv")
    path = root / "lt.yaml"
    path.write_text(TINY_LT)
    record = run_trial(load_spec(path), 0, Store(root / "runs"), threads=1)
    assert record["status"] == "complete", record.get("error")
    return {"store": root / "runs", "id": record["trial_id"], "record": record}


def run_main(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    from scrutiny.cli import main

    monkeypatch.setattr(sys, "argv", ["scrutiny", "invariance", *map(str, args)])
    monkeypatch.setenv("COLUMNS", "200")
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_trial_json_reproduces_the_probe_and_human_table(trial, monkeypatch, capsys, tmp_path):
    code, out, err = run_main(monkeypatch, capsys, trial["id"][:8], "--store", trial["store"], "--json", *FAST)
    assert code == 0, err
    payload = json.loads(out)
    assert payload["trial"] == trial["id"] and payload["split"] == "test_clean" and payload["transform"] == "rotation"
    assert len(payload["classes"]) == 10 and payload["metrics"]["n_images"] == 430
    assert payload["seed"] == Store(trial["store"]).probe(trial["id"], "ekld")["seed"]  # the trial's eval seed
    png = tmp_path / "ekld.png"
    code, out, err = run_main(monkeypatch, capsys, trial["id"], "--store", trial["store"], "--out", png, *FAST)
    assert code == 0, err
    assert "Spearman ρ(class size, eKLD)" in out and "tail eKLD" in out and png.read_bytes()[:4] == b"\x89PNG"
    assert sum(1 for line in out.splitlines() if line.startswith("│")) == 10  # one table row per class


def test_trial_numbers_equal_the_probe(trial, monkeypatch, capsys):
    code, out, err = run_main(monkeypatch, capsys, trial["id"], "--store", trial["store"], "--json", *FAST)
    assert code == 0, err
    stored = Store(trial["store"]).probe(trial["id"], "ekld")["classes"]
    assert [r["ekld"] for r in json.loads(out)["classes"]] == [r["ekld"] for r in stored]


def test_per_class_accuracy_sits_next_to_ekld_and_averages_to_the_test_accuracy(trial, monkeypatch, capsys):
    record = trial["record"]
    rows = Store(trial["store"]).probe(trial["id"], "ekld")["classes"]
    assert all(r["acc_split"] == "test" and 0 <= r["acc"] <= 1 for r in rows)
    # the rotated test split holds 43 images of every class, so the class mean is the accuracy of the split
    assert record["ekld_acc_balanced"] == pytest.approx(record["final_test_acc"], abs=1e-12)
    head = [r["acc"] for r in rows if r["group"] == "head"]
    assert record["ekld_acc_head"] == pytest.approx(sum(head) / len(head))
    code, out, err = run_main(monkeypatch, capsys, trial["id"], "--store", trial["store"], *FAST)
    assert code == 0, err
    assert f"accuracy on test: head {record['ekld_acc_head']:.3g}" in out


def test_model_name_with_weights_and_data_override(trial, monkeypatch, capsys):
    ckpt = trial["store"] / trial["id"] / "checkpoint.pt"
    data = "digits_lt size=8 val_per_class=0 head=60 alpha=1.5 transform=rotation"
    code, out, err = run_main(
        monkeypatch, capsys, "small_cnn", "--set", "model.width=4", "--weights", ckpt, "--data", data, "--json", *FAST
    )
    assert code == 0, err
    payload = json.loads(out)
    assert payload["trial"] is None and payload["seed"] == 0 and payload["split"] == "test_clean"
    sizes = sorted(r["train_size"] for r in payload["classes"])
    # the trial's data with another instance: the same sizes, given to other classes
    code, out, err = run_main(
        monkeypatch, capsys, trial["id"], "--store", trial["store"], "--data", "instance=4", "--json", *FAST
    )
    assert code == 0, err
    other = json.loads(out)
    assert sorted(r["train_size"] for r in other["classes"]) == sizes
    by_class = lambda p: [r["train_size"] for r in sorted(p["classes"], key=lambda r: r["class"])]  # noqa: E731
    assert by_class(other) != by_class(payload)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["nope"], "no trial 'nope'"),
        (["small_cnn", "--weights", "x.pt"], "--data: required with a model name"),
        (["small_cnn", "--data", "digits_lt size=8", "--weights", "missing.pt"], "missing.pt"),
        (["TRIAL", "--transform", "rotate"], "unknown 'rotate'"),
        (["TRIAL", "--data", "digits_lt =3"], "--data: expected"),
    ],
)
def test_errors_are_one_line(trial, monkeypatch, capsys, args, match):
    args = [trial["id"] if a == "TRIAL" else a for a in args]
    code, out, err = run_main(monkeypatch, capsys, *args, "--store", trial["store"], *FAST)
    assert code == 2 and match in err and len(err.strip().splitlines()) == 1, err
