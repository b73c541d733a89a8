"""Throughput of 10-crop evaluation against single-crop evaluation of the same number of crops, same model.

A folder of ``--images`` random JPEGs (odd sizes around 500×375) is written to a temporary directory. The 10-crop
run evaluates it with :func:`scrutiny.protocols.ten_crop` at ``--batch`` images per step (``10 × batch`` crops per
forward pass). The baseline evaluates a folder holding ten hard links to each image with
:func:`scrutiny.protocols.single_crop` at ``10 × batch`` images per step: the same number of crops, the same
forward-pass batch, the same model, through the same :func:`~scrutiny.protocols.evaluate_imagefolder`. The ratio
is crops/s of 10-crop over crops/s of single-crop; the target is >= 0.9 (no per-crop Python overhead: 10-crop decodes
and resizes each image once, then cuts ten views). The model's forward time alone on the same number of crops is
printed as the floor both runs share.

Run: ``python benchmarks/protocol_throughput.py [--images 24] [--batch 4] [--repeats 2] [--threads N] [--device cpu]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image

from scrutiny.protocols import evaluate_imagefolder, single_crop, ten_crop


def write_folder(root: Path, n: int, copies: int = 1) -> Path:
    """``n`` JPEGs in two class folders under ``root/once``, and ``copies`` hard links of each under ``root/many``."""
    rng = np.random.default_rng(0)
    for i in range(n):
        w, h = int(rng.integers(450, 560)), int(rng.integers(330, 420))
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([xx / w, yy / h, (xx + yy) / (w + h)], axis=-1) * 200
        pixels = np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)
        once = root / "once" / f"c{i % 2}"
        once.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(once / f"{i}.jpg", quality=90)
        many = root / "many" / f"c{i % 2}"
        many.mkdir(parents=True, exist_ok=True)
        for k in range(copies):
            os.link(once / f"{i}.jpg", many / f"{i}_{k}.jpg")
    return root


def timed(fn, repeats: int, device: torch.device) -> float:
    """Best wall time of ``repeats`` calls."""
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--batch", type=int, default=4, help="images per 10-crop step")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers for both runs")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval().to(device)
    n_crops = 10 * args.images
    with tempfile.TemporaryDirectory() as tmp:
        root = write_folder(Path(tmp), args.images, copies=10)
        ten, single = ten_crop(), single_crop()
        kw = {"device": device, "progress": False, "num_workers": args.workers}
        evaluate_imagefolder(model, root / "once", ten, batch_size=args.batch, **kw)  # warm-up
        t_ten = timed(
            lambda: evaluate_imagefolder(model, root / "once", ten, batch_size=args.batch, **kw), args.repeats, device
        )
        t_single = timed(
            lambda: evaluate_imagefolder(model, root / "many", single, batch_size=10 * args.batch, **kw),
            args.repeats,
            device,
        )
    x = torch.randn(10 * args.batch, 3, 224, 224, device=device)

    def forward_only() -> None:
        with torch.no_grad():
            for _ in range(-(-args.images // args.batch)):
                model(x)

    t_model = timed(forward_only, args.repeats, device)
    print(
        f"device {device}, threads {torch.get_num_threads()}, resnet18 (random weights), {args.images} images "
        f"of ~500x375 JPEG, {n_crops} crops of 224x224, {10 * args.batch} crops per forward pass"
    )
    print(f"ten_crop     : {t_ten:7.3f} s  {args.images / t_ten:8.1f} images/s  {n_crops / t_ten:8.1f} crops/s")
    print(
        f"single_crop  : {t_single:7.3f} s  {n_crops / t_single:8.1f} images/s  {n_crops / t_single:8.1f} crops/s "
        f"({n_crops} images, same crops count)"
    )
    print(f"model only   : {t_model:7.3f} s  {n_crops / t_model:8.1f} crops/s (forward floor)")
    print(f"ratio ten_crop / single_crop crops/s = {t_single / t_ten:.2f} (target >= 0.9)")


if __name__ == "__main__":
    main()
