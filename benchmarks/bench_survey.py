"""Survey-scale figures: memory and time per output megapixel of whole frames, and throughput.

    python benchmarks/bench_survey.py frames                  # 512², 2048² and 8192² ground frames
    python benchmarks/bench_survey.py frame 2048 --path stream  # one frame, one path
    python benchmarks/bench_survey.py throughput               # files/min and cutouts/min, 1 and 2 workers

``frame`` runs in a fresh process per measurement, so its peak RSS (``ru_maxrss``: resident pages,
file-backed ones included) is its own. ``--path stream`` is `Deblurrer.deblur_to_file` (a FITS
file filled band by band); ``--path memory`` is `Deblurrer.deblur` (the whole frame in memory).
A frame with more than ``--max-tiles`` tiles is stopped after that many tiles (whole tile rows),
and its time is **extrapolated** from the measured time per tile: the script says so in the line.
Ground frames are simulated at 0.202"/px (sky, noise and Gaussian sources) with a TAN WCS; the
model is the shipped default unless ``--model`` is given. Torch uses all cores unless ``--threads``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _frame(size: int, seed: int = 1):
    from astropy.coordinates import SkyCoord
    from seeinggan import geometry

    rng = np.random.default_rng(seed)
    image = rng.normal(100.0, 5.0, (size, size)).astype(np.float32)
    n_sources = max(10, size * size // 8000)
    ys, xs = rng.uniform(0, size, n_sources), rng.uniform(0, size, n_sources)
    amps, sigmas = rng.uniform(50, 2000, n_sources), rng.uniform(1, 6, n_sources)
    for y, x, a, s in zip(ys, xs, amps, sigmas):  # each source on its own small stamp
        r = int(4 * s) + 1
        y0, y1, x0, x1 = max(0, int(y) - r), min(size, int(y) + r), max(0, int(x) - r), min(size, int(x) + r)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        image[y0:y1, x0:x1] += (a * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * s * s))).astype(np.float32)
    wcs = geometry.make_tan_wcs(center=SkyCoord(150.1, 2.2, unit="deg"), pixel_scale=0.202, shape=(size, size))
    return image, wcs


def bench_frame(args) -> dict:
    import torch
    from seeinggan import Cancelled
    from seeinggan.infer import Deblurrer

    if args.threads:
        torch.set_num_threads(args.threads)
    deblurrer = Deblurrer(args.model, device="cpu", batch_size=args.batch_size)
    image, wcs = _frame(args.size)
    baseline = _rss_mb()
    ticks: list[tuple[float, int, int]] = []
    state = {"row_tiles": None}

    def progress(done, total):
        ticks.append((time.perf_counter(), done, total))

    def should_stop():
        return args.max_tiles is not None and ticks and ticks[-1][1] >= args.max_tiles

    t0 = time.perf_counter()
    stopped = False
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as folder:
        try:
            if args.path == "stream":
                result = deblurrer.deblur_to_file(image, Path(folder) / "out.fits", wcs=wcs, progress=progress,
                                                  should_stop=should_stop)
            else:
                result = deblurrer.deblur(image, wcs=wcs, progress=progress, should_stop=should_stop)
            shape = result.data.shape
        except Cancelled:
            stopped = True
            shape = None
    elapsed = time.perf_counter() - t0
    first = ticks[0][0] - t0  # resampling (memory) or fit (stream) before the first tile
    done, total = ticks[-1][1], ticks[-1][2]
    per_tile = (ticks[-1][0] - ticks[0][0]) / max(1, done)
    from seeinggan import geometry

    out_shape = shape or geometry.upsampled_shape((args.size, args.size), 0.202 / deblurrer.pixel_scale)
    mpix = out_shape[0] * out_shape[1] / 1e6
    if stopped:
        estimate = first + per_tile * total
    else:
        estimate = elapsed
    del state
    return {
        "size": args.size, "path": args.path, "out_shape": list(out_shape), "tiles_done": done, "tiles": total,
        "stopped": stopped, "seconds": elapsed, "estimated_seconds": estimate, "before_tiles_s": first,
        "s_per_mpix": estimate / mpix, "peak_rss_mb": _rss_mb(), "baseline_rss_mb": baseline,
        "threads": torch.get_num_threads(), "load": os.getloadavg()[0],
    }


def _print_frame(r: dict) -> None:
    rows, cols = r["out_shape"]
    how = (f"stopped after {r['tiles_done']} of {r['tiles']} tiles; whole frame EXTRAPOLATED "
           f"{r['estimated_seconds']:.0f} s" if r["stopped"] else f"{r['seconds']:.1f} s")
    print(f"[frame] {r['size']}² ground -> {rows}x{cols} ({rows * cols / 1e6:.0f} Mpx), {r['path']:6s}: {how}; "
          f"{r['s_per_mpix']:.3f} s/Mpx; peak RSS {r['peak_rss_mb']:.0f} MB (after model and input "
          f"{r['baseline_rss_mb']:.0f} MB); torch threads {r['threads']}, load {r['load']:.1f}")


def frames(args) -> int:
    plan = [(512, "memory"), (512, "stream"), (2048, "memory"), (2048, "stream"), (8192, "stream")]
    for size, path in plan:
        cmd = [sys.executable, __file__, "frame", str(size), "--path", path, "--batch-size", str(args.batch_size),
               "--json"]
        if args.model != "default":
            cmd += ["--model", args.model]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        if size >= 8192:
            cmd += ["--max-tiles", str(args.max_tiles or 1000)]
        elif args.max_tiles:
            cmd += ["--max-tiles", str(args.max_tiles)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode:
            print(out.stdout, out.stderr)
            return out.returncode
        _print_frame(json.loads(out.stdout.strip().splitlines()[-1]))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["frames", "frame", "throughput"])
    parser.add_argument("size", nargs="?", type=int, default=512)
    parser.add_argument("--path", choices=["memory", "stream"], default="stream")
    parser.add_argument("--model", default="default")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-tiles", type=int, default=None)
    parser.add_argument("--tmpdir", default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--cutouts", type=int, default=64)
    args = parser.parse_args(argv)
    if args.part == "frames":
        return frames(args)
    if args.part == "frame":
        result = bench_frame(args)
        print(json.dumps(result)) if args.json else _print_frame(result)
        return 0
    return throughput(args)


def throughput(args) -> int:  # filled in below
    raise SystemExit("throughput: not written yet")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
