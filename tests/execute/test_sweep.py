import json
import signal
import subprocess
import sys
import time

from scrutiny.analysis import summarise
from scrutiny.execute import Reporter, run_sweep
from scrutiny.spec import load_spec
from scrutiny.store import Store


class Recorder(Reporter):
    def __init__(self):
        self.events = []

    def trial_started(self, trial):
        self.events.append(("start", trial.trial_id))

    def epoch(self, event):
        self.events.append(("epoch", event["trial"], event["epoch"]))

    def trial_finished(self, trial, record):
        self.events.append(("done", trial.trial_id, record["status"]))


def test_sweep_runs_what_the_store_lacks(tiny_spec_file, store_dir):
    spec = load_spec(tiny_spec_file, ["train.epochs=1"])
    store = Store(store_dir)
    reporter = Recorder()
    first = run_sweep(spec, [0, 1], store, threads=1, reporter=reporter)
    assert sorted(first.ran) == sorted(f"{t}" for t in first.ran) and len(first.ran) == 2
    assert [e[0] for e in reporter.events].count("epoch") == 2
    again = run_sweep(spec, [0, 1, 2], store, threads=1)
    assert list(again.ran) == [next(iter(again.ran))] and len(again.skipped) == 2
    (group,) = summarise(store)
    assert group.n == 3 and group.status == {"complete": 3} and len(group.metrics["final_test_acc"]) == 3


def test_workers_give_the_same_results_as_serial(tiny_spec_file, tmp_path):
    spec = load_spec(tiny_spec_file, ["train.epochs=1"])
    serial = run_sweep(spec, [0, 1], Store(tmp_path / "serial"), threads=1)
    parallel = run_sweep(spec, [0, 1], Store(tmp_path / "parallel"), workers=2, threads=1)
    keys = ("final_test_acc", "final_test_loss", "final_train_loss_epoch_avg")
    for tid, record in serial.ran.items():
        assert [record[k] for k in keys] == [parallel.ran[tid][k] for k in keys]


def test_one_failure_does_not_stop_the_sweep_unless_fail_fast(tiny_spec_file, store_dir, monkeypatch):
    import scrutiny.trials.loop as loop

    real = loop.build_optimizer
    calls = {"n": 0}

    def flaky(model, section, **kwargs):  # fails on the 1st, 3rd, ... trial
        calls["n"] += 1
        if calls["n"] % 2 == 1:
            raise RuntimeError("odd call")
        return real(model, section, **kwargs)

    monkeypatch.setattr(loop, "build_optimizer", flaky)
    spec = load_spec(tiny_spec_file, ["train.epochs=1"])
    result = run_sweep(spec, [0, 1, 2], Store(store_dir), threads=1)
    assert result.counts() == {"failed": 2, "complete": 1}
    calls["n"] = 0
    fast = run_sweep(spec, [5, 6, 7], Store(store_dir / "ff"), threads=1, fail_fast=True)
    assert fast.counts() == {"failed": 1}
    retried = run_sweep(spec, [0, 1, 2], Store(store_dir), threads=1, retry_failed=True)
    assert len(retried.ran) == 2


def default_sigint() -> None:
    """In the child, before exec: SIGINT back to its default, so that Python installs its KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


KILLER = """
import sys
from scrutiny.execute import Reporter, run_sweep
from scrutiny.spec import load_spec
from scrutiny.store import Store

class Announce(Reporter):
    def trial_finished(self, trial, record):
        print("finished", trial.trial_id, flush=True)

run_sweep(load_spec(sys.argv[1], ["train.epochs=2"]), [0, 1, 2], Store(sys.argv[2]), threads=1, reporter=Announce())
"""


def test_a_killed_sweep_resumes_without_duplicates(tiny_spec_file, store_dir, tmp_path):
    script = tmp_path / "sweep.py"
    script.write_text(KILLER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tiny_spec_file), str(store_dir)], stdout=subprocess.PIPE, text=True
    )
    first_line = proc.stdout.readline()  # wait until the first trial has finished
    assert first_line.startswith("finished")
    time.sleep(0.3)  # the second trial is under way
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    store = Store(store_dir)
    done_before = {t: store.result(t)["started_at"] for t in store.trial_ids() if store.status(t) == "complete"}
    assert len(done_before) >= 1
    spec = load_spec(tiny_spec_file, ["train.epochs=2"])
    result = run_sweep(spec, [0, 1, 2], store, threads=1)
    assert set(result.skipped) == set(done_before)
    assert len(store.trial_ids()) == 3
    assert all(store.status(t) == "complete" for t in store.trial_ids())
    assert {t: store.result(t)["started_at"] for t in done_before} == done_before  # not run again
    for t in store.trial_ids():
        epochs = [row["epoch"] for row in store.metrics(t)]
        assert epochs == [1, 2]  # no duplicated or stale rows from the killed attempt
        assert json.loads((store_dir / t / "spec.json").read_text())["seed"] in (0, 1, 2)


INTERRUPTED = """
import sys
from scrutiny.execute import run_sweep
from scrutiny.spec import load_spec
from scrutiny.store import Store

if __name__ == "__main__":  # worker processes are spawned and re-import this file
    spec = load_spec(sys.argv[1], ["train.epochs=6"])
    result = run_sweep(spec, list(range(8)), Store(sys.argv[2]), workers=2, threads=1)
    print("interrupted" if result.interrupted else "finished", len(result.ran), flush=True)
"""


def test_ctrl_c_on_a_parallel_sweep_keeps_finished_trials_and_fails_none(tiny_spec_file, store_dir, tmp_path):
    script = tmp_path / "sweep.py"
    script.write_text(INTERRUPTED)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tiny_spec_file), str(store_dir)],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,  # a suite run as a background job has SIGINT ignored, and children inherit that
    )
    # The event: the first trial's final record. 6 epochs a trial leave seconds between it and the last one.
    while len(list(store_dir.glob("*/result.json"))) < 1 and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert out.startswith("interrupted"), out
    store = Store(store_dir)
    statuses = [store.status(t) for t in store.trial_ids()]
    assert "failed" not in statuses and statuses.count("complete") >= 1
    rerun = run_sweep(load_spec(tiny_spec_file, ["train.epochs=6"]), list(range(8)), store, threads=1)
    assert not rerun.interrupted and len(rerun.skipped) == statuses.count("complete")
    assert all(store.status(t) == "complete" for t in store.trial_ids()) and len(store.trial_ids()) == 8
