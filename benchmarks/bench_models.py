"""Generator size and speed by width: parameters, file size, GFLOP and CPU seconds per 256x256.

    OMP_NUM_THREADS=2 python benchmarks/bench_models.py [--widths 16 24 32 64] [--threads 2]

Also estimates the whole-frame job of the issue: a 512x512 ground frame (0.202"/px) deblurred
onto the space grid (0.03"/px) is a ~3448x3448 output, i.e. ~182 256x256 tiles without overlap,
~(3448 / (256 - 2 * 32))**2 = ~323 tiles with the Deblurrer's default 32-pixel overlap.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from seeinggan.models import PatchCritic, UNetGenerator
from torch.utils.flop_counter import FlopCounterMode


def gflop(model: torch.nn.Module, x: torch.Tensor) -> float:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return counter.get_total_flops() / 1e9  # multiply-add = 2 FLOP


def seconds_per_image(model: torch.nn.Module, x: torch.Tensor, *, repeats: int) -> float:
    with torch.inference_mode():
        model(x)  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return min(times) / x.shape[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 24, 32, 64])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4, help="tiles per forward pass (the Deblurrer's default 4)")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes; the fastest is reported")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    output_side = round(512 * 0.202 / 0.03)
    tiles_plain = math.ceil(output_side / 256) ** 2
    tiles_overlap = math.ceil(output_side / (256 - 64)) ** 2
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; input batch {args.batch} x 1 x 256 x 256")
    print(f"512x512 ground frame -> {output_side}x{output_side} space grid: {tiles_plain} tiles "
          f"(no overlap), {tiles_overlap} tiles (overlap 32)")
    print("| width | parameters | file MB | GFLOP/256^2 | s/256^2 NCHW | s/256^2 channels_last | GFLOP/s "
          "| frame s (no overlap / overlap 32) |")
    print("|---|---|---|---|---|---|---|---|")
    x = torch.randn(args.batch, 1, 256, 256)
    for width in args.widths:
        torch.manual_seed(0)
        model = UNetGenerator(base_channels=width).eval()
        params = sum(p.numel() for p in model.parameters())
        flops = gflop(model, x[:1])
        nchw = seconds_per_image(model, x, repeats=args.repeats)
        model = model.to(memory_format=torch.channels_last)
        last = seconds_per_image(model, x.contiguous(memory_format=torch.channels_last), repeats=args.repeats)
        best = min(nchw, last)
        print(
            f"| {width} | {params / 1e6:.2f} M | {params * 4 / 1e6:.1f} | {flops:.2f} | {nchw:.3f} | {last:.3f} | "
            f"{flops / best:.0f} | {best * tiles_plain:.0f} / {best * tiles_overlap:.0f} |",
            flush=True,
        )
    critic = PatchCritic(base_channels=64)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        critic(x[:1], x[:1])
    print(f"critic (width 64): {sum(p.numel() for p in critic.parameters()) / 1e6:.2f} M parameters, "
          f"{counter.get_total_flops() / 1e9:.2f} GFLOP per 256x256 pair")


if __name__ == "__main__":
    main()
