"""``scrutiny run --executor ray --address`` against a separate head process (``ray start --head --block`` on
127.0.0.1, stopped at the end): a sweep, a driver killed mid-sweep and run again (every trial exactly once), and
the one-line errors of an unreachable address and a missing Ray."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")

from scrutiny.spec import load_spec, trial_id  # noqa: E402
from scrutiny.store import Store  # noqa: E402

SPEC = """
label: tiny-synthetic
model: {name: small_cnn, width: 4}
data: {name: synthetic, num_classes: 4, channels: 1, size: 8, n_train: 512, n_test: 32, batch_size: 32}
optim: {name: sgd, lr: 0.05}
train: {epochs: 2, device: cpu}
"""
RAY = Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(condition, what: str, limit_s: float = 180.0) -> None:
    """Poll ``condition`` until it holds; the limit only turns a hang into a failure, it is not a timing claim."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.2)


def _reachable(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    """A Ray head in its own process group, 2 CPUs, no dashboard; ``HOST:PORT``. Terminated (with its children)."""
    port = _free_port()
    temp = tmp_path_factory.mktemp("ray")
    cmd = [str(RAY), "start", "--head", "--block", "--port", str(port), "--node-ip-address", "127.0.0.1"]
    cmd += ["--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", str(temp)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=_env()
    )
    try:
        _wait_for(lambda: _reachable(port) or proc.poll() is not None, "the Ray head to listen")
        assert proc.poll() is None, "ray start --head exited"
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the head, its GCS and raylet share the group we started
        try:
            proc.wait(timeout=5)  # 'ray start --block' may linger on SIGTERM; its processes are gone by then
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever of the group is still there
        proc.wait()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SCRUTINY_STORE", None)
    # Ray >= 2.5x starts a head with token authentication when a token exists; its clients must say so too.
    env.update(NO_COLOR="1", COLUMNS="200", RAY_AUTH_MODE="token")
    return env


def _spec(tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    return path


def _cli(*args) -> tuple[int, str, str]:
    """The console entry point in a subprocess: ``(exit code, stdout, stderr)``."""
    done = subprocess.run(
        [sys.executable, "-m", "scrutiny", *map(str, args)], capture_output=True, text=True, env=_env(), timeout=600
    )
    return done.returncode, done.stdout, done.stderr


def test_a_sweep_on_a_cluster_reached_through_address(head, tmp_path):
    spec_file, store = _spec(tmp_path), tmp_path / "runs"
    code, out, err = _cli("run", spec_file, "--seeds", "0-1", "--threads", "1", "--store", store, "--json",
                          "--executor", "ray", "--address", head)  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["executor"] == "ray" and report["counts"] == {"complete": 2}
    ids = {trial_id(load_spec(spec_file), s) for s in (0, 1)}
    assert {r["trial_id"] for r in report["ran"]} == ids == set(Store(store).trial_ids())


def test_a_killed_driver_then_a_rerun_runs_every_trial_exactly_once(head, tmp_path):
    spec_file, store_dir = _spec(tmp_path), tmp_path / "runs"
    ids = [trial_id(load_spec(spec_file), s) for s in range(6)]
    store = Store(store_dir)
    args = ["run", spec_file, "--seeds", "0-5", "--threads", "1", "--store", store_dir, "--executor", "ray"]
    driver = subprocess.Popen(
        [sys.executable, "-m", "scrutiny", *map(str, args), "--address", head],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(),
    )
    try:
        _wait_for(lambda: any(store.status(t) == "complete" for t in ids), "a first finished trial")
    finally:
        driver.kill()  # SIGKILL: no clean-up of any kind in the driver
        driver.wait()
    finished = {t: (store_dir / t / "result.json").read_bytes() for t in ids if store.status(t) == "complete"}
    code, out, err = _cli(*args, "--address", head, "--json")
    assert code == 0, err
    report = json.loads(out)
    ran = {r["trial_id"] for r in report["ran"]}
    skipped, elsewhere = set(report["skipped"]), set(report["elsewhere"])
    assert set(finished) <= skipped and not ran & skipped and not ran & elsewhere
    assert ran | skipped | elsewhere == set(ids)
    assert set(store.trial_ids()) == set(ids) and all(store.status(t) == "complete" for t in ids)
    assert all([row["epoch"] for row in store.metrics(t)] == [1, 2] for t in ids)  # one attempt's rows each
    assert all((store_dir / t / "result.json").read_bytes() == record for t, record in finished.items())


def test_an_unreachable_address_is_one_line_naming_it(tmp_path):
    address = f"127.0.0.1:{_free_port()}"  # nothing listens there
    code, _, err = _cli("run", _spec(tmp_path), "--store", tmp_path / "runs", "--executor", "ray", "--address", address)
    assert code == 2
    assert err.strip().splitlines()[-1] == f"scrutiny: error: --address: cannot reach a Ray cluster at {address} " + (
        "(Connection refused)"
    )
    assert "Traceback" not in err and Store(tmp_path / "runs").trial_ids() == []


def test_ray_missing_is_one_line_saying_how_to_install_it(tmp_path):
    code = "import sys; sys.modules['ray'] = None; from scrutiny.cli import main; main()"  # import ray fails
    args = ["run", _spec(tmp_path), "--store", tmp_path / "runs", "--executor", "ray"]
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, env=_env(), timeout=300
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "scrutiny: error: --executor: 'ray' needs Ray, which is not installed: pip install 'scrutiny[ray]'"
    )
