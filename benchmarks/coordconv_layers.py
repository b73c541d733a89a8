"""Speed of a stack of 1×1 convolutions over a 64×64 map: NCHW ``nn.Conv2d`` against channels-last ``F.linear``.

The stack is the CoordConv painter's (4 -> 32 -> 32 -> 64 -> 64 -> 1, ReLU between). Both forms share the same
weights; the script checks that their outputs agree before it times them, then prints the time of each form and the
ratio conv / linear (above 1 means the linear form is faster), for forward alone and forward + backward.

Run: ``python benchmarks/coordconv_layers.py [--batch 16 --batch 64] [--repeats 20] [--threads N]``
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from scrutiny.layers.coordconv import PointwiseConv

WIDTHS = (4, 32, 32, 64, 64, 1)


def conv_stack() -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (cin, cout) in enumerate(zip(WIDTHS[:-1], WIDTHS[1:], strict=True)):
        layers.append(nn.Conv2d(cin, cout, 1))
        if i < len(WIDTHS) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def linear_stack_like(convs: nn.Sequential) -> nn.Sequential:
    """The same stack as :class:`PointwiseConv` layers, sharing the conv weights (copied)."""
    layers: list[nn.Module] = []
    for m in convs:
        if isinstance(m, nn.Conv2d):
            p = PointwiseConv(m.in_channels, m.out_channels)
            p.load_state_dict(m.state_dict())
            layers.append(p)
        else:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def timeit(fn, repeats: int) -> float:
    fn()  # warm-up
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, action="append", help="batch sizes (default 16 and 64)")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    convs = conv_stack()
    linears = linear_stack_like(convs)
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, map {args.size}x{args.size}, "
        f"stack {'-'.join(map(str, WIDTHS))}"
    )
    print(f"{'batch':>6} {'mode':>9} {'conv ms':>9} {'linear ms':>10} {'conv/linear':>12} {'max |diff|':>11}")
    for batch in args.batch or [16, 64]:
        x = torch.randn(batch, WIDTHS[0], args.size, args.size)
        x_last = x.permute(0, 2, 3, 1).contiguous()
        with torch.no_grad():
            out_conv = convs(x)
            out_lin = linears(x_last).permute(0, 3, 1, 2)
        diff = (out_conv - out_lin).abs().max().item()
        if not torch.allclose(out_conv, out_lin, atol=1e-5, rtol=1e-5):
            raise SystemExit(f"outputs differ: max |diff| = {diff}")

        def fwd_conv(x=x):
            with torch.no_grad():
                convs(x)

        def fwd_lin(x_last=x_last):
            with torch.no_grad():
                linears(x_last)

        def bwd_conv(x=x):
            convs.zero_grad(set_to_none=True)
            convs(x).sum().backward()

        def bwd_lin(x_last=x_last):
            linears.zero_grad(set_to_none=True)
            linears(x_last).sum().backward()

        for mode, fc, fl in (("forward", fwd_conv, fwd_lin), ("fwd+bwd", bwd_conv, bwd_lin)):
            tc, tl = timeit(fc, args.repeats), timeit(fl, args.repeats)
            print(f"{batch:>6} {mode:>9} {tc * 1e3:>9.2f} {tl * 1e3:>10.2f} {tc / tl:>12.2f} {diff:>11.2e}")


if __name__ == "__main__":
    main()
