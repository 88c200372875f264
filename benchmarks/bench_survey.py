"""Survey-scale figures: memory and time per output megapixel of whole frames, and throughput.

    python benchmarks/bench_survey.py frames                  # 512², 2048² and 8192² ground frames
    python benchmarks/bench_survey.py frames --repeat 2 --sizes 512 2048   # both paths, alternately
    python benchmarks/bench_survey.py frame 2048 --path stream  # one frame, one path
    python benchmarks/bench_survey.py throughput 256 --files 8 --cutouts 64   # files/min, cutouts/min
                                                               # on 1 and 2 local Dask workers

``frame`` runs in a fresh process per measurement, so its peak RSS (``ru_maxrss``: resident pages,
file-backed ones included) is its own. ``--path stream`` is `Deblurrer.deblur_to_file` (a FITS
file filled band by band); ``--path memory`` is `Deblurrer.deblur` (the whole frame in memory).
A frame with more than ``--max-tiles`` tiles is stopped after that many tiles (whole tile rows),
and its time is **extrapolated** from the measured time per tile: the script says so in the line.
Ground frames are simulated at 0.202"/px (sky, noise and Gaussian sources) with a TAN WCS; the
model is the shipped default unless ``--model`` is given. Torch uses all cores unless ``--threads``.

``frames`` runs the two paths one after the other at each size (``--repeat`` times, alternating, so
both meet the same load) and ends with the best run of each; 8192² runs streamed only (the
whole-frame path would need ~50 GB). Besides wall time each line gives CPU seconds per output Mpx
(all threads of the process), which the load of other processes changes less than wall time, and
the CPU seconds per output Mpx spent outside the network (resampling, fitting, blending, writing:
what differs between the two paths; the network's work per tile is the same on both).
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
    # drawn a block of rows at a time in float32, so the input costs 4 bytes per pixel at its peak
    # (a float64 draw of 8192² alone would add 537 MB to the peak the benchmark reports)
    image = np.empty((size, size), dtype=np.float32)
    for start in range(0, size, 512):
        image[start : start + 512] = rng.standard_normal((min(512, size - start), size), dtype=np.float32) * 5.0 + 100.0
    n_sources = max(10, size * size // 8000)
    ys, xs = rng.uniform(0, size, n_sources), rng.uniform(0, size, n_sources)
    amps, sigmas = rng.uniform(50, 2000, n_sources), rng.uniform(1, 6, n_sources)
    for y, x, a, s in zip(ys, xs, amps, sigmas, strict=True):  # each source on its own small stamp
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
    network_cpu = [0.0]  # CPU seconds inside the network (the same work on both paths)
    forward = deblurrer._forward

    def timed_forward(*a, **k):
        c = time.process_time()
        try:
            return forward(*a, **k)
        finally:
            network_cpu[0] += time.process_time() - c

    deblurrer._forward = timed_forward  # type: ignore[method-assign]
    image, wcs = _frame(args.size)
    baseline = _rss_mb()
    ticks: list[tuple[float, int, int, float, float]] = []
    state = {"row_tiles": None}

    def progress(done, total):
        ticks.append((time.perf_counter(), done, total, time.process_time(), network_cpu[0]))

    def should_stop():
        return args.max_tiles is not None and ticks and ticks[-1][1] >= args.max_tiles

    t0, cpu0 = time.perf_counter(), time.process_time()
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
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    first, cpu_first = ticks[0][0] - t0, ticks[0][3] - cpu0  # resampling (memory) or fit (stream) before the first tile
    done, total = ticks[-1][1], ticks[-1][2]
    per_tile = (ticks[-1][0] - ticks[0][0]) / max(1, done)
    cpu_per_tile = (ticks[-1][3] - ticks[0][3]) / max(1, done)
    network_per_tile = (ticks[-1][4] - ticks[0][4]) / max(1, done)
    from seeinggan import geometry

    out_shape = shape or geometry.upsampled_shape((args.size, args.size), 0.202 / deblurrer.pixel_scale)
    mpix = out_shape[0] * out_shape[1] / 1e6
    if stopped:
        estimate, cpu_estimate = first + per_tile * total, cpu_first + cpu_per_tile * total
    else:
        estimate, cpu_estimate = elapsed, cpu
    del state
    return {
        "size": args.size, "path": args.path, "out_shape": list(out_shape), "tiles_done": done, "tiles": total,
        "stopped": stopped, "seconds": elapsed, "estimated_seconds": estimate, "before_tiles_s": first,
        "s_per_mpix": estimate / mpix, "cpu_s_per_mpix": cpu_estimate / mpix,
        "other_cpu_s_per_mpix": (cpu_estimate - network_per_tile * total) / mpix, "peak_rss_mb": _rss_mb(),
        "baseline_rss_mb": baseline,
        "threads": torch.get_num_threads(), "load": os.getloadavg()[0],
    }


def _print_frame(r: dict) -> None:
    rows, cols = r["out_shape"]
    how = (f"stopped after {r['tiles_done']} of {r['tiles']} tiles; whole frame EXTRAPOLATED "
           f"{r['estimated_seconds']:.0f} s" if r["stopped"] else f"{r['seconds']:.1f} s")
    print(f"[frame] {r['size']}² ground -> {rows}x{cols} ({rows * cols / 1e6:.0f} Mpx), {r['path']:6s}: {how}; "
          f"{r['s_per_mpix']:.3f} s/Mpx (CPU {r['cpu_s_per_mpix']:.3f} s/Mpx, outside the network "
          f"{r['other_cpu_s_per_mpix']:.3f}); peak RSS {r['peak_rss_mb']:.0f} MB "
          f"(after model and input {r['baseline_rss_mb']:.0f} MB); torch threads {r['threads']}, load {r['load']:.1f}")


def frames(args) -> int:
    plan = []
    for size in args.sizes:
        paths = ["stream"] if size >= 8192 else ["memory", "stream"]
        for repeat in range(args.repeat):
            plan += [(size, path) for path in (paths if repeat % 2 == 0 else paths[::-1])]
    best: dict[tuple[int, str], dict] = {}
    for size, path in plan:
        cmd = [sys.executable, __file__, "frame", str(size), "--path", path, "--batch-size", str(args.batch_size),
               "--json"]
        if args.model != "default":
            cmd += ["--model", args.model]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        if size >= 2048 and (args.max_tiles or size >= 8192):
            cmd += ["--max-tiles", str(args.max_tiles or 1000)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode:
            print(out.stdout, out.stderr)
            return out.returncode
        result = json.loads(out.stdout.strip().splitlines()[-1])
        _print_frame(result)
        if (size, path) not in best or result["s_per_mpix"] < best[(size, path)]["s_per_mpix"]:
            best[(size, path)] = result
    if args.repeat > 1:
        print(f"best of {args.repeat}:")
        for result in best.values():
            _print_frame(result)
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
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 2048, 8192], help="frames: ground sizes")
    parser.add_argument("--repeat", type=int, default=1, help="frames: runs of each path per size")
    parser.add_argument("--tmpdir", default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--cutouts", type=int, default=64)
    parser.add_argument("--worker-counts", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    if args.part == "frames":
        return frames(args)
    if args.part == "frame":
        result = bench_frame(args)
        print(json.dumps(result)) if args.json else _print_frame(result)
        return 0
    return throughput(args)


def throughput(args) -> int:
    """Files/min and cutouts/min through `seeinggan.infer.jobs` on 1 and 2 local Dask workers."""
    from astropy.io import fits
    from seeinggan.infer.catalog import Source, image_footprint, plan_chunks
    from seeinggan.infer.jobs import DeblurSettings, deblur_catalog_chunk, deblur_file, run_on_dask
    from seeinggan.io.fits import write_image

    size = args.size
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as folder:
        folder = Path(folder)
        frames = []
        for k in range(args.files):
            image, wcs = _frame(size, seed=10 + k)
            frames.append(write_image(folder / f"frame{k:03d}.fits", image, wcs=wcs,
                                      header=fits.Header({"SEEING": 0.7})))
        fp = image_footprint(frames[0])
        rng = np.random.default_rng(0)
        xs, ys = rng.uniform(20, size - 20, args.cutouts), rng.uniform(20, size - 20, args.cutouts)
        sky = fp["wcs"].pixel_to_world(xs, ys)
        sources = [Source(f"g{k:04d}", float(sky.ra.deg[k]), float(sky.dec.deg[k]), 7.68) for k in range(args.cutouts)]
        chunks, _ = plan_chunks(sources, [fp], chunk_size=max(1, args.cutouts // 8))
        print(f"[throughput] {args.files} frames of {size}² ground px (0.202\"/px -> 0.03\"/px), "
              f"{args.cutouts} cutouts of 7.68\" in {len(chunks)} tasks; default model; "
              f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
        for workers in args.worker_counts:
            threads = max(1, (os.cpu_count() or 1) // workers)
            settings = DeblurSettings(model=args.model, device="cpu", batch_size=args.batch_size, skip_existing=True,
                                      torch_threads=threads)
            out = folder / f"out{workers}"
            results = []
            t0 = time.perf_counter()
            run_on_dask([(deblur_file, (str(f), str(out / f"{f.stem}_deblurred.fits"), settings)) for f in frames],
                        on_result=results.append, workers=workers, log=lambda line: None)
            files_wall = time.perf_counter() - t0
            ok = [r for r in results if r.get("status") == "ok"]
            rows = []
            t0 = time.perf_counter()
            run_on_dask([(deblur_catalog_chunk, (fp["path"], fp["hdu"], members, str(out / "cat"), settings))
                         for fp, members in chunks], on_result=rows.extend, workers=workers, log=lambda line: None)
            cut_wall = time.perf_counter() - t0
            done = [r for r in rows if r.get("status") == "ok"]
            per_file = np.median([r["seconds"] for r in ok]) if ok else float("nan")
            per_cut = np.median([r["seconds"] for r in done]) if done else float("nan")
            print(f"[throughput] {workers} worker(s) x {threads} torch thread(s): "
                  f"{len(ok)} files in {files_wall:.1f} s "
                  f"= {60 * len(ok) / files_wall:.2f} files/min (median {per_file:.1f} s per file on a worker; "
                  f"wall time includes cluster start and one model load per worker); {len(done)} cutouts in "
                  f"{cut_wall:.1f} s = {60 * len(done) / cut_wall:.1f} cutouts/min (median {per_cut:.2f} s each)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
