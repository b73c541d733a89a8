"""Overhead of scrutiny's training loop against a hand-written PyTorch loop, measured in the same process.

Both train ``small_cnn`` on scikit-learn's digits with the same batch size, optimizer and schedule, and evaluate
once at the end. The hand-written loop is what one writes in a notebook: shuffle with a generator, forward,
cross-entropy, backward, step, and a ``loss.item()`` per step for logging. scrutiny's time is the device time it
records (training and evaluation epochs, no setup); the hand loop's is the same span. Runs alternate, and the
median of ``--repeats`` runs is reported. Target: ratio (scrutiny steps/s over hand steps/s) >= 0.97.

    python benchmarks/trainer_overhead.py [--device cpu|cuda] [--epochs 5] [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F

from scrutiny.models import build_model
from scrutiny.registry import DATASETS
from scrutiny.spec import load_spec
from scrutiny.store import Store
from scrutiny.trials import run_trial
from scrutiny.trials.batches import steps_per_epoch


def hand_loop(spec, device: torch.device, seed: int) -> float:
    """Seconds for ``spec.train.epochs`` epochs of plain PyTorch plus one evaluation."""
    bundle = DATASETS.get("digits")()
    x_train, y_train = bundle.splits["train"].tensors
    x_test, y_test = bundle.splits["test"].tensors
    torch.manual_seed(seed)
    model = build_model(spec.model.model_dump(), {"num_classes": 10, "in_channels": 1}).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=spec.optim.lr, momentum=spec.optim.momentum)
    g = torch.Generator().manual_seed(seed)
    bs = spec.data.batch_size
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(spec.train.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=g)
        for start in range(0, len(order), bs):
            idx = order[start : start + bs]
            xb, yb = x_train[idx].to(device), y_train[idx].to(device)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss.item()
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x_test), spec.data.eval_batch_size):
            xb = x_test[start : start + spec.data.eval_batch_size].to(device)
            correct += int((model(xb).argmax(1).cpu() == y_test[start : start + spec.data.eval_batch_size]).sum())
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def scrutiny_loop(spec, seed: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        record = run_trial(spec, seed, Store(tmp))
    assert record["status"] == "complete", record
    return record["device_time_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    spec = load_spec(
        data={
            "model": {"name": "small_cnn", "width": 32},
            "data": {"name": "digits", "batch_size": args.batch_size, "eval_batch_size": 512},
            "optim": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
            "train": {"epochs": args.epochs, "device": args.device},
            "eval": {"every_epochs": args.epochs},
        }
    )
    steps = args.epochs * steps_per_epoch(1347, args.batch_size, False)
    hand_loop(spec, device, 0)  # warm-up: allocator, kernels, dataset cache
    scrutiny_loop(spec, 0)
    hand, ours = [], []
    for r in range(args.repeats):
        hand.append(hand_loop(spec, device, r))
        ours.append(scrutiny_loop(spec, r))
    h, s = statistics.median(hand), statistics.median(ours)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"small_cnn on digits, batch {args.batch_size}, {args.epochs} epochs ({steps} steps), {name}")
    print(f"hand-written loop : {steps / h:8.1f} steps/s  (median of {args.repeats}: {h:.3f} s)")
    print(f"scrutiny loop     : {steps / s:8.1f} steps/s  (median of {args.repeats}: {s:.3f} s)")
    print(f"ratio scrutiny/hand: {h / s:.3f}  (target >= 0.97)")


if __name__ == "__main__":
    main()
