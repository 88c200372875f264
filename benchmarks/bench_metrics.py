"""CW-SSIM speed: 256x256 pairs per second in a batch, and one 2048x2048 pair against dtcwt.

Run: ``.venv/bin/python benchmarks/bench_metrics.py`` (prints figures; takes ~1 minute).

Goals (issue 4): >= 200 pairs/s of 256x256 in a batch on a 2-core machine; the whole CW-SSIM of
one 2048x2048 pair faster than the `dtcwt` numpy forward transform of the two images alone.
Both are measured with torch's default thread count and with one thread, because on a shared
machine two OpenMP threads can be far slower than one (the load average is printed).
"""

from __future__ import annotations

import contextlib
import os
import time

import numpy as np
import torch
from seeinggan.metrics import cw_ssim


@contextlib.contextmanager
def numpy2_stand_ins():
    """Scoped stand-ins for np.asfarray / np.issubsctype, which dtcwt 0.13 calls (removed in numpy 2)."""
    saved = {name: getattr(np, name, None) for name in ("asfarray", "issubsctype")}

    def asfarray(a, dtype=np.float64):
        dtype = np.dtype(dtype)
        return np.asarray(a, dtype=dtype if np.issubdtype(dtype, np.inexact) else np.float64)

    np.asfarray = asfarray
    np.issubsctype = lambda a, b: np.issubdtype(a, b)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                delattr(np, name)
            else:
                setattr(np, name, value)


def best_of(fn, repeats: int) -> float:
    fn()  # warm-up (plans, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    batch = 64
    reference = torch.from_numpy(rng.normal(size=(batch, 256, 256)).astype(np.float32))
    test = reference + 0.3 * torch.from_numpy(rng.normal(size=(batch, 256, 256)).astype(np.float32))
    big_a = rng.normal(size=(2048, 2048)).astype(np.float32)
    big_b = big_a + 0.3 * rng.normal(size=(2048, 2048)).astype(np.float32)

    import dtcwt

    transform = dtcwt.Transform2d(biort="near_sym_b", qshift="qshift_b")
    default_threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    with numpy2_stand_ins():
        numpy_both = best_of(lambda: [transform.forward(im, nlevels=4) for im in (big_a, big_b)], 2)
    print(f"dtcwt numpy forward transform of two 2048x2048 float32 images (4 levels): {numpy_both:.2f} s")
    for threads in (default_threads, 1):
        torch.set_num_threads(threads)
        seconds = best_of(lambda: cw_ssim(reference, test), 3)
        print(f"[{threads} thread(s)] CW-SSIM of {batch} 256x256 float32 pairs in a batch: "
              f"{seconds * 1000:.0f} ms = {batch / seconds:.0f} pairs/s (goal >= 200)")
        big = best_of(lambda: cw_ssim(big_a, big_b), 2)
        verdict = "faster" if big < numpy_both else "slower"
        print(f"[{threads} thread(s)] CW-SSIM of one 2048x2048 float32 pair: {big:.2f} s "
              f"({numpy_both / big:.1f}x the dtcwt transform alone: {verdict})")
    torch.set_num_threads(default_threads)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
