"""Overhead of SPP collection: :func:`scrutiny.diagnostics.spp` against a bare forward pass of the same model.

The model is the paper's ResNetV2-600 (pre-activation, BN-ReLU-Conv, four stages of 50 bottleneck blocks, He init);
both arms run the same Gaussian input under ``torch.no_grad()`` with BatchNorm normalising by the batch statistics,
in this process, alternating. The bare arm is ``model(x)`` with the mode set beforehand (untimed); the SPP arm is a
whole :func:`spp` call on the model as built (train mode), so it includes switching modes, hooking 200 blocks and 200
residual branches, the statistics, and restoring everything. The script prints the median time of each and the
ratio SPP / bare (target: at most 1.15). Timings on a machine shared with other jobs are noisy; the minima are
printed too.

Run: ``python benchmarks/spp_overhead.py [--resolution 32] [--batch 8] [--repeats 5] [--threads N]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from scrutiny.diagnostics import spp
from scrutiny.models.preact_resnet import preact_resnet

TARGET = 1.15


def batch_stats_mode(model: nn.Module) -> None:
    """Eval mode with BatchNorm in train mode (batch statistics): the mode of the SPP arm, set once, untimed."""
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.train()


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--depth", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = preact_resnet(depth=args.depth)
    x = torch.randn(args.batch, 3, args.resolution, args.resolution, generator=torch.Generator().manual_seed(0))
    n_blocks = len(model.spp_blocks())
    model.train()  # as built; spp() switches to its mode and back on every call, inside its timing

    def run_spp() -> None:
        spp(model, inputs=x)

    def run_bare() -> None:
        with torch.no_grad():
            model(x)

    batch_stats_mode(model)
    run_bare()  # warm-up
    model.train()
    run_spp()
    bare, with_spp = [], []
    for _ in range(args.repeats):
        batch_stats_mode(model)
        bare.append(timed(run_bare))
        model.train()
        with_spp.append(timed(run_spp))
    t_bare, t_spp = statistics.median(bare), statistics.median(with_spp)
    ratio = t_spp / t_bare
    print(
        f"preact_resnet depth {args.depth} ({n_blocks} blocks), input {tuple(x.shape)}, "
        f"{torch.get_num_threads()} threads, median of {args.repeats}"
    )
    print(f"bare forward   {t_bare * 1e3:9.1f} ms  (min {min(bare) * 1e3:.1f})")
    print(f"spp()          {t_spp * 1e3:9.1f} ms  (min {min(with_spp) * 1e3:.1f})")
    print(f"ratio spp/bare {ratio:9.3f}  (target <= {TARGET}: {'met' if ratio <= TARGET else 'MISSED'})")


if __name__ == "__main__":
    main()
