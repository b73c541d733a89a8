"""The store harms nothing it did not write: planted links, files and foreign entries are refused, never followed."""

from __future__ import annotations

import os

import pytest

from scrutiny.errors import StoreError
from scrutiny.execute import run_sweep
from scrutiny.spec import load_spec, trial_id
from scrutiny.store import Store


def _victim(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    return victim


def test_a_trial_id_planted_as_a_link_is_refused_and_its_target_untouched(synthetic_spec_file, tmp_path):
    spec = load_spec(synthetic_spec_file)
    store_dir, victim = tmp_path / "S1", _victim(tmp_path)
    store_dir.mkdir()
    os.symlink(victim, store_dir / trial_id(spec, 0))
    with pytest.raises(StoreError, match="symbolic link"):
        run_sweep(spec, [0], Store(store_dir), threads=1)
    assert sorted(os.listdir(victim)) == ["precious.txt"] and (victim / "precious.txt").read_text() == "keep me"


def test_the_cli_refuses_a_planted_link_in_one_line(synthetic_spec_file, tmp_path, cli):
    spec = load_spec(synthetic_spec_file)
    store_dir, victim = tmp_path / "S1", _victim(tmp_path)
    store_dir.mkdir()
    os.symlink(victim, store_dir / trial_id(spec, 0))
    code, _, err = cli("run", synthetic_spec_file, "--store", store_dir)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "symbolic link" in lines[0] and trial_id(spec, 0) in lines[0], err
    assert os.listdir(victim) == ["precious.txt"]


@pytest.mark.parametrize("plant", ["file", "link_inside", "foreign_file", "foreign_folder", "lock_link"])
def test_planted_entries_are_refused_and_nothing_outside_is_touched(tmp_path, plant):
    store, victim = Store(tmp_path / "S"), _victim(tmp_path)
    tid = "abc123-s0"
    store.begin(tid, {"seed": 0}).abandon()  # an incomplete trial, as a crash leaves it
    folder = tmp_path / "S" / tid
    if plant == "file":
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()
        folder.write_text("not a folder")
    elif plant == "link_inside":
        (folder / "metrics.jsonl").symlink_to(victim / "precious.txt")
    elif plant == "foreign_file":
        (folder / "notes.txt").write_text("mine")
    elif plant == "foreign_folder":
        (folder / "data").mkdir()
    else:
        lock = tmp_path / "S" / ".locks" / f"{tid}.lock"
        lock.unlink()
        lock.symlink_to(victim / "precious.txt")
    with pytest.raises(StoreError):
        store.begin(tid, {"seed": 0})
    assert (victim / "precious.txt").read_text() == "keep me" and os.listdir(victim) == ["precious.txt"]
    if plant == "foreign_file":
        assert (folder / "notes.txt").read_text() == "mine"  # refused, not deleted


def test_reading_refuses_links_and_lists_no_linked_trials(tmp_path):
    store, victim = Store(tmp_path / "S"), _victim(tmp_path)
    (victim / "spec.json").write_text("{}")
    (tmp_path / "S").mkdir()
    os.symlink(victim, tmp_path / "S" / "abc-s0")
    assert store.trial_ids() == []
    with pytest.raises(StoreError, match="symbolic link"):
        store.status("abc-s0")
    with pytest.raises(StoreError, match="not a trial id"):
        store.trial_dir("../victim")


def test_a_store_that_is_a_file_is_one_line(tmp_path):
    path = tmp_path / "store"
    path.write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        Store(path).begin("abc-s0", {})
    with pytest.raises(StoreError, match="is a file"):
        Store(path).trial_ids()
