"""What the trust maps cost: `Deblurrer.deblur` with and without ``uncertainty=True, consistency=True``.

    python benchmarks/bench_maps.py                  # 256x256 and 512x512 ground frames (0.202"/px)
    python benchmarks/bench_maps.py --sizes 256      # one size
    python benchmarks/bench_maps.py --threads 2 --batch-size 4

Each (size, maps) case runs in a fresh process with the shipped model on the CPU and prints the
wall time, the peak RSS (``ru_maxrss``) and, with maps, the extra time over the plain deblur.
The uncertainty map costs 8 forward passes per tile (the 8 dihedral views of a tile go through
the network together, ``max(8, batch_size)`` views per pass); the consistency map one
convolution and one resampling of the output. Optional: nothing else runs it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _case(size: int, maps: bool, threads: int, batch_size: int) -> dict:
    import numpy as np
    import torch
    from astropy.coordinates import SkyCoord
    from seeinggan import geometry
    from seeinggan.infer import Deblurrer

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    data = rng.normal(0.0, 0.6, (size, size))
    for _ in range(20):  # a field of galaxies
        y, x, r = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(1.5, 6.0)
        data += rng.uniform(5, 200) * np.exp(-np.hypot(yy - y, xx - x) / r)
    wcs = geometry.make_tan_wcs(center=SkyCoord(150.0, 2.0, unit="deg"), pixel_scale=0.202, shape=(size, size))
    deblurrer = Deblurrer("default", device="cpu", batch_size=batch_size)
    options = {"uncertainty": True, "consistency": True, "seeing": 0.8, "noise": 0.6} if maps else {}
    start = time.perf_counter()
    result = deblurrer.deblur(data.astype(np.float32), wcs=wcs, **options)
    seconds = time.perf_counter() - start
    return {"size": size, "maps": maps, "seconds": seconds, "output": list(result.data.shape),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "summary": result.maps.summary.one_line() if maps else ""}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="ground frame sides (pixels)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--case", nargs=2, metavar=("SIZE", "MAPS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(_case(int(args.case[0]), args.case[1] == "1", args.threads, args.batch_size)))
        return 0
    print(f"{'ground':>8} {'output':>11} {'maps':>5} {'seconds':>8} {'x plain':>8} {'peak RSS MB':>12}")
    for size in args.sizes:
        plain = None
        for maps in (False, True):
            out = subprocess.run([sys.executable, __file__, "--case", str(size), "1" if maps else "0",
                                  "--threads", str(args.threads), "--batch-size", str(args.batch_size)],
                                 capture_output=True, text=True, check=True, cwd=ROOT)
            case = json.loads(out.stdout.strip().splitlines()[-1])
            plain = case["seconds"] if not maps else plain
            ratio = f"{case['seconds'] / plain:.1f}" if maps else "1.0"
            shape = "x".join(str(n) for n in case["output"])
            print(f"{size:>6}^2 {shape:>11} {'yes' if maps else 'no':>5} {case['seconds']:>8.1f} {ratio:>8} "
                  f"{case['peak_rss_mb']:>12.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src_core"))
    sys.exit(main())
