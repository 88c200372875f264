"""Time `seeinggan evaluate` on a stress suite.

Seconds per 256x256 pair, by step and whole, with 1 and 2 worker processes, and the projection for a
suite of 300 pairs.

Each figure is given as wall time and as CPU time (this process and its finished children). On a
shared, overloaded machine the wall time grows with the load average (printed); the CPU time is
what the work costs a core of its own, so ``CPU time / 2`` is the wall time on an idle 2-core
machine with 2 workers.

    python benchmarks/bench_evaluate.py [N_PAIRS]      # default 16 pairs of the "heldout" suite
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), _cpu()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, _cpu() - self.cpu

    def per(self, n: float) -> str:
        return f"{self.wall / n * 1000:.0f} ms wall, {self.cpu / n * 1000:.0f} ms CPU"


def main(n: int = 16) -> None:
    import torch
    from seeinggan.data import folder_pairs
    from seeinggan.evaluate import evaluate_pairs, truth_images
    from seeinggan.evaluate.baselines import ground_psf_on_space_grid, richardson_lucy_deconvolve
    from seeinggan.evaluate.measures import flux_aperture, invented_sources, pair_measures, smoothed_noise
    from seeinggan.evaluate.suites import write_suite
    from seeinggan.infer import Deblurrer
    from seeinggan.metrics import compare
    from seeinggan.metrics.compare import normalisation

    print(f"cores: {os.cpu_count()}, torch threads: {torch.get_num_threads()}, load average: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        with Clock() as clock:
            folder = write_suite("heldout", Path(tmp) / "heldout", n=n)
        print(f"simulate + write: {clock.per(n)} per pair")
        pairs = folder_pairs(folder)
        truths = truth_images(folder, pairs)
        print(f"stamp shape: {pairs[0].shape}")
        deblurrer = Deblurrer("default", device="cpu")
        with Clock() as clock:
            outputs = deblurrer.deblur_cutouts(np.stack([p.ground for p in pairs]), pixel_scale=0.03).data
        print(f"model (default, batched): {clock.per(n)} per pair")
        steps = {name: [0.0, 0.0] for name in ("Richardson-Lucy, 20 iterations", "fidelity measures, per method",
                                               "CW-SSIM/SSIM/PSNR, per method", "invented sources, per method")}

        def add(name, clock, share=1.0):
            steps[name][0] += clock.wall * share
            steps[name][1] += clock.cpu * share

        for pair, output in zip(pairs, outputs, strict=True):
            with Clock() as clock:
                rl = richardson_lucy_deconvolve(pair.ground, ground_psf_on_space_grid(pair.meta), iterations=20)
            add("Richardson-Lucy, 20 iterations", clock)
            images = [pair.ground, rl, output]
            truth, aperture = truths[pair.name], flux_aperture(pair.space)
            with Clock() as clock:
                for image in images:
                    pair_measures(image, truth, valid=pair.mask, aperture=aperture, pixel_scale=0.03,
                                  seeing_fwhm=float(pair.meta["seeing_fwhm"]))
            add("fidelity measures, per method", clock, 1 / 3)
            with Clock() as clock:
                norm = normalisation(pair.space, mask=~pair.mask)
                for image in images:
                    compare(pair.space, image, mask=~pair.mask, normalise=norm)
            add("CW-SSIM/SSIM/PSNR, per method", clock, 1 / 3)
            with Clock() as clock:
                noise = smoothed_noise(np.where(pair.mask, pair.space, np.nan))
                for image in images:
                    invented_sources(image, truth, pixel_scale=0.03, noise=noise)
            add("invented sources, per method", clock, 1 / 3)
        for name, (wall, cpu) in steps.items():
            print(f"{name}: {wall / n * 1000:.0f} ms wall, {cpu / n * 1000:.0f} ms CPU per pair")
        for workers in (1, 2):
            with Clock() as clock:
                evaluate_pairs(folder, model=deblurrer, rl_iterations=20, workers=workers)
            print(f"evaluate_pairs (ground, RL, default model), workers={workers}: {clock.per(n)} per pair; "
                  f"300 pairs: {300 * clock.wall / n / 60:.1f} min wall here, "
                  f"{300 * clock.cpu / n / 60 / workers:.1f} min "
                  f"on {workers} idle core(s) (load average now {os.getloadavg()[0]:.1f}; with workers=2 the "
                  "CPU includes starting two Python processes, a few seconds per run)")
        with Clock() as clock:
            evaluate_pairs(folder, model=None, rl_iterations="auto", n_validation=20, workers=2)
        print(f"rl_iterations='auto' with 20 validation pairs, baselines only, workers=2: {clock.wall:.0f} s wall, "
              f"{clock.cpu:.0f} s CPU for the whole run")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 16)
