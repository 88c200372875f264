"""Inference speed and memory of `seeinggan.Deblurrer` on this machine (prints figures).

    .venv/bin/python benchmarks/bench_infer.py            # both parts, each in a fresh process
    .venv/bin/python benchmarks/bench_infer.py cutouts    # seconds per 256x256 cutout (goal <= 0.3 s)
    .venv/bin/python benchmarks/bench_infer.py frame      # a 512x512 ground frame (0.202"/px) whole
                                                          # onto the 0.03"/px grid (goal <= 60 s, <= 2 GB RSS)

Options: ``--no-support-guard`` (time the network alone), ``--model FILE`` (default: the shipped
model, or a random generator of the default training config's width when none is shipped: the
script says which), ``--threads N`` (torch threads; default: all cores), ``--tile``, ``--overlap``,
``--batch-size``.
Peak RSS is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of a process that does only that part
(its baseline after importing torch is printed too).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

import numpy as np


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _model(args):
    import torch
    from seeinggan.models.io import ModelFileError, default_model_path

    if args.model:
        return args.model, f"model file {args.model}"
    try:
        return default_model_path(), "the shipped default model"
    except ModelFileError:
        from seeinggan.models import UNetGenerator
        from seeinggan.train.config import TrainConfig

        config = TrainConfig()
        torch.manual_seed(0)
        generator = UNetGenerator(
            base_channels=config.base_channels, n_down=config.n_down, n_res=config.n_res, residual=config.residual
        )
        n_params = sum(p.numel() for p in generator.parameters())
        # an untrained residual generator is the identity; randomise its head so it really computes
        torch.nn.init.normal_(generator.head.weight, std=0.01)
        return (generator, {"name": "random"}), (
            f"NO shipped model yet: a random generator of the default config's width "
            f"(base_channels={config.base_channels}, n_down={config.n_down}, n_res={config.n_res}, "
            f"{n_params / 1e6:.2f} M parameters)"
        )


def bench_cutouts(args) -> None:
    from seeinggan.infer import Deblurrer

    model, label = _model(args)
    deblurrer = Deblurrer(model, device="cpu", batch_size=args.batch_size, support_guard=args.support_guard)
    rng = np.random.default_rng(0)
    n = args.n_cutouts
    space = rng.normal(1.0, 0.1, (n, 256, 256)).astype(np.float32)
    ground = rng.normal(1.0, 0.1, (n, 38, 38)).astype(np.float32)
    deblurrer.deblur_cutouts(space[:2], pixel_scale=0.03)  # warm-up
    load = os.getloadavg()[0]
    per_space, per_ground = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        deblurrer.deblur_cutouts(space, pixel_scale=0.03)
        per_space.append((time.perf_counter() - t0) / n)
        t0 = time.perf_counter()
        deblurrer.deblur_cutouts(ground, pixel_scale=0.202)
        per_ground.append((time.perf_counter() - t0) / n)
    print(f"[cutouts] {label}; support guard {'on' if args.support_guard else 'off'}; torch threads {_threads()}; "
          f"batch size {args.batch_size}; "
          f"load average {load:.1f} -> {os.getloadavg()[0]:.1f} (other processes share the cores)")
    print(f"[cutouts] 256x256 cutout on the model grid: best {min(per_space):.3f} s, median "
          f"{np.median(per_space):.3f} s per cutout ({args.repeats} x {n} cutouts; goal <= 0.3 s)")
    print(f"[cutouts] 38x38 ground cutout -> 256x256 (with resampling): best {min(per_ground):.3f} s, "
          f"median {np.median(per_ground):.3f} s per cutout")
    print(f"[cutouts] peak RSS {_rss_mb():.0f} MB")


def bench_frame(args) -> None:
    from astropy.coordinates import SkyCoord
    from seeinggan import geometry
    from seeinggan.infer import Deblurrer

    model, label = _model(args)
    baseline = _rss_mb()
    deblurrer = Deblurrer(model, device="cpu", tile=args.tile, overlap=args.overlap, batch_size=args.batch_size,
                          support_guard=args.support_guard)
    rng = np.random.default_rng(1)
    shape = (512, 512)
    image = rng.normal(100.0, 5.0, shape).astype(np.float32)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    for _ in range(30):
        y, x = rng.uniform(0, 512, 2)
        blob = rng.uniform(50, 2000) * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * rng.uniform(1, 6) ** 2))
        image += blob.astype(np.float32)
    wcs = geometry.make_tan_wcs(center=SkyCoord(150.1, 2.2, unit="deg"), pixel_scale=0.202, shape=shape)
    ticks = []
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    result = deblurrer.deblur(image, wcs=wcs,
                              progress=lambda done, total: ticks.append((time.perf_counter(), done, total)))
    elapsed = time.perf_counter() - t0
    first_tile = ticks[0][0] - t0  # resampling + transform fit, before the first tile
    print(f"[frame] {label}; support guard {'on' if args.support_guard else 'off'}; torch threads {_threads()}; "
          f"tile {deblurrer.tile}, overlap {deblurrer.overlap}, "
          f"batch size {deblurrer.batch_size}; load average {load:.1f} -> {os.getloadavg()[0]:.1f}")
    print(f"[frame] 512x512 at 0.202\"/px -> {result.data.shape[0]}x{result.data.shape[1]} at "
          f"{result.pixel_scale:.3f}\"/px, {ticks[-1][2]} tiles")
    print(f"[frame] {elapsed:.1f} s total (resample + fit {first_tile:.1f} s, "
          f"tiles {elapsed - first_tile:.1f} s; goal <= 60 s)")
    print(f"[frame] peak RSS {_rss_mb():.0f} MB (baseline after imports and model {baseline:.0f} MB; goal <= 2048 MB)")


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", nargs="?", default="all", choices=["all", "cutouts", "frame"])
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--overlap", default="32")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--n-cutouts", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-support-guard", dest="support_guard", action="store_false",
                        help="time the network alone (default: with the support guard, as shipped)")
    args = parser.parse_args(argv)
    if args.part == "all":
        for part in ("cutouts", "frame"):
            # a fresh process per part, so each peak RSS is its own
            rest = sys.argv[2 if len(sys.argv) > 1 and sys.argv[1] == "all" else 1 :]
            code = subprocess.call([sys.executable, __file__, part, *rest])
            if code:
                return code
        return 0
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    args.overlap = args.overlap if args.overlap == "auto" else int(args.overlap)
    {"cutouts": bench_cutouts, "frame": bench_frame}[args.part](args)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
