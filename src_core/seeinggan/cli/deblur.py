"""``seeinggan deblur IN.fits... -o OUTDIR``: deblur FITS images onto the model's pixel grid.

Each input ``NAME.fits`` becomes ``OUTDIR/NAME_deblurred.fits`` with the output grid's WCS, the
input header's other keywords and a HISTORY line naming the model and the settings. Nothing is
ever overwritten without ``--overwrite``: an existing output, or an output that would be an input,
is an error before any work starts (``--skip-existing`` continues a run that was interrupted).
Before any work: the output folder must be writable and hold the estimated outputs ("no space
left" otherwise), and each image's memory and time are estimated (a warning when long). Outputs
are written atomically (`seeinggan.io.atomic`): a killed run leaves only whole files under final
names. Files without a celestial WCS need ``--pixel-scale``.

``--maps`` adds two image extensions after the primary image (`seeinggan.infer.maps`):
``UNCERTAINTY`` (the spread over the 8 dihedral views, on the output grid with the primary's
WCS, in the primary's flux units) and ``CONSISTENCY`` (the chi map on the input grid with the
input's WCS). The seeing comes from ``--seeing`` or the header (``SEEING``, else ``FWHM``, in
arcsec), the Moffat index from ``--moffat-beta`` or ``PSFBETA`` (``PSFMODEL = 'kolmogorov...'``
selects a Kolmogorov profile), the gain from ``GAIN`` and the sky noise per pixel from
``SKYNOISE``, ``SKYSIG`` or ``SKYRMS`` (else it is measured on the image). """

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seeinggan.cli import CliError

_FITS_SUFFIXES = (".fits.gz", ".fit.gz", ".fts.gz", ".fits.fz", ".fits", ".fit", ".fts", ".gz")


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "deblur",
        help="deblur FITS images with a SeeingGAN model",
        description=(
            "Deblur seeing-limited FITS images onto the model's pixel grid (0.03\"/px for the "
            "default model). Writes OUTDIR/<stem>_deblurred.fits with the output WCS."
        ),
    )
    parser.add_argument("inputs", nargs="+", type=Path, metavar="IN.fits", help="input FITS image(s)")
    parser.add_argument("-o", "--output-dir", type=Path, required=True, metavar="OUTDIR",
                        help="folder for the outputs (created if missing)")
    parser.add_argument("--model", default="default", metavar="FILE",
                        help="model file (NAME.safetensors or NAME.json); default: the shipped model")
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps")
    parser.add_argument("--tile", type=int, default=256, metavar="N", help="tile side in model pixels (default 256)")
    parser.add_argument("--overlap", default="auto", metavar="N",
                        help="tile overlap in model pixels, or 'auto' from the receptive field (default: auto)")
    parser.add_argument("--batch-size", type=int, default=4, metavar="N", help="tiles per forward pass (default 4)")
    parser.add_argument("--pixel-scale", type=float, default=None, metavar="ARCSEC",
                        help="input pixel scale in arcsec/px, for files without a celestial WCS")
    parser.add_argument("--hdu", default=None, metavar="N",
                        help="HDU index or EXTNAME to read (default: the first image HDU)")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    existing.add_argument("--skip-existing", action="store_true",
                          help="leave existing outputs as they are (continue an interrupted run)")
    parser.add_argument("--seeing", type=float, default=None, metavar="ARCSEC",
                        help="seeing FWHM in arcsec (default: the header's SEEING/FWHM/PSF_FWHM keyword; "
                             "else the middle of the model's trained range, with a warning)")
    parser.add_argument("--sky", type=float, default=None, metavar="LEVEL",
                        help="sky level in the input's units per pixel (default: measured on the whole HDU)")
    parser.add_argument("--noise", type=float, default=None, metavar="SIGMA",
                        help="per-pixel noise in the input's units (default: measured on the whole HDU)")
    parser.add_argument("--maps", action="store_true",
                        help="also write UNCERTAINTY and CONSISTENCY image extensions (8x the network "
                             "work; needs the seeing: --seeing or SEEING/FWHM in the header)")
    parser.add_argument("--moffat-beta", type=float, default=None, metavar="BETA",
                        help="Moffat index of the seeing PSF for --maps (default: PSFBETA in the header, else 3.5)")
    parser.set_defaults(run=run)
    return parser


def output_path(input_path: Path, output_dir: Path) -> Path:
    """``OUTDIR/<stem>_deblurred.fits`` (``.fits``, ``.fits.gz``... stripped from the name)."""
    name = input_path.name
    for suffix in _FITS_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return output_dir / f"{name}_deblurred.fits"


