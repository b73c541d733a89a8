"""Training throughput on CIFAR-shaped data: scrutiny's loop against a bare loop, and the three data paths.

Two measurements, each a ratio of numbers taken in this run:

1. **Data paths** (any device): images per second of one epoch of batches, augmented by the per-example path
   (:class:`~scrutiny.data.augment.AugmentedDataset`: a seeded generator and a pad-and-slice per image, through a
   ``DataLoader``), by the batched path (:class:`~scrutiny.data.device_data.DeviceSplit`: uint8 on the device, one
   draw per epoch, one gather per batch), and without augmentation (slices of a float tensor). Printed: batched over
   per-example, and batched over none.
2. **Loop** (the target is on CUDA): training steps per second of ``run_trial`` against a tuned bare loop that does
   the same work by hand: the same net, uint8 images on the device normalised per batch, the same batched crop and
   flip, bf16 autocast, ``channels_last``, Nesterov SGD, label smoothing. Both run ``--epochs`` epochs on the same
   random CIFAR-10-format folder; the first epoch (warm-up: cuDNN autotuning, allocator) and the last (which holds
   scrutiny's evaluation) are left out of both; steps/s is over the epochs between. Target on CUDA: ratio >= 0.95.

The images are random (a CIFAR-10-format folder written here), so the numbers are throughput, not accuracy.

    python benchmarks/gpu_throughput.py [--device cuda|cpu] [--n 50000] [--batch-size 1024] [--epochs 5]
        [--model airbench94] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from scrutiny.data.augment import AugmentedDataset, RandomCropFlip
from scrutiny.data.batch_augment import BatchCropFlip
from scrutiny.data.cifar_files import write_random_cifar10
from scrutiny.data.device_data import CompactImages, DeviceSplit
from scrutiny.models import build_model
from scrutiny.spec import load_spec
from scrutiny.store import Store
from scrutiny.trials import run_trial
from scrutiny.trials.batches import train_batches

MEAN = torch.tensor((0.4914, 0.4822, 0.4465)).view(1, 3, 1, 1)
STD = torch.tensor((0.2470, 0.2435, 0.2616)).view(1, 3, 1, 1)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def data_paths(n: int, batch_size: int, device: torch.device, repeats: int) -> dict[str, float]:
    """Images per second of one epoch of training batches, on ``device``, per path (median of ``repeats``)."""
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8)
    labels = torch.randint(0, 10, (n,))
    floats = (images.float() / 255.0 - MEAN) / STD
    tensors = torch.utils.data.TensorDataset(floats, labels)
    per_example = AugmentedDataset(tensors, RandomCropFlip(4), seed=0)
    per_example.set_epoch(1)
    held = DeviceSplit(CompactImages(images, labels, 255.0, MEAN, STD), device, BatchCropFlip(4), seed=0)
    plain = DeviceSplit(CompactImages(images, labels, 255.0, MEAN, STD), device)

    def epoch(path: str) -> float:
        g = torch.Generator().manual_seed(0)
        sync(device)
        t0 = time.perf_counter()
        if path == "per_example":
            for x, _ in train_batches(per_example, batch_size, g, drop_last=False, num_workers=0):
                x.to(device)
        else:
            split = held if path == "batched" else plain
            split.set_epoch(1)
            for _x, _ in split.batches(torch.randperm(n, generator=g), batch_size, drop_last=False):
                pass
        sync(device)
        return n / (time.perf_counter() - t0)

    return {path: statistics.median(epoch(path) for _ in range(repeats)) for path in ("per_example", "batched", "none")}


SPEC = """
model: {{name: {model}}}
data: {{name: cifar10, root: {root}, batch_size: {bs}, on_device: true, crop_padding: 2, pad_mode: reflect,
       flip: alternating, drop_last: true}}
optim: {{name: sgd, lr: 0.05, momentum: 0.85, nesterov: true, weight_decay: 0.0005}}
train: {{epochs: {epochs}, device: {device}, precision: bf16, channels_last: true, label_smoothing: 0.2,
        save_checkpoint: false}}
