"""One small real store for the export tests, built once per session: trained, diverged, failed and incomplete trials.

Trials: ``tiny-digits`` (width 8, 2 epochs) seeds 0-1, the same spec at width 2 seeds 0-1 (the claim's second arm),
one trial that diverges (lr 1e30), one that fails (a dataset folder that does not exist) and one left incomplete
(begun and abandoned, as an interrupted trial is). Tests that add trials work on a copy (:func:`store_copy`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

TINY = """
label: tiny-digits
model: {name: small_cnn, width: 8}
data: {name: digits, batch_size: 64, eval_batch_size: 200}
optim: {name: sgd, lr: 0.1, momentum: 0.9}
train: {epochs: 2, device: cpu, save_checkpoint: false}
"""

CLAIM = """
title: Width matters a little
source: {paper: "scrutiny's export test (no paper)", where: "tests/export"}
metric: final_test_acc
higher_is_better: true
seeds: 0-1
arms:
  wide: {spec: tiny.yaml, label: "width 8"}
  narrow: {spec: tiny.yaml, set: [model.width=2], label: "width 2", reported: {value: 0.5}}
hypotheses:
  - wide > narrow
  - narrow ≈ reported ± 0.3
scales:
  smoke: {seeds: 0-1}
default_scale: smoke
"""


class Built:
    """Paths and trial ids of the module's store."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.spec_file = root / "tiny.yaml"
        self.claim_file = root / "claim.yaml"
        self.store_dir = root / "runs"
        self.ids: dict[str, list[str]] = {}


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Built:
    from scrutiny.execute import run_sweep
    from scrutiny.spec import load_spec, spec_hash, trial_id
    from scrutiny.store import Store

    b = Built(tmp_path_factory.mktemp("export"))
    b.spec_file.write_text(TINY)
    b.claim_file.write_text(CLAIM)
    store = Store(b.store_dir)
    sets = {
        "wide": [],
        "narrow": ["model.width=2"],
        "diverged": ["optim.lr=1e30"],
        "failed": ["data.name=imagefolder", f"data.root={b.root / 'no-such-data'}"],
    }
    for name, overrides in sets.items():
        spec = load_spec(b.spec_file, overrides)
        seeds = [0, 1] if name in ("wide", "narrow") else [0]
        run_sweep(spec, seeds, store, threads=1)
        b.ids[name] = [trial_id(spec, s) for s in seeds]
    spec = load_spec(b.spec_file, ["model.width=3"])
    tid = trial_id(spec, 0)
    writer = store.begin(tid, {"trial_id": tid, "spec_hash": spec_hash(spec), "seed": 0, "spec": spec.to_dict()})
    writer.abandon()
    b.ids["incomplete"] = [tid]
    return b


@pytest.fixture
def store_copy(built, tmp_path) -> Path:
    """A copy of the shared store (for tests that add trials or write the default ``mlflow.db`` into it)."""
    target = tmp_path / "runs"
    shutil.copytree(built.store_dir, target, ignore=shutil.ignore_patterns(".locks"))
    return target


@pytest.fixture(scope="session")
def empty_db(tmp_path_factory) -> Path:
    """An MLflow SQLite database with its tables made once (MLflow's migrations take seconds on a busy machine)."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow") / "template.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def db_uri(empty_db, tmp_path) -> str:
    """A fresh, real MLflow SQLite store in the test's folder (a copy of :func:`empty_db`)."""
    target = tmp_path / "mlflow.db"
    shutil.copyfile(empty_db, target)
    return f"sqlite:///{target}"
