"""Two sweeps over the same trials on one store share the work: neither fails, no trial runs twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from scrutiny.spec import load_spec, trial_id
from scrutiny.store import Store

from .conftest import synthetic_spec


def test_two_cli_sweeps_on_one_store_share_the_trials(tmp_path, cli_env):
    spec_file = synthetic_spec(tmp_path / "spec.yaml", n_train=512, epochs=2)
    store = tmp_path / "runs"
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "scrutiny", "run", str(spec_file), "--seeds", seeds, "--store", str(store)]
            + ["--threads", "1", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env,
        )
        for seeds in ("0-5", "5,4,3,2,1,0")
    ]
    outputs = [p.communicate(timeout=300) for p in runs]
    for proc, (_out, err) in zip(runs, outputs, strict=True):
        assert proc.returncode == 0, err
    reports = [json.loads(out) for out, _ in outputs]
    ids = {trial_id(load_spec(spec_file), s) for s in range(6)}
    ran = [{rec["trial_id"] for rec in r.get("ran", [])} for r in reports]
    assert not ran[0] & ran[1]  # no trial ran in both
    for report, mine in zip(reports, ran, strict=True):
        assert mine | set(report.get("elsewhere", [])) | set(report.get("skipped", [])) == ids
    st = Store(store)
    assert set(st.trial_ids()) == ids and all(st.status(t) == "complete" for t in ids)
    assert all([row["epoch"] for row in st.metrics(t)] == [1, 2] for t in ids)  # one attempt each, no stale rows


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # children of a background job inherit SIGINT ignored


def test_ctrl_c_on_a_parallel_cli_sweep_is_one_line(tmp_path, cli_env):
    spec_file = synthetic_spec(tmp_path / "spec.yaml", n_train=256, epochs=3)
    store = tmp_path / "runs"
    cmd = [sys.executable, "-m", "scrutiny", "run", str(spec_file), "--seeds", "0-7", "--store", str(store)]
    proc = subprocess.Popen(
        cmd + ["--workers", "2", "--threads", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env,
        preexec_fn=_default_sigint,
    )
    while not list(store.glob("*/result.json")) and proc.poll() is None:  # the event: a trial has finished
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err, err
    st = Store(store)
    assert "failed" not in {st.status(t) for t in st.trial_ids()}
