"""Speed of the galaxy simulator (prints figures; not a test).

    .venv/bin/python benchmarks/bench_simulate.py [--pairs 200] [--workers 2]

Prints pairs per second for 256x256 space stamps (and their 38x38 ground stamps): one process,
then ``--workers`` processes (one per core, as a training data loader would run it), the time of
each stage of one pair, a 1024x1024 field, and writing FITS pairs to disk.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from seeinggan.simulate import MORPHOLOGIES, simulate_field, simulate_pair, write_pairs  # noqa: E402


def _run(seeds: list[int]) -> int:
    for seed in seeds:
        simulate_pair(seed=seed)
    return len(seeds)


def pairs_per_second(n: int, workers: int) -> float:
    seeds = list(range(10_000, 10_000 + n))
    if workers <= 1:
        _run(seeds[:5])  # warm caches (PSF transfer functions, FFT plans)
        start = time.perf_counter()
        _run(seeds)
        return n / (time.perf_counter() - start)
    chunks = [seeds[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_run, [[1, 2, 3]] * workers))  # start and warm the workers
        start = time.perf_counter()
        done = sum(pool.map(_run, chunks))
        return done / (time.perf_counter() - start)


def stage_times(repeat: int = 30) -> None:
    from seeinggan.simulate import scenes as P
    from seeinggan.simulate.observe import instruments_at_scales

    rng = np.random.default_rng(0)
    timings: dict[str, list[float]] = {}

    def clock(label, fn):
        t0 = time.perf_counter()
        out = fn()
        timings.setdefault(label, []).append(time.perf_counter() - t0)
        return out

    for i in range(repeat):
        galaxy = clock("draw galaxy", lambda: P.draw_galaxy(rng, None))
        space, ground = instruments_at_scales(0.03, 0.202)
        clock("render + convolve + pixels + noise", lambda: P._observe(
            [galaxy], space_shape=(256, 256), space_scale=0.03, ground_scale=0.202,
            seeing_fwhm=0.8, psf_model=("moffat", "kolmogorov")[i % 2], moffat_beta=3.0,
            space_rng=rng, ground_rng=rng, noise=True, space=space, ground=ground))
        canvas = P.Canvas((356, 356), 0.03)
        clock("  of which: render the scene", lambda: canvas.add_galaxy(galaxy))
        pair = clock("whole simulate_pair", lambda: simulate_pair(seed=i))
        clock("headers (lazy, first access)", lambda: (pair.ground_header, pair.space_header))
    for label, values in timings.items():
        print(f"  {label:40s} {np.median(values) * 1e3:7.1f} ms (median of {len(values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"simulate_pair, 256x256 space + 38x38 ground, random classes ({os.cpu_count()} CPUs seen)")
    one = pairs_per_second(args.pairs, 1)
    print(f"  1 process : {one:7.1f} pairs/s")
    many = pairs_per_second(args.pairs, args.workers)
    print(f"  {args.workers} processes: {many:7.1f} pairs/s   (goal: >= 50 pairs/s on 2 cores)")
    print("per class, 1 process:")
    for morphology in MORPHOLOGIES:
        start = time.perf_counter()
        for seed in range(20):
            simulate_pair(seed=seed, morphology=morphology)
        print(f"  {morphology:14s} {(time.perf_counter() - start) / 20 * 1e3:7.1f} ms/pair")
    print("stages of one pair:")
    stage_times()
    start = time.perf_counter()
    simulate_field(seed=1, space_shape=(1024, 1024), n_galaxies=8, n_stars=3)
    print(f"simulate_field 1024x1024 (8 galaxies, 3 stars): {(time.perf_counter() - start) * 1e3:.0f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_pairs(tmp, n=50, seed=0)
        print(f"write_pairs, 50 pairs to FITS + catalogue: {50 / (time.perf_counter() - start):.1f} pairs/s")


if __name__ == "__main__":
    main()
