"""Speed of ``export_store`` (batched) against a naive one-call-per-value MLflow export, measured in the same run.

Writes ``--trials`` fake trial folders of ``--epochs`` epochs through the store's writers (no training: real
resolved specs, ``trial.json``, nine metrics per epoch and a final record), then exports them into a fresh SQLite
MLflow store with :func:`scrutiny.export.export_store` (``log_batch`` in chunks of MLflow's limits). The naive
export reads the same records with the same functions and logs each param with ``log_param``, each tag with
``set_tag`` and each metric point with ``log_metric``; it runs on a subsample of ``--naive-trials`` trials (it is
slow) and its per-trial time is scaled to all trials. Both start from an MLflow database whose tables exist
(migrations are not timed). Also timed: a second export of the unchanged store (nothing to write).

    python benchmarks/export_speed.py [--trials 500] [--epochs 30] [--naive-trials 20]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path

from scrutiny.export import export_store
from scrutiny.export import records as rec
from scrutiny.spec import load_spec, spec_hash, trial_id
from scrutiny.store import Store

SPEC = """
label: bench
model: {name: small_cnn, width: 8}
data: {name: digits, batch_size: 64}
optim: {name: sgd, lr: 0.1, momentum: 0.9}
train: {epochs: 30, device: cpu}
"""


def make_store(root: Path, n_trials: int, epochs: int, seeds_per_spec: int = 5) -> Store:
    """``n_trials`` complete trial folders (``n_trials / seeds_per_spec`` specs differing in ``optim.lr``)."""
    spec_file = root / "bench.yaml"
    spec_file.write_text(SPEC)
    store = Store(root / "runs")
    t0 = 1_780_000_000
    for i in range(n_trials):
        spec = load_spec(spec_file, [f"optim.lr={0.01 * (1 + i // seeds_per_spec)}", f"train.epochs={epochs}"])
        seed, tid = i % seeds_per_spec, trial_id(spec, i % seeds_per_spec)
        started = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t0 + 60 * i))
        ended = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t0 + 60 * i + 45))
        writer = store.begin(tid, {"trial_id": tid, "spec_hash": spec_hash(spec), "seed": seed, "spec": spec.to_dict()})
        env = {"torch": "2.x", "device": "cpu", "device_name": "bench", "host": "bench", "git": {"repo": False}}
        writer.write("trial.json", {"trial_id": tid, "started_at": started, "environment": env, "precision": "fp32"})
        for e in range(1, epochs + 1):
            acc = 1 - 0.9 / e
            writer.append_metrics(
                {
                    "epoch": e,
                    "lr": 0.1,
                    "train_loss_epoch_avg": 2.3 / e,
                    "train_acc_epoch_avg": acc,
                    "train_n": 1347,
                    "test_loss": 2.4 / e,
                    "test_acc": acc - 0.01 * seed,
                    "test_correct": int(450 * (acc - 0.01 * seed)),
                    "test_n": 450,
                    "epoch_time_s": 1.2,
                }
            )
        final = {"final_test_acc": acc, "final_test_loss": 2.4 / epochs, "best_test_acc": acc, "best_epoch": epochs}
        writer.finish(
            {"trial_id": tid, "seed": seed, "status": "complete", **final, "wall_time_s": 45.0, "ended_at": ended}
        )
    return store


def naive_export(store: Store, uri: str, trial_ids: list[str], artifacts: Path) -> int:
    """One MLflow call per param, tag and metric point; return the number of calls."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    eid = client.create_experiment("naive", artifact_location=artifacts.as_uri())
    calls = 1
    for tid in trial_ids:
        spec_record, start, result = store.spec(tid), store.trial(tid), store.result(tid)
        rows = store.metrics(tid)
        run_id = client.create_run(eid, run_name=rec.run_name(spec_record)).info.run_id
        for key, value in rec.trial_params(spec_record).items():
            client.log_param(run_id, key, value)
        for key, value in rec.trial_tags(spec_record, start, result).items():
            client.set_tag(run_id, key, value)
        for key, value, ts, step in rec.trial_metrics(rows, start, result):
            client.log_metric(run_id, key, value, timestamp=ts, step=step, synchronous=True)
        for name in ("spec.json", "trial.json", "result.json"):
            client.log_artifact(run_id, str(store.trial_dir(tid) / name))
        client.set_terminated(run_id, "FINISHED")
        n_values = len(rec.trial_params(spec_record)) + len(rec.trial_tags(spec_record, start, result))
        calls += 2 + n_values + len(rec.trial_metrics(rows, start, result)) + 3
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--naive-trials", type=int, default=20, help="Subsample for the naive export.")
    args = parser.parse_args()
    from mlflow import MlflowClient

    for name in ("mlflow", "alembic"):  # quiet the database set-up (after importing mlflow, which sets its level)
        logging.getLogger(name).setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        store = make_store(root, args.trials, args.epochs)
        print(f"wrote {args.trials} trials × {args.epochs} epochs in {time.perf_counter() - t:.1f} s")
        template = root / "template.db"
        MlflowClient(f"sqlite:///{template}").search_experiments()  # tables made once, not timed
        for name in ("batched.db", "naive.db"):
            shutil.copyfile(template, root / name)

        t = time.perf_counter()
        summary = export_store(store, f"sqlite:///{root / 'batched.db'}", "batched")
        batched = time.perf_counter() - t
        assert len(summary.created) == args.trials, summary.to_dict()["trials"]
        t = time.perf_counter()
        again = export_store(store, f"sqlite:///{root / 'batched.db'}", "batched")
        noop = time.perf_counter() - t
        assert len(again.unchanged) == args.trials and not again.created

        ids = store.trial_ids()[: args.naive_trials]
        t = time.perf_counter()
        calls = naive_export(store, f"sqlite:///{root / 'naive.db'}", ids, root / "naive-artifacts")
        naive = (time.perf_counter() - t) / len(ids) * args.trials
        n_points = len(rec.trial_metrics(store.metrics(ids[0]), store.trial(ids[0]), store.result(ids[0])))

    print(f"metric points per trial: {n_points}; naive calls per trial: {calls // len(ids)}")
    print(f"batched export of {args.trials} trials: {batched:.1f} s ({1000 * batched / args.trials:.0f} ms a trial)")
    print(f"re-export, nothing new: {noop:.1f} s")
    print(
        f"naive one-call-per-value export: {naive:.1f} s for {args.trials} trials "
        f"(measured on a subsample of {len(ids)} trials, scaled)"
    )
    print(f"ratio naive / batched: {naive / batched:.1f}x")


if __name__ == "__main__":
    main()
