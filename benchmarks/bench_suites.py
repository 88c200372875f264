"""Size and simulation time of each stress suite, and of the broad training prior (prints figures).

    .venv/bin/python benchmarks/bench_suites.py [--pairs 20] [--write 5]

For each suite of `seeinggan.evaluate.suites`: seconds per pair (mean and slowest of the first
``--pairs`` pairs, one process, after one warm-up pair), the projected time of the whole suite,
bytes on disk per pair (``write_suite`` of ``--write`` pairs: ground, space, truth FITS and the
catalogue row) and the projected folder size. Then pairs per second of
``simulated_pairs(prior="broad")`` (what a training data loader pays per fresh pair).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from seeinggan.evaluate.suites import SUITES, simulate_suite, write_suite  # noqa: E402


def folder_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20, help="pairs timed per suite")
    parser.add_argument("--write", type=int, default=5, help="pairs written per suite")
    parser.add_argument("--broad", type=int, default=40, help="broad-prior pairs timed")
    args = parser.parse_args(argv)

    print(f"{'suite':<14} {'n':>4} {'s/pair':>7} {'max s':>6} {'suite s':>8} "
          f"{'kB/pair':>8} {'suite MB':>9}  ground px")
    rows = []
    for name, suite in SUITES.items():
        pairs = simulate_suite(name, n=args.pairs + 1)
        pairs[0]  # warm caches (PSF transfer functions, FFT plans, imports)
        times, shapes = [], set()
        for index in range(1, args.pairs + 1):
            start = time.perf_counter()
            pair = pairs[index]
            times.append(time.perf_counter() - start)
            shapes.add(pair.ground.shape[0])
        with tempfile.TemporaryDirectory() as tmp:
            root = write_suite(name, Path(tmp) / name, n=args.write)
            per_pair = folder_bytes(root) / args.write
        mean = float(np.mean(times))
        rows.append((name, suite.n, mean, max(times), per_pair))
        print(f"{name:<14} {suite.n:>4} {mean:>7.3f} {max(times):>6.2f} {mean * suite.n:>8.0f} "
              f"{per_pair / 1e3:>8.0f} {per_pair * suite.n / 1e6:>9.1f}  "
              f"{min(shapes)}-{max(shapes)}")
    total_time = sum(r[2] * r[1] for r in rows)
    total_size = sum(r[4] * r[1] for r in rows)
    print(f"{'all suites':<14} {sum(r[1] for r in rows):>4} {'':>7} {'':>6} {total_time:>8.0f} "
          f"{'':>8} {total_size / 1e6:>9.1f}")

    from seeinggan.data import simulated_pairs

    stream = simulated_pairs(n=args.broad + 1, seed=11, prior="broad")
    stream[0]
    start = time.perf_counter()
    scenes: dict[str, int] = {}
    for index in range(1, args.broad + 1):
        scene = stream[index].meta["scene"]
        scenes[scene] = scenes.get(scene, 0) + 1
    elapsed = time.perf_counter() - start
    print(f"broad prior: {args.broad / elapsed:.1f} Pairs/s in one process "
          f"({elapsed / args.broad:.3f} s each, resampling to the space grid included); "
          f"scenes {scenes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
