"""Time source detection (`seeinggan.data.detection.detect_sources`) on simulated 2048x2048 space frames.

Prints milliseconds per frame (wall and CPU: on a shared machine the wall time grows with the
load, the CPU time is what the work costs), sources found and the median R90. With
``--compare-with FILE`` (another version of ``detection.py``, e.g. the hand-written scipy one:
``git show 4f83abf:src_core/seeinggan/data/detection.py > /tmp/old_detection.py``) it also times
that one on the same frames and compares: sources matched by position (within 2 px), counts,
and the R90 ratio of the matched sources.

    python benchmarks/bench_detection.py [--frames 3] [--size 2048] [--compare-with FILE]

Frames are `seeinggan.simulate.simulate_field` (60 galaxies, 20 stars; cached in the temporary
folder, since simulating costs more than detecting).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def frame(seed: int, size: int) -> np.ndarray:
    cache = Path(tempfile.gettempdir()) / f"seeinggan_bench_detection_{size}_{seed}.npy"
    if cache.exists():
        return np.load(cache)
    from seeinggan.simulate import simulate_field

    space = np.asarray(simulate_field(seed=seed, space_shape=(size, size), n_galaxies=60, n_stars=20).space,
                       dtype=np.float32)
    np.save(cache, space)
    return space


def timed(detect, image: np.ndarray, repeats: int = 3):
    best_wall = best_cpu = float("inf")
    sources = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        sources = detect(image)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return sources, 1e3 * best_wall, 1e3 * best_cpu


def match(a, b, radius: float = 2.0):
    """Pairs (i, j) of sources of ``a`` and ``b`` within ``radius`` pixels, nearest first."""
    pairs, used = [], set()
    for i, s in enumerate(a):
        d = [np.hypot(s.y - t.y, s.x - t.x) if j not in used else np.inf for j, t in enumerate(b)]
        if d and min(d) <= radius:
            j = int(np.argmin(d))
            used.add(j)
            pairs.append((i, j))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--compare-with", type=Path, default=None)
    args = parser.parse_args()
    from seeinggan.data.detection import detect_sources

    other = None
    if args.compare_with is not None:
        spec = importlib.util.spec_from_file_location("other_detection", args.compare_with)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["other_detection"] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        other = module.detect_sources
    rows = []
    for seed in range(args.frames):
        image = frame(seed, args.size)
        found, wall, cpu = timed(detect_sources, image)
        row = {"seed": seed, "n": len(found), "wall": wall, "cpu": cpu,
               "r90": float(np.median([s.r90 for s in found])) if found else float("nan")}
        if other is not None:
            theirs, o_wall, o_cpu = timed(other, image)
            pairs = match(found, theirs)
            ratios = np.array([found[i].r90 / theirs[j].r90 for i, j in pairs if theirs[j].r90 > 0])
            ratios = ratios[np.isfinite(ratios)]
            stamps = sum(s_i == s_j for s_i, s_j in (
                (module.stamp_size_from_r90(found[i].r90), module.stamp_size_from_r90(theirs[j].r90))
                for i, j in pairs if np.isfinite(found[i].r90) and np.isfinite(theirs[j].r90)))
            row.update(other_n=len(theirs), other_wall=o_wall, other_cpu=o_cpu, matched=len(pairs),
                       r90_ratio_median=float(np.median(ratios)) if ratios.size else float("nan"),
                       r90_within_5pct=float(np.mean(np.abs(ratios - 1) <= 0.05)) if ratios.size else float("nan"),
                       same_stamp=stamps)
        rows.append(row)
        print(row, flush=True)
    print(f"\n{args.size}x{args.size} frames, {args.frames} of them (best of 3 runs each):")
    print(f"  this detect_sources: {np.mean([r['wall'] for r in rows]):.0f} ms wall, "
          f"{np.mean([r['cpu'] for r in rows]):.0f} ms CPU per frame; "
          f"{np.mean([r['n'] for r in rows]):.1f} sources per frame")
    if other is not None:
        print(f"  {args.compare_with.name}: {np.mean([r['other_wall'] for r in rows]):.0f} ms wall, "
              f"{np.mean([r['other_cpu'] for r in rows]):.0f} ms CPU per frame; "
              f"{np.mean([r['other_n'] for r in rows]):.1f} sources per frame")
        n, m = sum(r["n"] for r in rows), sum(r["matched"] for r in rows)
        print(f"  matched {m} of {n} sources (theirs: {sum(r['other_n'] for r in rows)}); "
              f"same stamp side for {sum(r['same_stamp'] for r in rows)} of {m}; "
              f"median R90 ratio per frame {[round(r['r90_ratio_median'], 4) for r in rows]}, "
              f"within 5%: {[round(r['r90_within_5pct'], 3) for r in rows]}")


if __name__ == "__main__":
    main()