def _plan(args) -> list[tuple[Path, Path]]:
    """Check every input and output before any work; return (input, output) pairs."""
    jobs = []
    resolved_inputs = set()
    for path in args.inputs:
        if not path.exists():
            raise CliError(f"{path}: file not found")
        if not path.is_file():
            raise CliError(f"{path}: not a file")
        resolved_inputs.add(path.resolve())
    seen = {}
    for path in args.inputs:
        target = output_path(path, args.output_dir)
        if target.resolve() in resolved_inputs:
            raise CliError(f"{target}: the output would overwrite an input; choose another -o OUTDIR")
        if target.exists() and getattr(args, "skip_existing", False):
            print(f"skipped {path}: {target} exists", file=sys.stderr)
            continue
        if target.exists() and not getattr(args, "overwrite", False):
            raise CliError(f"{target}: output exists; remove it, choose another -o OUTDIR, or pass "
                           "--overwrite (or --skip-existing)")
        if target in seen:
            raise CliError(f"{path} and {seen[target]} would both be written to {target}")
        seen[target] = path
        jobs.append((path, target))
    return jobs


def run(args) -> int:
    import sys
    import warnings

    from tqdm import tqdm

    from seeinggan.infer.header import deblurred_header
    from seeinggan.infer.sanity import check_pixel_scale
    from seeinggan.io.atomic import check_output_folder
    from seeinggan.io.fits import read_image, write_image
    from seeinggan.models.conditions import seeing_from_header

    if args.pixel_scale is not None:
        check_pixel_scale(args.pixel_scale, what="--pixel-scale")
    for option, value in (("--seeing", args.seeing), ("--noise", args.noise)):
        if value is not None and not value > 0:
            raise CliError(f"{option} must be a positive number, got {value}")
    hdu = int(args.hdu) if args.hdu is not None and str(args.hdu).lstrip("-").isdigit() else args.hdu
    overlap = args.overlap if args.overlap == "auto" else _int_option("--overlap", args.overlap)
    jobs = _plan(args)
    if not jobs:
        print("nothing to do: every output exists", file=sys.stderr)
        return 0
    check_output_folder(args.output_dir)  # writable (and leftovers of a killed run removed)

    # Read every input first: a file without WCS fails before the model is loaded.
    images = []
    for source, _ in jobs:
        image = read_image(source, hdu=hdu)
        if image.wcs is None and args.pixel_scale is None:
            raise CliError(f"{image.name}: no celestial WCS in the header; pass --pixel-scale ARCSEC")
        images.append(image)
    if getattr(args, "maps", False):
        psf_settings = [_psf_settings(image, args) for image in images]

    from seeinggan.infer import Deblurrer

    model = args.model if args.model == "default" else Path(args.model)
    if model != "default" and not Path(model).exists() and not Path(str(model) + ".safetensors").exists():
        raise CliError(f"{model}: model file not found")
    deblurrer = Deblurrer(model, device=args.device, tile=args.tile, overlap=overlap, batch_size=args.batch_size)

    # Room for every output (float32 on the model's grid), before any work.
    needed = 0
    for image in images:
        scale = image.pixel_scale if image.wcs is not None else args.pixel_scale
        factor = check_pixel_scale(scale, what=f"{image.name}: pixel scale") / deblurrer.pixel_scale
        planes = 3 if getattr(args, "maps", False) else 1  # --maps adds two extensions
        needed += image.data.shape[-2] * image.data.shape[-1] * factor**2 * 4 * planes + 2880 * 4
    check_output_folder(args.output_dir, needed_bytes=needed, what=f"{len(images)} deblurred image(s)")
    for number, (image, (_, target)) in enumerate(zip(images, jobs)):
        with tqdm(desc=image.name, unit="tile", leave=True) as bar:

            def progress(done: int, total: int, bar=bar) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            seeing, seeing_keyword = args.seeing, "--seeing" if args.seeing is not None else None
            if seeing is None:
                found = seeing_from_header(image.header)
                if found is not None:
                    seeing, seeing_keyword = found
            maps_options, noise = {}, args.noise
            if getattr(args, "maps", False):
                settings = dict(psf_settings[number])
                map_seeing = settings.pop("seeing")  # --seeing, else the header's (checked before work)
                seeing = map_seeing if seeing is None else seeing
                header_noise = settings.pop("noise")  # per input pixel, as --noise
                noise = header_noise if noise is None else noise
                maps_options = dict(uncertainty=True, consistency=True, **settings)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = deblurrer.deblur(
                    image.data,
                    wcs=image.wcs,
                    pixel_scale=None if image.wcs is not None else args.pixel_scale,
                    progress=progress,
                    seeing=seeing,
                    sky=args.sky,
                    noise=noise,
                    **maps_options,
                )
        for warning in caught:
            # One line per warning (out of the trained range, seeing assumed), naming the file.
            print(f"seeinggan deblur: warning: {image.name}: {warning.message}", file=sys.stderr)
        meta = result.metadata
        history = [
            meta["history"],
            f"deblur: {meta['input_pixel_scale']:.4g} -> {meta['pixel_scale']:.4g} arcsec/px, "
            f"device {meta['settings']['device']}",
            f"deblur: input {image.name}",
        ]
        header = deblurred_header(image.header, meta, seeing_keyword=seeing_keyword)
        if result.maps is None:
            write_image(target, result.data, header=header, wcs=result.wcs, history=history,
                        overwrite=getattr(args, "overwrite", False))
            summary = ""
        else:
            _write_with_maps(target, result, header, history, overwrite=getattr(args, "overwrite", False))
            summary = "; " + result.maps.summary.one_line()
        print(f"wrote {target} ({result.data.shape[1]}x{result.data.shape[0]} px at "
              f"{result.pixel_scale:.4g}\"/px){summary}")
    return 0


