"""Does the uncertainty map earn its place? Evidence for ``docs/maps.md`` (issue 10, "Done when").

For every pair of one or more simulated pairs folders with the noiseless truth
(``seeinggan simulate -n 100 --seed 1000 --truth -o DIR``, or a stress suite), this deblurs the
*ground* image (its own 0.202"/px grid and WCS, as a user would) with
``Deblurrer.deblur(..., uncertainty=True, consistency=True)`` and measures:

- **rank correlation**: Spearman's rho between the uncertainty map and the absolute error
  ``|output - truth|``, both on the truth's grid and both smoothed by a Gaussian of
  ``SMOOTH_FWHM_ARCSEC`` (the common resolution), over the galaxy's aperture
  (`seeinggan.evaluate.flux_aperture` of the space image). Beside it, the same rho for a naive
  predictor of the error, the output's own brightness ``|output - sky|`` (an uncertainty map that
  only says "bright pixels err more" would score as well as this one): the map earns its place
  where it beats brightness.
- **invented sources in flagged pixels**: the invented sources of `seeinggan.evaluate`'s counter
  (`invented_source_positions`, against the truth, thresholds from the space image's noise)
  that fall in pixels flagged unstable (`seeinggan.infer.maps.flag_unstable`), that fall where
  the consistency map says ``|chi| > 5`` (at the input pixel holding them), and either; beside
  them the fraction of the image's area that is flagged (what a flag placed at random would
  catch).

Usage (2 cores: ~3 s per 256x256 stamp)::

    seeinggan simulate -n 100 --seed 1000 --truth -o /tmp/heldout
    python scripts/evaluate_maps.py /tmp/heldout [SUITE_DIR ...] [--limit N] [--model FILE]
        [--markdown docs/maps-table.md] [--json maps.json]

Each folder is one row of the table (named after the folder). Runs the model given (the shipped
one by default): rerun it whenever the weights change.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage, stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src_core"))

SMOOTH_FWHM_ARCSEC = 0.15
"""Common resolution of the error and uncertainty maps before they are ranked."""


def _smooth(image: np.ndarray, sigma: float) -> np.ndarray:
    return ndimage.gaussian_filter(np.nan_to_num(image), sigma)


def evaluate_pair(deblurrer, folder: Path, row: dict) -> dict:
    from seeinggan.evaluate import (
        flux_aperture,
        invented_source_positions,
        smoothed_noise,
    )
    from seeinggan.geometry import pixel_scale, resample_to_grid
    from seeinggan.infer.maps import CONSISTENCY_SIGMA, flag_unstable
    from seeinggan.io.fits import read_image
    from seeinggan.metrics.region import same_grid

    ground = read_image(folder / row["ground_file"])
    space = read_image(folder / row["space_file"])
    truth = read_image(folder / row["truth_file"])
    seeing = float(row["seeing_fwhm"])
    beta = float(row["moffat_beta"]) if row.get("moffat_beta") not in (None, "") else None
    gain = ground.header.get("GAIN")
    # The sky noise as from a whole frame (the header's SKYNOISE, as `seeinggan deblur` reads it):
    # a 7.7" stamp filled by a bright galaxy shows too little sky to measure it.
    noise = ground.header.get("SKYNOISE")
    psf_model = "kolmogorov" if str(row.get("psf_model", "")).startswith("kolmogorov") else "moffat"
    result = deblurrer.deblur(ground.data, wcs=ground.wcs, uncertainty=True, consistency=True,
                              seeing=seeing, moffat_beta=beta, psf_model=psf_model, gain=gain, noise=noise)
    output, spread = np.asarray(result.data, dtype=np.float64), np.asarray(result.uncertainty, dtype=np.float64)
    shape = truth.data.shape
    if not same_grid(result.wcs, truth.wcs, output.shape):
        # The output grid covers the ground stamp; the truth's is the space stamp (they differ by
        # a fraction of an output pixel): resample both maps onto the truth's grid.
        output = resample_to_grid(output, result.wcs, truth.wcs, shape, order=3, conserve="flux")
        spread = resample_to_grid(spread, result.wcs, truth.wcs, shape, order=3, conserve="flux")
    scale = pixel_scale(truth.wcs)
    truth_data = np.asarray(truth.data, dtype=np.float64)
    space_data = np.asarray(space.data, dtype=np.float64)
    valid = np.isfinite(output) & np.isfinite(spread)
    aperture = flux_aperture(space_data) & valid

    sigma = SMOOTH_FWHM_ARCSEC / scale / 2.3548
    error_s = _smooth(np.abs(output - truth_data), sigma)
    spread_s = _smooth(spread, sigma)
    _, flagged, levels = flag_unstable(output, spread, pixel_noise=result.maps.summary.levels["pixel_noise"])
    bright_s = _smooth(np.abs(output - levels["sky"]), sigma)
    rho = stats.spearmanr(spread_s[aperture], error_s[aperture]).statistic if aperture.sum() > 10 else math.nan
    rho_bright = stats.spearmanr(bright_s[aperture], error_s[aperture]).statistic if aperture.sum() > 10 else math.nan

    noise = smoothed_noise(space_data)
    invented = invented_source_positions(np.where(valid, output, np.nan), truth_data, pixel_scale=scale, noise=noise)
    chi = np.asarray(result.consistency)
    in_flagged = in_chi = in_either = 0
    for r, c in invented:
        f = bool(flagged[r, c])
        x, y = ground.wcs.world_to_pixel(truth.wcs.pixel_to_world(c, r))
        ri, ci = round(float(y)), round(float(x))
        k = (0 <= ri < chi.shape[0] and 0 <= ci < chi.shape[1]
             and np.isfinite(chi[ri, ci]) and abs(chi[ri, ci]) > CONSISTENCY_SIGMA)
        in_flagged += int(f)
        in_chi += int(k)
        in_either += int(f or k)
    summary = result.maps.summary
    return {
        "name": row["name"], "class": row.get("class", ""), "seeing": seeing,
        "rho_uncertainty": float(rho), "rho_brightness": float(rho_bright),
        "invented": len(invented), "invented_flagged": in_flagged, "invented_chi": in_chi,
        "invented_either": in_either,
        "flagged_area": float(flagged[valid].mean()), "flagged_flux_fraction": summary.flagged_flux_fraction,
        "chi_fraction_above": summary.chi_fraction_above,
    }


def summarise(name: str, rows: list[dict]) -> dict:
    rho = np.array([r["rho_uncertainty"] for r in rows], dtype=float)
    rho_b = np.array([r["rho_brightness"] for r in rows], dtype=float)
    ok = np.isfinite(rho) & np.isfinite(rho_b)
    invented = int(sum(r["invented"] for r in rows))

    def share(key):
        return sum(r[key] for r in rows) / invented if invented else math.nan

    return {
        "set": name, "n": len(rows),
        "rho_median": float(np.nanmedian(rho)), "rho_brightness_median": float(np.nanmedian(rho_b)),
        "beats_brightness": float(np.mean(rho[ok] > rho_b[ok])) if ok.any() else math.nan,
        "invented": invented, "invented_in_flagged": share("invented_flagged"),
        "invented_in_chi": share("invented_chi"), "invented_in_either": share("invented_either"),
        "flagged_area": float(np.mean([r["flagged_area"] for r in rows])),
        "flagged_flux_fraction_median": float(np.nanmedian([r["flagged_flux_fraction"] for r in rows])),
        "chi_fraction_above_median": float(np.nanmedian([r["chi_fraction_above"] for r in rows])),
    }


def markdown(table: list[dict], *, model: str) -> str:
    lines = [
        (f"Model: `{model}`. Spearman rho between the uncertainty map and |output - truth| (both smoothed "
         f"to {SMOOTH_FWHM_ARCSEC}\" FWHM) over the galaxy aperture, median over images; beside it the rho "
         "of the output's brightness (a naive error predictor). Invented sources: count against the "
         "noiseless truth, and the share of them in pixels flagged unstable, where |chi| > 5, or either; "
         "flagged area: the share of the image flagged (the catch rate of a random flag)."),
        "",
        ("| set | images | rho(uncertainty, error) | rho(brightness, error) | images where uncertainty wins "
         "| invented sources | in flagged | in abs(chi)>5 | in either | flagged area | flagged flux (median) |"),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in table:
        lines.append(
            f"| {t['set']} | {t['n']} | {t['rho_median']:.2f} | {t['rho_brightness_median']:.2f} | "
            f"{100 * t['beats_brightness']:.0f}% | {t['invented']} | {100 * t['invented_in_flagged']:.0f}% | "
            f"{100 * t['invented_in_chi']:.0f}% | {100 * t['invented_in_either']:.0f}% | "
            f"{100 * t['flagged_area']:.1f}% | {100 * t['flagged_flux_fraction_median']:.1f}% |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="pairs folders with truth/ (one table row each)")
    parser.add_argument("--limit", type=int, default=None, help="at most N pairs per folder")
    parser.add_argument("--model", default="default", help="model file (default: the shipped model)")
    parser.add_argument("--markdown", type=Path, default=None, help="write the table here")
    parser.add_argument("--json", type=Path, default=None, help="write per-image rows and the table here")
    parser.add_argument("--from-log", action="store_true",
                        help="the FOLDERS are logs (stderr) of an earlier run: rebuild the table from "
                             "their per-image lines (an interrupted run's finished images)")
    args = parser.parse_args(argv)
    if args.from_log:
        per_image: dict[str, list[dict]] = {}
        for log in args.folders:
            for line in log.read_text().splitlines():
                head, _, payload = line.partition(": ")
                if payload.startswith("{") and "/" in head:
                    per_image.setdefault(head.split(" ")[0], []).append(json.loads(payload))
        text = markdown([summarise(name, rows) for name, rows in per_image.items()], model=args.model)
        print(text)
        if args.markdown:
            args.markdown.write_text(text)
        return 0

    from seeinggan.infer import Deblurrer

    deblurrer = Deblurrer(args.model, device="cpu")
    table, per_image = [], {}
    for folder in args.folders:
        with open(folder / "catalogue.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))[: args.limit]
        start = time.perf_counter()
        results = []
        for number, row in enumerate(rows, 1):
            results.append(evaluate_pair(deblurrer, folder, row))
            print(f"{folder.name} {number}/{len(rows)}: {json.dumps(results[-1])}", file=sys.stderr, flush=True)
        per_image[folder.name] = results
        table.append(summarise(folder.name, results))
        print(f"{folder.name}: {len(results)} images in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    text = markdown(table, model=str(deblurrer.model_path or args.model))
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    if args.json:
        args.json.write_text(json.dumps({"table": table, "images": per_image}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
