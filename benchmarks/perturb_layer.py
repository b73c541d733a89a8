"""Speed of a PNN perturbation layer against the 3×3 convolution it replaces, forward + backward, same input.

Input: a CIFAR-sized feature map ``(batch, C, 32, 32)``, batch 128 by default, ``C`` = ``--width`` (64). Both layers
map ``C -> C`` channels and are followed by nothing; the conv is ``nn.Conv2d(C, C, 3, padding=1, bias=False)``, the
perturbation layer :class:`scrutiny.layers.PerturbLayer` in Klachko's order (``x + N -> ReLU -> Conv1x1 -> BN ->
ReLU``) with ``--nmasks`` masks per channel. Prints each median time (ms) and the ratio perturb / conv (above 1 means
the perturbation layer is slower), both measured in this process, on the same device.

Run: ``python benchmarks/perturb_layer.py [--batch 128] [--width 64] [--nmasks 1] [--repeats 10] [--device cpu]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from scrutiny.layers.perturb import PerturbLayer


def time_fwd_bwd(layer: nn.Module, x: torch.Tensor, repeats: int) -> float:
    """Median seconds of one forward + backward of ``layer`` on ``x`` (after two warm-up runs)."""
    times = []
    for i in range(repeats + 2):
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        layer(x).sum().backward()
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 2:
            times.append(time.perf_counter() - t0)
        layer.zero_grad(set_to_none=True)
        x.grad = None
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--nmasks", type=int, default=1)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.width, args.size, args.size, device=device, requires_grad=True)
    conv = nn.Conv2d(args.width, args.width, 3, padding=1, bias=False).to(device)
    perturb = PerturbLayer(args.width, args.width, args.nmasks, 0.5, input_size=args.size, order="klachko", seed=0).to(
        device
    )
    t_conv = time_fwd_bwd(conv, x, args.repeats)
    t_pert = time_fwd_bwd(perturb, x, args.repeats)
    print(
        f"device={device} threads={torch.get_num_threads()} input=({args.batch}, {args.width}, {args.size}, "
        f"{args.size}) nmasks={args.nmasks}"
    )
    print(f"conv3x3   fwd+bwd: {1e3 * t_conv:8.2f} ms")
    print(f"perturb   fwd+bwd: {1e3 * t_pert:8.2f} ms")
    print(f"ratio perturb/conv: {t_pert / t_conv:.2f}")


if __name__ == "__main__":
    main()
