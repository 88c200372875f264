"""Speed of the geometry and FITS IO hot paths (prints figures; not a test).

OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_geometry_io.py
"""

import tempfile
import time
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from seeinggan import geometry
from seeinggan.io import fits as sfits

CENTER = SkyCoord(150.1 * u.deg, 2.2 * u.deg)


def timed(label, fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    print(f"{label:60s} {best * 1e3:9.1f} ms")
    return out


def main():
    rng = np.random.default_rng(0)
    factor = 0.202 / 0.03
    for n in (64, 256):
        ground = rng.random((n, n)).astype(np.float32)
        out = timed(f"zoom_to_scale {n}x{n} x{factor:.2f} (cubic)",
                    lambda: geometry.zoom_to_scale(ground, factor=factor))
        print(f"    -> {out.shape[0]}x{out.shape[1]} = {out.size / 1e6:.1f} Mpx")
    n = 256
    ground = rng.random((n, n)).astype(np.float32)
    gw = geometry.make_tan_wcs(center=CENTER, pixel_scale=0.202, shape=(n, n))
    shape = geometry.upsampled_shape((n, n), factor)
    sw = geometry.make_tan_wcs(center=CENTER, pixel_scale=0.03, shape=shape, rotation_deg=10)
    timed(f"resample_to_grid {n}x{n} -> {shape[0]}x{shape[1]}, rotated",
          lambda: geometry.resample_to_grid(ground, gw, sw, shape))
    ground_nan = ground.copy()
    ground_nan[::17, ::13] = np.nan
    timed("  same with 0.5% NaN pixels", lambda: geometry.resample_to_grid(ground_nan, gw, sw, shape))
    space = rng.random(shape).astype(np.float32)
    timed(f"resample_to_grid {shape[0]}x{shape[1]} -> {n}x{n} (downsampling)",
          lambda: geometry.resample_to_grid(space, sw, gw, (n, n)))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.fits"
        data = rng.random((4096, 4096)).astype(np.float32)
        sfits.write_image(path, data, wcs=geometry.make_tan_wcs(center=CENTER, pixel_scale=0.03, shape=data.shape))
        timed("read_images 4096x4096 float32 (64 MiB, converted to native)", lambda: sfits.read_images(path))
        sfits.MEMMAP_THRESHOLD_BYTES = 1024**2
        timed("read_images 4096x4096 float32 (memory-mapped, big-endian)", lambda: sfits.read_images(path))
        sfits.MEMMAP_THRESHOLD_BYTES = 256 * 1024**2


if __name__ == "__main__":
    main()
