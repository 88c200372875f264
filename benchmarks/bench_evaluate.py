"""Time `seeinggan evaluate` per 256x256 pair, by step: reading, Richardson-Lucy, the model,
the fidelity measures, CW-SSIM/SSIM/PSNR and invented sources. Prints seconds per pair and the
projection for a stress suite of a few hundred pairs.

    OMP_NUM_THREADS=2 python benchmarks/bench_evaluate.py [N_PAIRS]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main(n: int = 24) -> None:
    import torch

    from seeinggan.data import folder_pairs
    from seeinggan.evaluate import evaluate_pairs, truth_images
    from seeinggan.evaluate.baselines import ground_psf_on_space_grid, richardson_lucy_deconvolve
    from seeinggan.evaluate.measures import flux_aperture, invented_sources, pair_measures, smoothed_noise
    from seeinggan.infer import Deblurrer
    from seeinggan.metrics import compare
    from seeinggan.metrics.compare import normalisation
    from seeinggan.simulate import write_pairs

    print(f"torch threads: {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        folder = write_pairs(Path(tmp) / "pairs", n=n, seed=5, space_shape=(256, 256), truth=True)
        print(f"simulate + write {n} pairs: {(time.perf_counter() - t) / n * 1000:.0f} ms/pair")
        t = time.perf_counter()
        pairs = folder_pairs(folder)
        truths = truth_images(folder, pairs)
        print(f"read + resample: {(time.perf_counter() - t) / n * 1000:.0f} ms/pair")
        deblurrer = Deblurrer("default", device="cpu")
        t = time.perf_counter()
        outputs = deblurrer.deblur_cutouts(np.stack([p.ground for p in pairs]), pixel_scale=0.03).data
        print(f"model (default): {(time.perf_counter() - t) / n * 1000:.0f} ms/pair")
        steps = {"richardson_lucy(20 it)": 0.0, "fidelity measures x3": 0.0, "compare x3": 0.0, "invented x3": 0.0}
        for pair, output in zip(pairs, outputs):
            t = time.perf_counter()
            rl = richardson_lucy_deconvolve(pair.ground, ground_psf_on_space_grid(pair.meta), iterations=20)
            steps["richardson_lucy(20 it)"] += time.perf_counter() - t
            images = [pair.ground, rl, output]
            truth = truths[pair.name]
            aperture = flux_aperture(pair.space)
            t = time.perf_counter()
            for image in images:
                pair_measures(image, truth, valid=pair.mask, aperture=aperture, pixel_scale=0.03,
                              seeing_fwhm=float(pair.meta["seeing_fwhm"]))
            steps["fidelity measures x3"] += time.perf_counter() - t
            t = time.perf_counter()
            norm = normalisation(pair.space, mask=~pair.mask)
            for image in images:
                compare(pair.space, image, mask=~pair.mask, normalise=norm)
            steps["compare x3"] += time.perf_counter() - t
            t = time.perf_counter()
            noise = smoothed_noise(np.where(pair.mask, pair.space, np.nan))
            for image in images:
                invented_sources(image, truth, pixel_scale=0.03, noise=noise)
            steps["invented x3"] += time.perf_counter() - t
        for name, seconds in steps.items():
            print(f"{name}: {seconds / n * 1000:.0f} ms/pair")
        t = time.perf_counter()
        evaluate_pairs(folder, model=deblurrer, rl_iterations=20)
        whole = (time.perf_counter() - t) / n
        print(f"evaluate_pairs, whole (RL given): {whole * 1000:.0f} ms/pair -> 300 pairs in {300 * whole / 60:.1f} min")
        t = time.perf_counter()
        evaluate_pairs(folder, model=deblurrer, rl_iterations="auto", n_validation=20)
        auto = time.perf_counter() - t - n * whole
        print(f"rl_iterations='auto' (20 validation pairs x 9 counts): +{auto:.0f} s per suite")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 24)
