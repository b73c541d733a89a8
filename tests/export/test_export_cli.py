"""``scrutiny export mlflow`` as a user runs it: JSON output, the default SQLite store, one-line errors."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys

import pytest

pytest.importorskip("mlflow", reason="the MLflow export needs the mlflow extra: pip install 'scrutiny[mlflow]'")

from mlflow import MlflowClient


def cli(args, monkeypatch, capsys) -> tuple[int, str, str]:
    """Run the console entry point in this process; return (exit code, stdout, stderr)."""
    from scrutiny.cli import main

    monkeypatch.setattr(sys, "argv", ["scrutiny", *map(str, args)])
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(SystemExit) as stop:
        main()
    out, err = capsys.readouterr()
    return int(stop.value.code or 0), out, err


def one_line_error(code: int, err: str) -> str:
    assert code == 2 and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("scrutiny: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_cli_exports_into_the_default_sqlite_store_as_json(built, store_copy, empty_db, cli_env, monkeypatch, capsys):
    cli_env.pop("MLFLOW_TRACKING_URI", None)
    shutil.copyfile(empty_db, store_copy / "mlflow.db")  # tables made already: MLflow's migrations take seconds
    proc = subprocess.run(
        [sys.executable, "-m", "scrutiny", "export", "mlflow", "--store", store_copy, "--json"],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[" not in proc.stdout
    payload = json.loads(proc.stdout)
    db = store_copy.resolve() / "mlflow.db"
    assert payload["tracking_uri"] == f"sqlite:///{db}" and db.is_file()
    assert payload["trials"] == {"created": 6, "replaced": 0, "unchanged": 0, "incomplete": 1}
    assert payload["ui"].startswith(f"mlflow ui --backend-store-uri sqlite:///{db}")
    runs = MlflowClient(payload["tracking_uri"]).search_runs([payload["experiment_id"]])
    assert len(runs) == 6 and (store_copy / "mlartifacts").is_dir()

    code, out, _ = cli(["export", "mlflow", "--store", store_copy], monkeypatch, capsys)
    assert code == 0 and "0 run(s) created, 0 replaced, 6 unchanged" in out and "skipped 1 incomplete" in out


def test_cli_claim_export_in_human_mode(built, db_uri, tmp_path, monkeypatch, capsys):
    args = ["export", "mlflow", "--store", built.store_dir, "--tracking-uri", db_uri, "--claim", built.claim_file]
    code, out, err = cli([*args, "--scale", "smoke"], monkeypatch, capsys)
    assert code == 0, err
    assert "4 run(s) created" in out and "claim run" in out and "2 arm run(s); 3 written now" in out


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--tracking-uri", "file:///tmp/scrutiny-no-mlruns"], "--tracking-uri file:///tmp/scrutiny-no-mlruns: "),
        (["--report", "."], "--report needs --claim"),
        (["--claim", "nope.yaml"], "nope.yaml"),
    ],
)
def test_cli_bad_inputs_are_one_line(built, extra, expected, monkeypatch, capsys):
    code, _, err = cli(["export", "mlflow", "--store", built.store_dir, *extra], monkeypatch, capsys)
    assert expected in one_line_error(code, err)


def test_missing_store_is_one_line(tmp_path, monkeypatch, capsys):
    code, _, err = cli(["export", "mlflow", "--store", tmp_path / "none"], monkeypatch, capsys)
    assert "--store" in one_line_error(code, err) and "no such folder" in err


def test_mlflow_not_installed_names_the_pip_command(built, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what ``import mlflow`` meets where it is not installed
    code, _, err = cli(["export", "mlflow", "--store", built.store_dir], monkeypatch, capsys)
    assert "pip install 'scrutiny[mlflow]'" in one_line_error(code, err)


def test_unreachable_and_silent_servers_fail_fast_in_one_line(built, monkeypatch, capsys):
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    code, _, err = cli(
        ["export", "mlflow", "--store", built.store_dir, "--tracking-uri", f"http://127.0.0.1:{closed}"],
        monkeypatch,
        capsys,
    )
    assert f"--tracking-uri http://127.0.0.1:{closed}: unreachable" in one_line_error(code, err)

    with socket.socket() as silent:  # accepts connections (the kernel does) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        args = ["--tracking-uri", f"http://127.0.0.1:{port}", "--timeout", "0.5"]
        code, _, err = cli(["export", "mlflow", "--store", built.store_dir, *args], monkeypatch, capsys)
    line = one_line_error(code, err)
    assert "unreachable" in line and "waited at most 0.5 s" in line
