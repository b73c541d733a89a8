"""Environment errors (full disk, read-only store, a file where a folder should be) are labelled and one line."""

from __future__ import annotations

import subprocess

from scrutiny.execute import run_sweep
from scrutiny.spec import load_spec
from scrutiny.store import Store

from .conftest import synthetic_spec, tmpfs


def test_a_full_disk_is_a_fault_and_the_trial_runs_again_once_there_is_space(tmp_path):
    spec = load_spec(synthetic_spec(tmp_path / "wide.yaml", model="small_cnn"), ["model.width=32"])  # ~240 KB
    with tmpfs(tmp_path / "disk", "size=128k") as disk:
        store = Store(disk / "runs")
        (record,) = run_sweep(spec, [0], store, threads=1).ran.values()
        assert record["status"] == "failed" and record["fault"] == "environment", record.get("error")
        assert "space" in record["error"]
        tid = record["trial_id"]
        assert store.status(tid) == "incomplete" and "space" in store.fault(tid)["error"]
        subprocess.run(["mount", "-o", "remount,size=2m", str(disk)], check=True)  # space freed
        again = run_sweep(spec, [0], store, threads=1)
        assert again.ran[tid]["status"] == "complete" and store.status(tid) == "complete"
        assert store.fault(tid) is None


def test_a_read_only_store_is_one_line(tmp_path, cli, synthetic_spec_file):
    with tmpfs(tmp_path / "ro", "size=4m") as disk:
        store = disk / "runs"
        run_sweep(load_spec(synthetic_spec_file), [0], Store(store), threads=1)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        code, _, err = cli("run", synthetic_spec_file, "--seeds", "0-1", "--store", store, "--threads", "1")
        errors = [line for line in err.splitlines() if line.startswith("scrutiny:")]
        assert code == 1 and "Traceback" not in err, err
        assert len(errors) == 1 and "Read-only file system" in errors[0] and str(store) in errors[0], err
        assert Store(store).status(Store(store).trial_ids()[0]) == "complete"


def test_a_store_or_spec_that_is_not_what_it_should_be_is_one_line(tmp_path, cli, synthetic_spec_file):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    cases = [
        (["run", synthetic_spec_file, "--store", a_file], "is a file"),
        (["runs", "--store", a_file], "is a file"),
        (["run", tmp_path, "--store", tmp_path / "s"], "not a regular file"),
        (["run", "/dev/zero", "--store", tmp_path / "s"], "not a regular file"),
        (["run", synthetic_spec_file, "--seeds", "0-99999999999", "--store", tmp_path / "s"], "10,000 seeds"),
    ]
    for args, expected in cases:
        code, _, err = cli(*args)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and expected in lines[0], (args, err)
