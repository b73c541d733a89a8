"""Against real MLflow servers on loopback ports: an export over HTTP, and a screenshot of ``mlflow ui``.

Slow (each starts a server): marked ``slow``. The screenshot needs Chromium (``apt-get install chromium``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mlflow", reason="the MLflow export needs the mlflow extra: pip install 'scrutiny[mlflow]'")

from mlflow import MlflowClient

from scrutiny.export import export_claim, export_store
from scrutiny.store import Store

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
MLFLOW = Path(sys.executable).parent / "mlflow"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, deadline_s: float = 180.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"mlflow server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"no answer from {url} within {deadline_s} s")


def test_export_over_http_to_a_tracking_server(built, tmp_path, empty_db):
    shutil.copyfile(empty_db, tmp_path / "server.db")
    port = _free_port()
    proc = subprocess.Popen(
        [MLFLOW, "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}"]
        + ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=tmp_path,  # served artifacts go to ./mlartifacts of the server
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its workers form one group, stopped together below
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        summary = export_store(Store(built.store_dir), url, "over-http")
        assert len(summary.created) == 6
        again = export_claim(built.claim_file, Store(built.store_dir), url, "over-http")
        assert not again.created and again.claim["written"]
        client = MlflowClient(url)
        run = client.get_run(summary.runs[built.ids["wide"][0]])
        assert run.data.tags["mlflow.parentRunId"] == again.claim["arms"]["wide"]["run_id"]
        assert [m.step for m in client.get_metric_history(run.info.run_id, "test_acc")] == [1, 2]
        assert {f.path for f in client.list_artifacts(run.info.run_id)} == {"spec.json", "trial.json", "result.json"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


@pytest.mark.skipif(
    not any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")),
    reason="Chromium is not installed (apt-get install chromium)",
)
def test_mlflow_ui_screenshot_shows_the_exported_runs(built, db_uri, tmp_path):
    from PIL import Image

    store = Store(built.store_dir)
    export_claim(built.claim_file, store, db_uri, "screenshot")
    summary = export_store(store, db_uri, "screenshot")
    out = tmp_path / "ui.png"
    proc = subprocess.run(
        [ROOT / "scripts" / "mlflow_ui_screenshot.sh", db_uri, out, "screenshot"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "MLFLOW": str(MLFLOW), "PYTHON": sys.executable},
    )
    assert proc.returncode == 0, proc.stderr
    n_runs = len(summary.runs) + 3  # the trials, the claim and its two arms
    assert f"serves {n_runs} run(s)" in proc.stdout
    image = np.asarray(Image.open(out).convert("L"), dtype=float)
    assert image.shape == (1000, 1600) and image.std() > 10  # a rendered page, not a blank one
