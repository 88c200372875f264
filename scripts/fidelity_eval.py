"""Fidelity of models against the noiseless truth.

Restoration-band error, band power ratio and invented sources, beside the resampled ground image and
Richardson-Lucy (true PSF).

Used to choose the fidelity model's recipe from pilots (issue 9) before `seeinggan.metrics`
had its own band error; the band error here follows the issue's definition:
``sum |X - T|^2 / sum |T|^2`` over Hann-apodised FFTs, in the band 0.5/FWHM .. 2/FWHM cycles per
arcsec, with T the noiseless truth.

    python scripts/fidelity_eval.py eval/test --model default --model runs/p1/p1.safetensors \
        [--limit 40] [--json out.json]

Conditioned models are told each pair's seeing and ground pixel scale (catalogue).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np


def hann2d(shape):
    return np.outer(np.hanning(shape[0]), np.hanning(shape[1]))


def band_mask(shape, pixel_scale, fwhm):
    fy = np.fft.fftfreq(shape[0], d=pixel_scale)
    fx = np.fft.fftfreq(shape[1], d=pixel_scale)
    radius = np.hypot(fy[:, None], fx[None, :])
    return (radius >= 0.5 / fwhm) & (radius <= 2.0 / fwhm)


def band_scores(image, truth, *, pixel_scale, fwhm):
    """(band error, band power ratio) of `image` against `truth`."""
    window = hann2d(truth.shape)
    valid = np.isfinite(image) & np.isfinite(truth)
    x = np.where(valid, image, 0.0) * window
    t = np.where(valid, truth, 0.0) * window
    band = band_mask(truth.shape, pixel_scale, fwhm)
    fx, ft = np.fft.fft2(x), np.fft.fft2(t)
    power_t = np.sum(np.abs(ft[band]) ** 2)
    error = np.sum(np.abs(fx[band] - ft[band]) ** 2) / power_t
    ratio = np.sum(np.abs(fx[band]) ** 2) / power_t
    return float(error), float(ratio)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pairs", type=Path, help="a simulated pairs folder with truth/, or 'broad:N:SEED' for "
                        "N pairs of the broad training prior (seeinggan.train.prior) of stream SEED")
    parser.add_argument("--model", action="append", default=[])
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--rl-iterations", type=int, default=50)
    parser.add_argument("--rl-cache", type=Path, default=None)
    args = parser.parse_args()

    from seeinggan.data import folder_pairs
    from seeinggan.evaluate import invented_sources, smoothed_noise, truth_images
    from seeinggan.evaluate.baselines import ground_psf_on_space_grid, richardson_lucy_deconvolve
    from seeinggan.infer import Deblurrer

    if str(args.pairs).startswith("broad:"):
        from seeinggan.train.prior import simulate_training_pair

        _, n, seed = str(args.pairs).split(":")
        pairs = [simulate_training_pair(int(seed), i) for i in range(int(n))]
        for pair in pairs:
            pair.meta["space_pixel_scale"] = 0.03
        truths = {pair.name: pair.truth for pair in pairs}
    else:
        pairs = folder_pairs(args.pairs)
        if args.limit:
            pairs = pairs[: args.limit]
        truths = truth_images(args.pairs, pairs)
    cache = {}
    if args.rl_cache is not None and args.rl_cache.exists():
        cache = dict(np.load(args.rl_cache))
    methods = {"ground": None, "rl": None}
    deblurrers = {}
    for model in args.model:
        deblurrers[model] = Deblurrer(model, device="cpu", batch_size=1)
        methods[model] = None
    rows = {name: {"band_error": [], "power_ratio": [], "invented": []} for name in methods}
    timings = {name: 0.0 for name in deblurrers}
    for pair in pairs:
        truth = truths[pair.name]
        scale = float(pair.meta.get("space_pixel_scale") or 0.03)
        fwhm = float(pair.meta["seeing_fwhm"])
        noise = smoothed_noise(np.where(pair.mask, pair.space, np.nan))
        images = {"ground": pair.ground}
        key = f"{pair.name}_{args.rl_iterations}"
        if key not in cache:
            psf = ground_psf_on_space_grid(pair.meta)
            cache[key] = richardson_lucy_deconvolve(pair.ground, psf, iterations=args.rl_iterations)
        images["rl"] = cache[key]
        for model, deblurrer in deblurrers.items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = deblurrer.deblur_cutouts(
                    pair.ground[None], pixel_scale=scale, seeing=fwhm,
                    input_pixel_scale=float(pair.meta.get("ground_pixel_scale") or 0.202),
                )
            timings[model] += time.perf_counter() - start
            images[model] = result.data[0]
        for name, image in images.items():
            image = np.where(pair.mask, image, np.nan)
            error, ratio = band_scores(image, truth, pixel_scale=scale, fwhm=fwhm)
            rows[name]["band_error"].append(error)
            rows[name]["power_ratio"].append(ratio)
            rows[name]["invented"].append(
                invented_sources(image, np.where(pair.mask, truth, np.nan), pixel_scale=scale, noise=noise)
            )
    if args.rl_cache is not None:
        np.savez(args.rl_cache, **cache)
    ground_errors = np.array(rows["ground"]["band_error"])
    summary = {}
    print(f"{len(pairs)} pairs; band error / power ratio against the noiseless truth")
    print(f"{'method':45s} {'band err':>9s} {'median':>7s} {'<ground':>8s} {'power':>7s} {'invented':>9s} {'imgs':>5s}")
    for name, values in rows.items():
        errors = np.array(values["band_error"])
        invented = np.array(values["invented"])
        summary[name] = {
            "band_error_mean": float(errors.mean()),
            "band_error_median": float(np.median(errors)),
            "below_ground_fraction": float(np.mean(errors < ground_errors)),
            "power_ratio_mean": float(np.mean(values["power_ratio"])),
            "power_ratio_median": float(np.median(values["power_ratio"])),
            "invented_per_image": float(invented.mean()),
            "images_with_invented": int(np.sum(invented > 0)),
            "seconds_per_pair": timings.get(name, 0.0) / len(pairs) if name in timings else None,
            "per_pair_band_error": [float(v) for v in errors],
        }
        s = summary[name]
        print(f"{name[-45:]:45s} {s['band_error_mean']:9.3f} {s['band_error_median']:7.3f} "
              f"{s['below_ground_fraction']:8.2f} {s['power_ratio_mean']:7.2f} {s['invented_per_image']:9.2f} "
              f"{s['images_with_invented']:5d}")
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
