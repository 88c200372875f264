"""``seeinggan score REFERENCE.fits TEST.fits... [--region RA,DEC,WIDTH | --pixels X0,Y0,X1,Y1]``.

Scores each test image against the reference over a region of the reference grid and prints
JSON: per test, CW-SSIM, SSIM, PSNR and the CW-SSIM change in % against the first test (the
paper's Tables 1 and 2). Tests are resampled onto the reference grid by their WCS
(`seeinggan.geometry.resample_to_grid`, flux conserved) and brought to comparable units as
`seeinggan.metrics.compare` documents (``docs/metrics.md``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from seeinggan.cli import CliError


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "score",
        help="score images against a reference (CW-SSIM, SSIM, PSNR) as JSON",
        description=(
            "Score TEST images against a REFERENCE image (for example the space image) over a "
            "region of the reference grid: CW-SSIM, SSIM, PSNR and the CW-SSIM change in %% "
            "against the first test. Tests are resampled onto the reference grid by WCS. "
            "Units and defaults: docs/metrics.md."
        ),
    )
    parser.add_argument("reference", type=Path, metavar="REFERENCE.fits", help="the reference image")
    parser.add_argument("tests", nargs="+", type=Path, metavar="TEST.fits", help="image(s) to score")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--region", metavar="RA,DEC,WIDTH_ARCSEC",
                       help="a square region: centre RA and Dec in degrees (ICRS), side in arcsec")
    where.add_argument("--pixels", metavar="X0,Y0,X1,Y1",
                       help="a box of reference pixels (0-based x = column, y = row; corners inclusive)")
    parser.add_argument("--hdu", default=None, metavar="N",
                        help="HDU index or EXTNAME to read in every file (default: the first image HDU)")
    parser.add_argument("--indent", type=int, default=2, metavar="N", help="JSON indent (default 2)")
    parser.set_defaults(run=run)
    return parser


def _numbers(text: str, count: int, option: str) -> list[float]:
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise CliError(f"{option} expects {count} comma-separated numbers, got {text!r}")
    return values


def _read(path: Path, hdu):
    from seeinggan.io.fits import FitsReadError, read_image

    if not path.exists():
        raise CliError(f"{path}: file not found")
    try:
        image = read_image(path, hdu=hdu)
    except FitsReadError as error:
        raise CliError(str(error)) from None
    if image.data.ndim != 2:
        raise CliError(f"{image.name}: expected a 2-D image, got shape {image.data.shape}")
    return image


def _json_number(value):
    # JSON has no inf/NaN: PSNR of identical images is reported as null (see "psnr_note").
    return value if isinstance(value, str) or math.isfinite(value) else None


def run(args) -> int:
    from astropy.coordinates import SkyCoord

    from seeinggan.metrics import (
        RegionError,
        RegionTooSmallError,
        box_from_pixels,
        box_from_sky,
        onto_region,
        score_region,
    )

    hdu = int(args.hdu) if args.hdu is not None and str(args.hdu).lstrip("-").isdigit() else args.hdu
    for path in [args.reference, *args.tests]:
        if not path.exists():
            raise CliError(f"{path}: file not found")
    reference = _read(args.reference, hdu)
    tests = [_read(path, hdu) for path in args.tests]
    shape = reference.data.shape
    try:
        if args.region is not None:
            ra, dec, width = _numbers(args.region, 3, "--region")
            if reference.wcs is None:
                raise CliError(f"{reference.name}: no celestial WCS, so --region cannot be placed; use --pixels")
            box = box_from_sky(SkyCoord(ra, dec, unit="deg"), width, wcs=reference.wcs, shape=shape)
        elif args.pixels is not None:
            x0, y0, x1, y1 = _numbers(args.pixels, 4, "--pixels")
            box = box_from_pixels(x0, y0, x1, y1, shape=shape)
        else:
            box = box_from_pixels(0, 0, shape[1] - 1, shape[0] - 1, shape=shape)
        on_grid = {}
        for image in tests:
            if image.wcs is None or reference.wcs is None:
                if image.data.shape != shape:
                    missing = image.name if image.wcs is None else reference.name
                    raise CliError(
                        f"{missing}: no celestial WCS, so {image.name} cannot be put on the reference "
                        "grid (images without WCS must have the reference's shape)"
                    )
                grid = onto_region(image.data, box=box)
            else:
                try:
                    grid = onto_region(image.data, box=box, reference_wcs=reference.wcs, wcs=image.wcs)
                except ValueError as error:
                    raise CliError(f"{image.name}: does not overlap the reference region ({error})") from None
            name = image.name
            while name in on_grid:  # two files with one display name
                name += "'"
            on_grid[name] = grid
        rows = score_region(reference.data, on_grid, box=box)
    except (RegionError, RegionTooSmallError) as error:
        raise CliError(str(error)) from None
    report = {
        "reference": reference.name,
        "region_pixels": box.as_list(),
        "region_note": "x0, y0, x1, y1 of the reference grid, 0-based, x1 and y1 exclusive",
        "region_shape": list(box.shape),
        "units": "each image minus its own sky, divided by the reference's 99.5th percentile; data_range 1",
        "psnr_note": "PSNR in dB; null for identical images (infinite)",
        "tests": [{key: _json_number(value) for key, value in row.items()} for row in rows],
    }
    if reference.wcs is not None:
        centre = reference.wcs.pixel_to_world((box.x0 + box.x1 - 1) / 2, (box.y0 + box.y1 - 1) / 2).icrs
        report["region_center_deg"] = [float(centre.ra.deg), float(centre.dec.deg)]
        from seeinggan.geometry import pixel_scale

        report["region_size_arcsec"] = [n * pixel_scale(reference.wcs) for n in box.shape[::-1]]
    json.dump(report, sys.stdout, indent=args.indent)
    sys.stdout.write("\n")
    return 0
