"""Throughput of the eKLD evaluation against a plain forward pass over the same number of transformed images.

Both sides use the same model in eval mode under ``torch.no_grad()`` and the same number of model inputs per forward
pass (``--batch``). The baseline forwards ``N · T`` transformed images that were made beforehand; eKLD draws the
transforms, applies them, forwards each batch of originals together with their copies, computes the KL divergences,
and bootstraps each class's interval. The script prints both throughputs (transformed images per second) and the
ratio eKLD / plain; the target is at least 0.9. eKLD also forwards the ``N`` originals, so its ratio is at most
``T / (T + 1)`` (0.99 at the reference's ``T = 100``, 0.91 at ``T = 10``).

Run: ``python benchmarks/ekld_throughput.py [--transform rotation] [--images 20] [--transforms 100] [--batch 1024]
[--model small_cnn] [--device cpu] [--threads N]``
"""

from __future__ import annotations

import argparse
import time

import torch

from scrutiny.data.transforms import make_transform
from scrutiny.diagnostics.invariance import ekld
from scrutiny.models import build_model


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_of_alternating(fns: list, repeats: int, device: torch.device) -> list[float]:
    """Best wall time of each function, timed in turns (a, b, a, b, ...) so that a busy machine slows both alike."""
    times: list[list[float]] = [[] for _ in fns]
    for fn in fns:
        fn()  # warm-up
    _sync(device)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            _sync(device)
            times[i].append(time.perf_counter() - start)
    return [min(ts) for ts in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transform", default="rotation", choices=["rotation", "background", "dilate_erode"])
    parser.add_argument("--images", type=int, default=20, help="images N")
    parser.add_argument("--transforms", type=int, default=100, help="transforms per image T (the reference: 100)")
    parser.add_argument("--batch", type=int, default=1024, help="model inputs per forward pass")
    parser.add_argument("--model", default="small_cnn")
    parser.add_argument("--reps", type=int, default=1000, help="bootstrap replicates per class")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = build_model({"name": args.model}, {"num_classes": 49, "in_channels": 1, "image_size": (28, 28)})
    model = model.to(device).eval()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(args.images, 1, 28, 28, generator=g)
    x = torch.where(x < 0.6, torch.zeros(()), x)  # glyph-like: most pixels are background
    y = torch.arange(args.images) % 49
    data = torch.utils.data.TensorDataset(x, y)
    tfm = make_transform(args.transform)
    n, t = args.images, args.transforms
    with torch.no_grad():
        copies = tfm.apply(x.repeat_interleave(t, 0), tfm.draw(torch.Generator().manual_seed(0), n * t)).to(device)

    @torch.no_grad()
    def plain() -> None:
        for start in range(0, len(copies), args.batch):
            model(copies[start : start + args.batch])

    def evaluate() -> None:
        ekld(model, data, tfm, n_transforms=t, seed=0, batch_size=args.batch, reps=args.reps, device=device)

    t_plain, t_ekld = best_of_alternating([plain, evaluate], args.repeats, device)
    print(f"device={device} threads={torch.get_num_threads()} model={args.model} transform={args.transform}")
    print(f"N={n} images x T={t} transforms = {n * t} transformed images, batch {args.batch} inputs per forward")
    print(f"plain forward : {n * t / t_plain:10.0f} transformed images/s  ({t_plain * 1e3:.1f} ms)")
    print(f"eKLD          : {n * t / t_ekld:10.0f} transformed images/s  ({t_ekld * 1e3:.1f} ms)")
    print(f"ratio eKLD / plain: {t_plain / t_ekld:.3f} (target >= 0.9)")


if __name__ == "__main__":
    main()