def _int_option(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise CliError(f"{name} must be an integer or 'auto', got {value!r}") from None


def _psf_settings(image, args) -> dict:
    """Seeing, PSF, gain and noise for the consistency map of one input (checked before work)."""
    from seeinggan.infer.maps import psf_settings_from_header

    settings = psf_settings_from_header(image.header)
    if args.seeing is not None:
        if not args.seeing > 0:
            raise CliError(f"--seeing must be a positive number of arcsec, got {args.seeing}")
        settings["seeing"] = float(args.seeing)
    if settings["seeing"] is None:
        raise CliError(f"{image.name}: no SEEING or FWHM in the header; pass --seeing ARCSEC for --maps")
    if args.moffat_beta is not None:
        settings["moffat_beta"] = float(args.moffat_beta)
    return settings


def _write_with_maps(target: Path, result, header, history: list[str], *, overwrite: bool = False) -> None:
    """The primary image and its UNCERTAINTY and CONSISTENCY extensions, written atomically."""
    from seeinggan.io.fits import ImageExtension, write_image

    maps = result.maps
    summary = maps.summary
    unit = str(header.get("BUNIT", "")).strip()
    levels = summary.levels
    uncertainty = ImageExtension("UNCERTAINTY", maps.uncertainty, maps.uncertainty_wcs, {
        **({"BUNIT": (unit, "per output pixel, as the primary image")} if unit else {}),
        "FLAGFRAC": (_finite_or_none(summary.flagged_flux_fraction), "source flux fraction flagged unstable"),
        "RELTHR": (summary.relative_threshold, "flag: spread > RELTHR * flux + NOISETHR *"),
        "NOISETHR": (summary.noise_threshold, "input sky noise per output pixel (PIXNOISE)"),
        "PIXNOISE": (summary.levels.get("pixel_noise"), "input sky noise / (resampling factor)^2"),
        "COMMENT": ["Uncertainty: spread (std) over the 8 flips/rotations of the",
                    "input, each deblurred and turned back; flux units and grid (WCS)",
                    "of the primary. Large where the output depends on orientation."],
    })
    consistency = ImageExtension("CONSISTENCY", maps.consistency, maps.consistency_wcs, {
        "CHITHR": (summary.chi_threshold, "|chi| above this: output contradicts input"),
        "SEEING": (levels.get("input_seeing_fwhm"), "[arcsec] FWHM of the re-blurring Moffat"),
        "PSFBETA": (levels.get("input_moffat_beta"), "Moffat index of the re-blurring PSF"),
        "NOISE": (levels.get("input_noise"), "input sky noise per input pixel"),
        "COMMENT": ["Consistency: chi map on the INPUT grid (input WCS) = (output",
                    "re-blurred by the seeing PSF, binned onto the input pixels, minus",
                    "the input) / input noise. In sigma; |chi| > 5: output contradicts",
                    "the data there."],
    })
    write_image(target, result.data, header=header, wcs=result.wcs, history=history,
                extensions=[uncertainty, consistency], overwrite=overwrite)  # atomic


def _finite_or_none(value):
    import math

    return value if value is not None and math.isfinite(value) else None
