import json
import os
import subprocess
import sys

import pytest

from scrutiny.errors import StoreError
from scrutiny.store import Store, TrialBusyError, TrialFinishedError
from scrutiny.store._atomic import write_json


def test_status_lifecycle(tmp_path):
    store = Store(tmp_path)
    assert store.status("abc-s0") == "missing"
    writer = store.begin("abc-s0", {"spec_hash": "abc", "seed": 0})
    assert store.status("abc-s0") == "incomplete"
    with pytest.raises(TrialBusyError):
        store.begin("abc-s0", {"spec_hash": "abc", "seed": 0})  # this live process holds the lock
    writer.append_metrics({"epoch": 1, "x": float("nan")})
    writer.finish({"status": "complete"})
    assert store.status("abc-s0") == "complete"
    assert store.metrics("abc-s0") == [{"epoch": 1, "x": None}]  # JSON has no NaN: stored as null
    assert store.result("abc-s0")["schema_version"] == 1 and "scrutiny_version" in store.result("abc-s0")
    with pytest.raises(StoreError, match="already finished"):
        store.begin("abc-s0", {})


def test_an_incomplete_trial_is_cleared_when_begun_again(tmp_path):
    store = Store(tmp_path)
    writer = store.begin("t-s1", {"seed": 1})
    writer.append_metrics({"epoch": 1})
    writer.abandon()
    store.begin("t-s1", {"seed": 1})
    assert store.metrics("t-s1") == []


def test_the_lock_of_a_killed_process_is_free_at_once(tmp_path):
    """flock is released by the kernel when its holder dies: nothing is stale, nothing is guessed from pids."""
    code = (
        "import os, signal, sys; from scrutiny.store import Store; "
        "Store(sys.argv[1]).begin('t-s0', {}); print('held', flush=True); os.kill(os.getpid(), signal.SIGKILL)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    proc.wait(timeout=60)
    store = Store(tmp_path)
    assert store.status("t-s0") == "incomplete" and not store.busy("t-s0")
    store.begin("t-s0", {}).finish({"status": "complete"})  # no error: taken over from the dead holder


def test_a_finished_trial_is_not_begun_again_unless_it_failed_and_that_is_asked(tmp_path):
    store = Store(tmp_path)
    store.begin("t-s0", {}).finish({"status": "failed", "error": "x"})
    with pytest.raises(TrialFinishedError):
        store.begin("t-s0", {})
    store.begin("t-s0", {}, replace_failed=True).finish({"status": "complete"})
    with pytest.raises(TrialFinishedError):
        store.begin("t-s0", {}, replace_failed=True)
    assert not store.mark_failed("t-s0", {"error": "dead"})  # a final record is never overwritten
    assert store.result("t-s0")["status"] == "complete"


def test_mark_failed_records_a_dead_trial_under_its_lock(tmp_path):
    store = Store(tmp_path)
    writer = store.begin("t-s0", {})
    assert not store.mark_failed("t-s0", {"error": "dead"})  # its holder is alive: not touched
    writer.abandon()
    assert store.mark_failed("t-s0", {"error": "worker killed"})
    assert store.result("t-s0")["status"] == "failed" and store.result("t-s0")["error"] == "worker killed"


def test_atomic_json_leaves_no_temporary_files(tmp_path):
    write_json(tmp_path / "r.json", {"a": 1.5, "b": (1, 2)})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 1.5, "b": [1, 2]}
    assert os.listdir(tmp_path) == ["r.json"]


def test_torn_metrics_line_is_ignored(tmp_path):
    store = Store(tmp_path)
    writer = store.begin("t-s0", {})
    writer.append_metrics({"epoch": 1})
    with open(tmp_path / "t-s0" / "metrics.jsonl", "a") as fh:
        fh.write('{"epoch": 2, "te')
    assert store.metrics("t-s0") == [{"epoch": 1}]


def test_resolve_id_by_prefix(tmp_path):
    store = Store(tmp_path)
    store.begin("aaa111-s0", {}).finish({"status": "complete"})
    store.begin("aaa222-s0", {}).finish({"status": "complete"})
    assert store.resolve_id("aaa1") == "aaa111-s0"
    with pytest.raises(StoreError, match="ambiguous"):
        store.resolve_id("aaa")
    with pytest.raises(StoreError, match="no trial 'zzz'"):
        store.resolve_id("zzz")


def test_unreadable_record_is_a_one_line_error(tmp_path):
    store = Store(tmp_path)
    store.begin("t-s0", {}).finish({"status": "complete"})
    (tmp_path / "t-s0" / "result.json").write_text("{broken")
    with pytest.raises(StoreError, match=r"result\.json: unreadable record"):
        store.result("t-s0")