eval: {{every_epochs: {epochs}}}
"""


def scrutiny_steps_per_s(spec_path: Path, store: Path, seed: int) -> float:
    record = run_trial(load_spec(spec_path), seed, Store(store))
    if record["status"] != "complete":
        raise SystemExit(f"gpu_throughput: the scrutiny trial ended {record['status']}: {record.get('error')}")
    rows = [json.loads(line) for line in (Store(store).trial_dir(record["trial_id"]) / "metrics.jsonl").open()]
    middle = rows[1:-1]
    steps = record["train_steps"] // record["epochs"] * len(middle)
    return steps / sum(r["epoch_time_s"] for r in middle)


def bare_steps_per_s(spec_path: Path, root: Path, seed: int) -> float:
    """The same training by hand: no store, no schedule, no per-step bookkeeping beyond the loss tensor."""
    from scrutiny.data.cifar_files import read_cifar

    spec = load_spec(spec_path)
    device = torch.device(spec.train.device)
    split = read_cifar(root, "cifar10")["train"]
    x = torch.from_numpy(split.data).permute(0, 3, 1, 2).contiguous().to(device)
    y = torch.tensor(split.targets).to(device)
    mean, std = MEAN.to(device), STD.to(device)
    torch.manual_seed(seed)
    model = build_model(spec.model.model_dump(), {"num_classes": 10, "in_channels": 3, "image_size": (32, 32)})
    model = model.to(device)
    hook, count = getattr(model, "init_from_data", None), getattr(model, "data_init_examples", None)
    if callable(hook) and isinstance(count, int):
        hook((x[:count].float() / 255.0 - mean) / std)
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(
        model.parameters(),
        lr=spec.optim.lr,
        momentum=spec.optim.momentum,
        nesterov=True,
        weight_decay=spec.optim.weight_decay,
    )
    augment = BatchCropFlip(2, "reflect", "alternating")
    bs, n = spec.data.batch_size, len(y)
    g = torch.Generator().manual_seed(seed)
    times = []
    for epoch in range(1, spec.train.epochs + 1):
        model.train()
        sync(device)
        t0 = time.perf_counter()
        draws = {k: v.to(device) for k, v in augment.draw(seed, epoch, n).items()}  # timed, as scrutiny's is
        order = torch.randperm(n, generator=g).to(device)
        for start in range(0, n - n % bs, bs):
            idx = order[start : start + bs]
            xb = augment.apply((x[idx].float() / 255.0 - mean) / std, {k: v[idx] for k, v in draws.items()})
            xb = xb.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16):
                loss = F.cross_entropy(model(xb), y[idx], label_smoothing=spec.train.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sync(device)
        times.append(time.perf_counter() - t0)
    middle = times[1:-1]
    return (n // bs) * len(middle) / sum(middle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--n", type=int, default=None, help="training images (default: 50000 on CUDA, 4096 on CPU)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 1024 on CUDA, 256 on CPU")
    parser.add_argument("--epochs", type=int, default=5, help="at least 3: the first and last are not timed")
    parser.add_argument("--model", default="airbench94")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-loop", action="store_true", help="only the data paths")
    args = parser.parse_args()
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    n = args.n or (50000 if cuda else 4096)
    bs = args.batch_size or (1024 if cuda else 256)
    name = torch.cuda.get_device_name(device) if cuda else "cpu"
    print(f"# gpu_throughput on {name}; torch {torch.__version__}; {n} CIFAR-shaped random images, batch {bs}")

    rates = data_paths(n, bs, device, args.repeats)
    print(f"data paths, images/s (one epoch of batches, median of {args.repeats}):")
    for path, rate in rates.items():
        print(f"  {path:12s} {rate:12.0f}")
    print(f"ratio batched / per_example: {rates['batched'] / rates['per_example']:.2f}")
    print(f"ratio batched / none:        {rates['batched'] / rates['none']:.2f}")
    if args.skip_loop:
        return
    if args.epochs < 3:
        raise SystemExit("gpu_throughput: --epochs must be at least 3 (the first and the last are not timed)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "cifar"
        write_random_cifar10(root, n, 1000)
        spec_path = Path(tmp) / "spec.yaml"
        spec_path.write_text(SPEC.format(model=args.model, root=root, bs=bs, epochs=args.epochs, device=args.device))
        ours, bare = [], []
        for r in range(args.repeats):  # alternate, so that drift hits both
            bare.append(bare_steps_per_s(spec_path, root, r))
            ours.append(scrutiny_steps_per_s(spec_path, Path(tmp) / f"store{r}", r))
    ratio = statistics.median(ours) / statistics.median(bare)
    print(
        f"loop, steps/s (median of {args.repeats}): scrutiny {statistics.median(ours):.2f}, "
        f"bare {statistics.median(bare):.2f}"
    )
    target = " (target >= 0.95 on CUDA)" if cuda else " (the target is for CUDA)"
    print(f"ratio scrutiny / bare: {ratio:.3f}{target}")


if __name__ == "__main__":
    main()
