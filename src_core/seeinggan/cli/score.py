"""``seeinggan score REFERENCE.fits TEST.fits... [--region RA,DEC,WIDTH | --pixels X0,Y0,X1,Y1]``.

Scores each test image against the reference over a region of the reference grid and prints
JSON: per test, the fidelity measures (band error and band power ratio in the restoration band
0.5/FWHM-2/FWHM, Fourier-ring resolution in arcsec, texture rms; `seeinggan.metrics.fidelity`),
then CW-SSIM, SSIM, PSNR and the CW-SSIM change in % against the first test (the paper's Tables 1
and 2). The seeing FWHM comes from ``--seeing``, else from the first test whose header has
``SEEING`` or ``FWHM`` (the ground image does); without one the two band measures are null. The
pixel scale is the reference's (WCS, else ``PIXSCALE``). Tests are resampled onto the reference grid by their WCS
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
    """Add the ``score`` subcommand to ``subparsers``."""
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
    parser.add_argument("--seeing", type=float, default=None, metavar="ARCSEC",
                        help="seeing FWHM of the restored image(s), for the band error and band power "
                             "ratio (default: SEEING or FWHM in the first test's header that has one)")
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


def _name_by_folder(images) -> None:
    """Name images ``folder/name`` where different files share a name.

    ``seeinggan simulate`` writes ``ground/sim_00000.fits`` and ``space/sim_00000.fits``: both
    were reported as ``sim_00000.fits[0]``.
    """
    paths_by_name: dict[str, set] = {}
    for path, image in images:
        paths_by_name.setdefault(image.name, set()).add(Path(path).resolve())
    for path, image in images:
        if len(paths_by_name[image.name]) > 1 and Path(path).resolve().parent.name:
            image.name = f"{Path(path).resolve().parent.name}/{image.name}"


def _json_number(value):
    # JSON has no inf/NaN: PSNR of identical images is reported as null (see "psnr_note").
    return value if isinstance(value, str) or math.isfinite(value) else None


_LEADING = ("name", "band_error", "band_power_ratio", "frc_scale_arcsec", "texture_rms")


def _ordered(row: dict) -> dict:
    """Fidelity measures first, then the paper's scores."""
    return {**{key: row[key] for key in _LEADING if key in row}, **row}


def _scale_and_seeing(reference, tests, given: float | None):
    """The reference's pixel scale, and the seeing FWHM with where it came from.

    The pixel scale comes from the WCS, else PIXSCALE; None if neither.
    """
    from seeinggan.metrics import seeing_from_header

    scale = None
    if reference.wcs is not None:
        from seeinggan.geometry import pixel_scale

        scale = float(pixel_scale(reference.wcs))
    elif reference.header is not None and "PIXSCALE" in reference.header:
        scale = float(reference.header["PIXSCALE"])
    if given is not None:
        if not (math.isfinite(given) and given > 0):
            raise CliError(f"--seeing must be a positive number of arcsec, got {given}")
        return scale, float(given), "--seeing"
    for image in tests:
        seeing = seeing_from_header(image.header)
        if seeing is not None:
            return scale, seeing, f"header of {image.name}"
    return scale, None, "unknown: pass --seeing ARCSEC for band_error and band_power_ratio"


def run(args) -> int:
    """Run ``seeinggan score``; the exit status."""
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
    _name_by_folder([(args.reference, reference), *zip(args.tests, tests, strict=True)])
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
        scale, seeing, seeing_source = _scale_and_seeing(reference, tests, args.seeing)
        rows = score_region(reference.data, on_grid, box=box, pixel_scale=scale, seeing_fwhm=seeing)
    except (RegionError, RegionTooSmallError) as error:
        raise CliError(str(error)) from None
    report = {
        "reference": reference.name,
        "region_pixels": box.as_list(),
        "region_note": "x0, y0, x1, y1 of the reference grid, 0-based, x1 and y1 exclusive",
        "region_shape": list(box.shape),
        "units": "each image minus its own sky, divided by the reference's 99.5th percentile; data_range 1",
        "psnr_note": "PSNR in dB; null for identical images (infinite)",
        "pixel_scale_arcsec": scale,
        "seeing_fwhm": seeing,
        "seeing_source": seeing_source,
        "fidelity_note": (
            "band_error = sum|X-T|^2/sum|T|^2 and band_power_ratio = sum|X|^2/sum|T|^2 over spatial "
            "frequencies 0.5/FWHM-2/FWHM (Hann-apodised FFTs); frc_scale_arcsec: 1/frequency where "
            "the Fourier ring correlation first falls below 0.5; texture_rms: rms about a 0.5\" "
            "Gaussian-smoothed self over the reference's; docs/metrics.md"
        ),
        "tests": [{key: _json_number(value) for key, value in _ordered(row).items()} for row in rows],
    }
    if reference.wcs is not None:
        centre = reference.wcs.pixel_to_world((box.x0 + box.x1 - 1) / 2, (box.y0 + box.y1 - 1) / 2).icrs
        report["region_center_deg"] = [float(centre.ra.deg), float(centre.dec.deg)]
        from seeinggan.geometry import pixel_scale

        report["region_size_arcsec"] = [n * pixel_scale(reference.wcs) for n in box.shape[::-1]]
    json.dump(report, sys.stdout, indent=args.indent)
    sys.stdout.write("\n")
    return 0
