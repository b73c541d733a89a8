"""GPU placement of local workers: round-robin over the visible devices, one device per worker, several workers
per GPU with a fractional share; a fake device list end to end; the real thing where a GPU is at hand."""

from __future__ import annotations

from pathlib import Path

import pytest

import scrutiny.execute.gpus as gpus
from scrutiny.execute import Executor, ExecutorError, run_sweep
from scrutiny.execute.gpus import worker_devices
from scrutiny.spec import load_spec
from scrutiny.store import Store

SPEC = """
label: tiny-synthetic
model: {{name: small_cnn, width: 4}}
data: {{name: synthetic, num_classes: 4, channels: 1, size: 8, n_train: 64, n_test: 32, batch_size: 32}}
optim: {{name: sgd, lr: 0.05}}
train: {{epochs: 1, device: {device}}}
"""


def _spec(tmp_path: Path, device: str = "auto"):
    path = tmp_path / f"{device.replace(':', '')}.yaml"
    path.write_text(SPEC.format(device=device))
    return load_spec(path)


@pytest.mark.parametrize(
    ("n_devices", "workers", "share", "expected"),
    [
        (0, 3, None, [None, None, None]),  # no GPU: nothing changes
        (8, 8, None, list(range(8))),  # one worker per GPU
        (2, 5, None, [0, 1, 0, 1, 0]),  # round-robin when there are more workers than GPUs
        (2, 4, 0.5, [0, 1, 0, 1]),  # two trials per GPU
        (1, 4, 0.25, [0, 0, 0, 0]),  # four trials share one GPU
        (3, 2, 1, [0, 1]),
    ],
)
def test_workers_go_round_robin_over_the_devices(n_devices, workers, share, expected):
    assert worker_devices(n_devices, workers, share) == expected


@pytest.mark.parametrize(
    ("n_devices", "workers", "share", "message"),
    [
        (0, 1, 0.5, r"^gpus_per_trial: 0.5 GPU\(s\) asked for but no GPU is visible$"),
        (2, 1, 2, r"^gpus_per_trial: a local trial runs on one GPU; got 2"),
        (2, 5, 0.5, r"^gpus_per_trial: 5 workers at 0.5 GPU each need 2.5 GPUs; 2 are visible \(at most 4 workers\)$"),
        (1, 2, 0, r"^gpus_per_trial: 0 on a machine with GPUs"),
    ],
)
def test_more_than_the_gpus_hold_is_one_line_naming_the_parameter(n_devices, workers, share, message):
    with pytest.raises(ExecutorError, match=message):
        worker_devices(n_devices, workers, share)


def test_each_worker_starts_seeing_only_its_device_and_each_trial_records_it(tmp_path, monkeypatch):
    # A fake list of visible GPUs: the workers start with CUDA_VISIBLE_DEVICES set to one entry each. Without a
    # real GPU behind it torch sees none, so 'auto' trains on the CPU; the placement is what this checks.
    monkeypatch.setattr(gpus, "visible_device_ids", lambda: ["5", "7"])
    store = Store(tmp_path / "runs")
    result = run_sweep(_spec(tmp_path), [0, 1], store, workers=2, threads=1)
    assert len(result.ran) == 2 and all(r["status"] == "complete" for r in result.ran.values())
    seen = sorted(store.trial(t)["environment"]["device_placement"]["cuda_visible_devices"] for t in result.ran)
    assert seen == ["5", "7"]


def test_gpus_asked_for_without_any_fail_before_any_trial_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(gpus, "visible_device_ids", lambda: [])
    store = Store(tmp_path / "runs")
    with pytest.raises(ExecutorError, match="^gpus_per_trial: 1 GPU"):
        run_sweep(_spec(tmp_path), [0, 1], store, workers=2, executor=Executor(gpus_per_trial=1))
    assert store.trial_ids() == []


def test_on_cuda_every_trial_records_the_gpu_it_ran_on(tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device here")
    n = torch.cuda.device_count()
    workers = 2 * n  # two trials per GPU
    store = Store(tmp_path / "runs")
    spec = _spec(tmp_path, "cuda")
    result = run_sweep(
        spec, list(range(workers)), store, workers=workers, threads=1, executor=Executor(gpus_per_trial=0.5)
    )
    assert all(r["status"] == "complete" for r in result.ran.values())
    placements = [store.trial(t)["environment"]["device_placement"] for t in result.ran]
    assert all(p["index"] == 0 and p["uuid"] for p in placements)  # each worker sees exactly one device
    assert len({p["uuid"] for p in placements}) == n  # and together they cover every GPU
    with pytest.raises(ExecutorError, match="^gpus_per_trial: "):
        run_sweep(spec, [99], store, workers=n + 1, executor=Executor(gpus_per_trial=1))
