"""End-to-end through the command line, as a user runs it (subprocesses, so exit codes and stderr are real)."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def scrutiny(*args, env, cwd=None, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "scrutiny", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def test_sweep_runs_show_and_rerun(tiny_spec_file, store_dir, cli_env):
    out = scrutiny(
        "run",
        tiny_spec_file,
        "--seeds",
        "0-1",
        "--set",
        "optim.lr=0.05",
        "--store",
        store_dir,
        "--threads",
        "1",
        "--json",
        env=cli_env,
    )
    payload = json.loads(out.stdout)
    assert payload["counts"] == {"complete": 2}
    assert "\x1b[" not in out.stdout
    assert {r["seed"] for r in payload["ran"]} == {0, 1}

    again = scrutiny(
        "run", tiny_spec_file, "--seeds", "0-1", "--set", "optim.lr=0.05", "--store", store_dir, env=cli_env
    )
    assert "nothing to run" in again.stderr

    runs = json.loads(scrutiny("runs", "--store", store_dir, "--json", env=cli_env).stdout)
    (group,) = runs["specs"]
    assert group["n"] == 2 and group["status"] == {"complete": 2}
    acc = group["metrics"]["final_test_acc"]
    assert acc["n"] == 2 and min(acc["values"]) <= acc["mean"] <= max(acc["values"])

    human = scrutiny("runs", "--store", store_dir, env=cli_env).stdout
    assert "tiny-digits" in human and "±" in human

    tid = payload["ran"][0]["trial_id"]
    shown = json.loads(scrutiny("show", tid, "--store", store_dir, "--json", env=cli_env).stdout)
    assert shown["status"] == "complete" and len(shown["metrics"]) == 2
    assert shown["spec"]["spec"]["optim"]["lr"] == 0.05
    assert shown["trial"]["environment"]["command"]
    text = scrutiny("show", tid, "--store", store_dir, env=cli_env).stdout
    assert "per-epoch metrics" in text and "provenance" in text and "test-set selection" in text

    dry = json.loads(
        scrutiny(
            "run",
            tiny_spec_file,
            "--seeds",
            "0-2",
            "--set",
            "optim.lr=0.05",
            "--store",
            store_dir,
            "--dry-run",
            "--json",
            env=cli_env,
        ).stdout
    )
    assert [t["run"] for t in dry["trials"]] == [False, False, True]


def test_the_same_seed_twice_gives_identical_metrics(tiny_spec_file, tmp_path, cli_env):
    records = []
    for store in ("one", "two"):
        out = scrutiny(
            "run",
            tiny_spec_file,
            "--seeds",
            "7",
            "--set",
            "train.epochs=1",
            "--store",
            tmp_path / store,
            "--json",
            env=cli_env,
        )
        (record,) = json.loads(out.stdout)["ran"]
        records.append(record)
    keys = ("trial_id", "final_test_acc", "final_test_loss", "final_train_loss_epoch_avg", "best_test_acc")
    assert [records[0][k] for k in keys] == [records[1][k] for k in keys]
    metrics = [(tmp_path / s / records[0]["trial_id"] / "metrics.jsonl").read_text() for s in ("one", "two")]
    strip = [
        [{k: v for k, v in json.loads(line).items() if k != "epoch_time_s"} for line in m.splitlines()] for m in metrics
    ]
    assert strip[0] == strip[1]


def test_malformed_spec_exits_2_with_one_line(tmp_path, store_dir, cli_env):
    bad = tmp_path / "x.yaml"
    bad.write_text("model: {name: small_cnn}\ndata: {name: digits}\noptim: {lr: fast}\n")
    proc = scrutiny("run", bad, "--store", store_dir, env=cli_env, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"scrutiny: error: {bad}: optim.lr: expected a number, got 'fast'"
    assert "Traceback" not in proc.stderr and not store_dir.exists()

    proc = scrutiny("run", tmp_path / "missing.yaml", env=cli_env, check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "file not found" in proc.stderr


def test_nan_spec_ends_diverged(tiny_spec_file, store_dir, cli_env):
    out = scrutiny(
        "run", tiny_spec_file, "--set", "optim.lr=1e20", "--store", store_dir, "--threads", "1", "--json", env=cli_env
    )
    (record,) = json.loads(out.stdout)["ran"]
    assert record["status"] == "diverged" and record["diverged_at"]["epoch"] == 1


def test_diff_and_list(tiny_spec_file, tmp_path, cli_env):
    other = tmp_path / "other.yaml"
    other.write_text(f"extends: {tiny_spec_file.name}\noptim: {{name: adam, lr: 0.001}}\n")
    diff = json.loads(scrutiny("diff", tiny_spec_file, other, "--json", env=cli_env).stdout)
    assert {d["key"]: (d["a"], d["b"]) for d in diff["differences"]} == {
        "optim.name": ("sgd", "adam"),
        "optim.lr": (0.1, 0.001),
    }
    text = scrutiny("diff", tiny_spec_file, other, env=cli_env).stdout
    assert "optim.lr" in text and "2 differences" in text
    models = json.loads(scrutiny("list", "models", "--json", env=cli_env).stdout)
    assert "small_cnn" in [e["name"] for e in models["entries"]] and "torchvision:<name>" in models["prefixes"]
    proc = scrutiny("list", "modles", env=cli_env, check=False)
    assert proc.returncode == 2 and "did you mean 'models'?" in proc.stderr
