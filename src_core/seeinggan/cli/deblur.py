"""``seeinggan deblur IN.fits... -o OUTDIR``: deblur FITS images onto the model's pixel grid.

Each input ``NAME.fits`` becomes ``OUTDIR/NAME_deblurred.fits`` with the output grid's WCS, the
input header's other keywords and a HISTORY line naming the model and the settings. Nothing is
ever overwritten without ``--overwrite``: an existing output, or an output that would be an input,
is an error before any work starts (``--skip-existing`` continues a run that was interrupted).
Before any work: the output folder must be writable and hold the estimated outputs ("no space
left" otherwise). Outputs are written atomically (`seeinggan.io.atomic`): a killed run leaves
only whole files under final names. Files without a celestial WCS need ``--pixel-scale``.

Every file is deblurred by the streamed path (`seeinggan.infer.streaming`): the output is filled
in place on disk, in memory that does not grow with the frame. ``--catalog`` deblurs a stamp
around each catalogue source instead (`seeinggan.infer.catalog`). ``--workers N`` or
``--scheduler ADDRESS`` run one Dask task per file or catalogue chunk (`seeinggan.infer.jobs`);
without them Dask is not imported.

``--maps`` adds two image extensions after the primary image (`seeinggan.infer.maps`):
``UNCERTAINTY`` (the spread over the 8 dihedral views, on the output grid with the primary's
WCS, in the primary's flux units) and ``CONSISTENCY`` (the chi map on the input grid with the
input's WCS). The seeing comes from ``--seeing`` or the header (``SEEING``, else ``FWHM``, in
arcsec), the Moffat index from ``--moffat-beta`` or ``PSFBETA`` (``PSFMODEL = 'kolmogorov...'``
selects a Kolmogorov profile), the gain from ``GAIN`` and the sky noise per pixel from
``SKYNOISE``, ``SKYSIG`` or ``SKYRMS`` (else it is measured on the image).
``--maps`` runs each file in memory (not streamed), in this process.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from seeinggan.cli import CliError


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``deblur`` subcommand to ``subparsers``."""
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
    parser.add_argument("--model", default="default", metavar="NAME_OR_FILE",
                        help="a shipped model ('default': fidelity, for science; 'adversarial': realistic "
                             "texture, not for photometry), a saved model's name, or a model file "
                             "(NAME.safetensors or NAME.json); default: default")
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
                          help="leave existing outputs as they are (continue an interrupted run or survey)")
    parser.add_argument("--seeing", type=float, default=None, metavar="ARCSEC",
                        help="seeing FWHM in arcsec (default: the header's SEEING/FWHM/PSF_FWHM keyword; "
                             "else the middle of the model's trained range, with a warning)")
    parser.add_argument("--sky", type=float, default=None, metavar="LEVEL",
                        help="sky level in the input's units per pixel (default: measured on the whole HDU)")
    parser.add_argument("--noise", type=float, default=None, metavar="SIGMA",
                        help="per-pixel noise in the input's units (default: measured on the whole HDU)")
    parser.add_argument("--output-scale", type=float, default=None, metavar="ARCSEC",
                        help="output pixel scale, a whole multiple of the model's (default: the model's own); "
                             "the model's output is binned: smaller files, same network time")
    survey = parser.add_argument_group("surveys")
    survey.add_argument("--catalog", type=Path, default=None, metavar="SOURCES.csv",
                        help="deblur a stamp around each source (CSV columns id,ra,dec in degrees, optional size "
                             "in arcsec) found in any of the images; writes OUTDIR/<id>_deblurred.fits and "
                             "OUTDIR/catalog_results.csv")
    survey.add_argument("--size", type=float, default=7.68, metavar="ARCSEC",
                        help="stamp side for sources without a size (default 7.68: the paper's 256 px at 0.03\"/px)")
    survey.add_argument("--workers", type=int, default=None, metavar="N",
                        help="start a local Dask cluster of N worker processes (one file or catalogue chunk per task)")
    survey.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="use a running Dask scheduler (tcp://host:8786), e.g. from `dask scheduler` or "
                             "dask-jobqueue; seeinggan must be installed on its workers")
    survey.add_argument("--chunk-size", type=int, default=32, metavar="N",
                        help="catalogue sources per task (default 32)")
    parser.add_argument("--maps", action="store_true",
                        help="also write UNCERTAINTY and CONSISTENCY image extensions (8x the network "
                             "work; needs the seeing: --seeing or SEEING/FWHM in the header)")
    parser.add_argument("--clean-cosmic-rays", action="store_true",
                        help="clean cosmic rays and hot pixels first (L.A.Cosmic; single exposures, not "
                             "stacks); needs the gain: GAIN in the header or --gain")
    parser.add_argument("--gain", type=float, default=None, metavar="E_PER_COUNT",
                        help="detector gain in e-/count (default: GAIN in the header)")
    parser.add_argument("--no-support-guard", dest="support_guard", action="store_false",
                        help="keep the network's raw output: by default its fine detail is kept only where "
                             "the input shows significant detail near the seeing scale, and spread over the "
                             "seeing elsewhere (seeinggan.infer.support)")
    parser.add_argument("--moffat-beta", type=float, default=None, metavar="BETA",
                        help="Moffat index of the seeing PSF for --maps (default: PSFBETA in the header, else 3.5)")
    parser.set_defaults(run=run)
    return parser


def output_path(input_path: Path, output_dir: Path) -> Path:
    """``OUTDIR/<stem>_deblurred.fits`` (``.fits``, ``.fits.gz``... stripped from the name)."""
    from seeinggan.io.fits import FITS_SUFFIXES

    name = input_path.name
    for suffix in (*sorted(FITS_SUFFIXES, key=len, reverse=True), ".gz"):  # the longest first
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return output_dir / f"{name}_deblurred.fits"


def _plan(args) -> list[tuple[Path, Path]]:
    """Check every input and output before any work; return (input, output) pairs to do."""
    jobs = []
    resolved_inputs = set()
    for path in args.inputs:
        if not path.exists():
            raise CliError(f"{path}: file not found")
        if not path.is_file():
            raise CliError(f"{path}: not a file")
        resolved_inputs.add(path.resolve())
    seen: dict[Path, Path] = {}
    for path in args.inputs:
        target = output_path(path, args.output_dir)
        if target.resolve() in resolved_inputs:
            raise CliError(f"{target}: the output would overwrite an input; choose another -o OUTDIR")
        if target.exists() and not (args.skip_existing or args.overwrite):
            raise CliError(f"{target}: output exists; remove it, choose another -o OUTDIR, or pass "
                           "--overwrite (or --skip-existing)")
        if target in seen:
            raise CliError(f"{path} and {seen[target]} would both be written to {target}")
        seen[target] = path
        jobs.append((path, target))
    return jobs


def run(args) -> int:
    """Run ``seeinggan deblur``; the exit status."""
    from seeinggan.infer.catalog import image_footprint
    from seeinggan.infer.jobs import DeblurSettings
    from seeinggan.infer.sanity import check_pixel_scale
    from seeinggan.infer.streaming import estimate_output_bytes, output_grid
    from seeinggan.io.atomic import check_output_folder

    if args.pixel_scale is not None:
        check_pixel_scale(args.pixel_scale, what="--pixel-scale")
    for option, value in (("--seeing", args.seeing), ("--noise", args.noise)):
        if value is not None and not value > 0:
            raise CliError(f"{option} must be a positive number, got {value}")
    if args.output_scale is not None and not args.output_scale > 0:
        raise CliError(f"--output-scale must be a positive number of arcsec/px, got {args.output_scale}")
    if args.workers is not None and args.workers < 1:
        raise CliError(f"--workers must be at least 1, got {args.workers}")
    if args.workers is not None and args.scheduler:
        raise CliError("--workers starts a local cluster and --scheduler uses a running one: give one of them")
    if args.chunk_size < 1:
        raise CliError(f"--chunk-size must be at least 1, got {args.chunk_size}")
    if args.maps and (args.catalog is not None or args.workers is not None or args.scheduler
                      or args.output_scale is not None):
        raise CliError("--maps runs files in this process on the model's grid: leave out --catalog, "
                       "--workers, --scheduler and --output-scale")
    if args.gain is not None and not args.gain > 0:
        raise CliError(f"--gain must be a positive number of e-/count, got {args.gain}")
    hdu = int(args.hdu) if args.hdu is not None and str(args.hdu).lstrip("-").isdigit() else args.hdu
    overlap = args.overlap if args.overlap == "auto" else _int_option("--overlap", args.overlap)

    if args.catalog is not None:
        from seeinggan.infer.catalog import read_catalog

        for path in args.inputs:
            if not path.is_file():
                raise CliError(f"{path}: file not found")
        sources = read_catalog(args.catalog, default_size=args.size)
        footprints = [image_footprint(path, hdu=hdu) for path in args.inputs]
        for footprint in footprints:  # each frame is cleaned whole before its stamps are cut
            if args.clean_cosmic_rays and args.gain is None and footprint["gain"] is None:
                raise CliError(f"{footprint['name']}: no GAIN in the header; pass --gain E_PER_COUNT "
                               "for --clean-cosmic-rays")
        from seeinggan.infer.catalog import output_name

        existing = [s.id for s in sources if (args.output_dir / output_name(s.id)).exists()]
        if existing and not args.skip_existing:
            raise CliError(f"{args.output_dir / output_name(existing[0])}: output exists "
                           f"({len(existing)} in all); remove them, choose another -o OUTDIR, or pass "
                           "--skip-existing")
        args.existing_at_start = set(existing)
        jobs = []
    else:
        jobs = _plan(args)
        args.existing_at_start = set() if args.overwrite else {str(t) for _, t in jobs if t.exists()}
        # Headers first: a file without WCS fails before the model is loaded or any work starts.
        footprints = []
        for source, _ in jobs:
            footprint = image_footprint(source, hdu=hdu, require_wcs=False)
            if footprint["wcs"] is None and args.pixel_scale is None:
                raise CliError(f"{footprint['name']}: no celestial WCS in the header; pass --pixel-scale ARCSEC")
            if args.clean_cosmic_rays and args.gain is None and footprint["gain"] is None:
                raise CliError(f"{footprint['name']}: no GAIN in the header; pass --gain E_PER_COUNT "
                               "for --clean-cosmic-rays")
            footprints.append(footprint)

    model = _resolve_model_arg(args.model)
    local_threads = None
    if args.workers:
        local_threads = max(1, (os.cpu_count() or 1) // args.workers)
    settings = DeblurSettings(
        model=model, device=args.device, tile=args.tile,
        overlap=overlap, batch_size=args.batch_size, pixel_scale=args.pixel_scale, hdu=hdu,
        seeing=args.seeing, sky=args.sky, noise=args.noise, overwrite=args.overwrite,
        # Outputs present before the run were refused above unless --skip-existing or --overwrite;
        # one that appears later was written by an earlier attempt of its own task (a lost worker):
        # keep it (with --overwrite the retry writes it again).
        output_pixel_scale=args.output_scale, skip_existing=not args.overwrite, torch_threads=local_threads,
        clean_cosmic_rays=args.clean_cosmic_rays, gain=args.gain, support_guard=args.support_guard,
    )
    if args.workers is None and not args.scheduler:
        # Fail early on a bad model or settings, as before any work.
        from seeinggan.infer.jobs import get_deblurrer

        get_deblurrer(settings)
    # Writable, and room for every output (float32 on the output grid), before any work.
    needed = 0
    if args.catalog is None:
        from seeinggan.models.io import read_metadata, resolve_model

        meta = read_metadata(resolve_model(settings.model))
        model_scale = float(meta.get("pixel_scale_arcsec", 0.03))
        for footprint, (source, target) in zip(footprints, jobs, strict=True):
            if args.skip_existing and target.exists():
                continue
            scale = footprint["pixel_scale"] if footprint["wcs"] is not None else args.pixel_scale
            grid = output_grid(footprint["shape"], input_scale=check_pixel_scale(scale, what=f"{source}: pixel scale"),
                               model_scale=model_scale, output_pixel_scale=args.output_scale)
            needed += estimate_output_bytes(grid["shape"])
    check_output_folder(args.output_dir, needed_bytes=needed, what="the deblurred images")
    if args.catalog is not None:
        return _run_catalog(args, settings, sources, footprints)
    if args.maps:
        return _run_files_with_maps(args, jobs, overlap=overlap, hdu=hdu)
    return _run_files(args, settings, jobs)


def _run_files_with_maps(args, jobs, *, overlap, hdu) -> int:
    """``--maps``: each file deblurred in memory here, with its UNCERTAINTY and CONSISTENCY maps."""
    import warnings

    from tqdm import tqdm

    from seeinggan.infer import Deblurrer
    from seeinggan.infer.deblurrer import history_lines
    from seeinggan.infer.header import deblurred_header
    from seeinggan.io.fits import read_image
    from seeinggan.models.conditions import seeing_from_header

    model = _resolve_model_arg(args.model)
    deblurrer = Deblurrer(model, device=args.device, tile=args.tile, overlap=overlap, batch_size=args.batch_size,
                          support_guard=args.support_guard)
    for source, target in jobs:
        if args.skip_existing and target.exists():
            print(f"kept {target} (finished earlier)")
            continue
        image = read_image(source, hdu=hdu)
        settings = _psf_settings(image, args)
        seeing, seeing_keyword = args.seeing, "--seeing" if args.seeing is not None else None
        if seeing is None:
            found = seeing_from_header(image.header)
            seeing, seeing_keyword = found if found is not None else (settings["seeing"], None)
        settings.pop("seeing")
        header_noise = settings.pop("noise")  # per input pixel, as --noise
        if args.gain is not None:
            settings["gain"] = args.gain
        noise = args.noise if args.noise is not None else header_noise
        with tqdm(desc=image.name, unit="tile", leave=True) as bar:

            def progress(done: int, total: int, bar=bar) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = deblurrer.deblur(
                    image.data, wcs=image.wcs, pixel_scale=None if image.wcs is not None else args.pixel_scale,
                    progress=progress, seeing=seeing, sky=args.sky, noise=noise,
                    uncertainty=True, consistency=True, clean_cosmic_rays=args.clean_cosmic_rays, **settings)
        for warning in caught:
            # One line per warning (out of the trained range, seeing assumed), naming the file.
            print(f"seeinggan deblur: warning: {image.name}: {warning.message}", file=sys.stderr)
        meta = result.metadata
        history = [
            *history_lines(meta),
            f"deblur: {meta['input_pixel_scale']:.4g} -> {meta['pixel_scale']:.4g} arcsec/px, "
            f"device {meta['settings']['device']}",
            f"deblur: input {image.name}",
        ]
        header = deblurred_header(image.header, meta, seeing_keyword=seeing_keyword)
        _write_with_maps(target, result, header, history, overwrite=args.overwrite)
        assert result.maps is not None  # asked for with uncertainty=True, consistency=True
        print(f"wrote {target} ({result.data.shape[1]}x{result.data.shape[0]} px at "
              f"{result.pixel_scale:.4g}\"/px); {result.maps.summary.one_line()}")
    return 0


def _execute(args, units, on_result, *, progress_total: int, unit: str):
    """Run units here or on Dask, with a terminal progress bar counted in files or sources."""
    from tqdm import tqdm

    from seeinggan.infer.jobs import run_here, run_on_dask

    if args.workers is None and not args.scheduler:
        run_here(units, on_result=on_result)
        return
    with tqdm(total=progress_total, unit=unit, desc="survey") as bar:

        def counted(result):
            on_result(result)
            bar.update(len(result) if isinstance(result, list) else 1)

        run_on_dask(units, on_result=counted, workers=args.workers, scheduler=args.scheduler,
                    log=lambda line: tqdm.write(line))


def _run_files(args, settings, jobs) -> int:
    from seeinggan.infer.jobs import deblur_file
    from seeinggan.io.atomic import clean_stale_temporaries

    local = args.workers is None and not args.scheduler
    units: list[tuple[Any, tuple]] = []
    for source, target in jobs:
        if local and not (settings.skip_existing and target.exists()):
            units.append((deblur_file, (str(source), str(target), settings, _tile_bar(source.name))))
        else:
            units.append((deblur_file, (str(source), str(target), settings)))
    failures = []

    def report(result):
        for warning in result.get("warnings", ()):
            # One line per warning (out of the trained range, seeing assumed), naming the file.
            print(f"seeinggan deblur: warning: {Path(result['input']).name}: {warning}", file=sys.stderr)
        if result.get("status") == "ok":
            rows, cols = result["shape"]
            print(f"wrote {result['output']} ({cols}x{rows} px at {result['pixel_scale']:.4g}\"/px, "
                  f"{result['seconds']:.1f} s)")
        elif result.get("status") == "exists" and result["output"] in args.existing_at_start:
            print(f"kept {result['output']} (finished earlier)")
        elif result.get("status") == "exists":
            print(f"wrote {result['output']} (by an earlier attempt of its task)")
        else:
            name = Path(str(result.get("input", ""))).name
            message = result.get("message", "")
            line = message if name and name in message else f"{result.get('input', '?')}: {message}"
            failures.append(line)
            print(f"seeinggan deblur: error: {line}", file=sys.stderr)

    _execute(args, units, report, progress_total=len(units), unit="file")
    clean_stale_temporaries(args.output_dir)  # a killed worker's unfinished file (its task was redone)
    if failures:
        if len(units) > 1:
            print(f"seeinggan deblur: {len(failures)} of {len(units)} files failed", file=sys.stderr)
        return 2
    return 0


def _tile_bar(name: str):
    """A progress callback that opens its tqdm bar on first use and closes it when done."""
    from tqdm import tqdm

    state: dict[str, Any] = {}

    def progress(done: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(desc=name, unit="tile", total=total, leave=True, delay=0.5)
        bar.total = total
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return progress


def _run_catalog(args, settings, sources, footprints) -> int:
    from seeinggan.infer.catalog import outside_row, plan_chunks, write_results
    from seeinggan.infer.jobs import deblur_catalog_chunk
    from seeinggan.io.atomic import clean_stale_temporaries

    chunks, outside = plan_chunks(sources, footprints, chunk_size=args.chunk_size)
    rows = [outside_row(s) for s in outside]
    units = [
        (deblur_catalog_chunk, (fp["path"], fp["hdu"], members, str(args.output_dir), settings))
        for fp, members in chunks
    ]

    def collect(result):
        if isinstance(result, list):
            rows.extend(result)
            return
        # a whole task lost (e.g. its worker crashed repeatedly): its sources are failures
        _, _, members, _, _ = result.get("arguments") or (None, None, [], None, None)
        rows.extend({**outside_row(s), "status": "failed", "message": result.get("message", "")} for s in members)

    _execute(args, units, collect, progress_total=len(sources) - len(outside), unit="source")
    for row in rows:
        if row["status"] == "exists" and row["id"] not in args.existing_at_start:
            row.update(status="ok", message="written by an earlier attempt of its task (a worker was lost)")
    table = write_results(rows, args.output_dir / "catalog_results.csv", order=[s.id for s in sources])
    clean_stale_temporaries(args.output_dir)  # a killed worker's unfinished files (their tasks were redone)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    print(f"wrote {table} ({len(sources)} sources: {summary})")
    for row in rows:
        if row["status"] == "failed":
            print(f"seeinggan deblur: error: source {row['id']}: {row['message']}", file=sys.stderr)
    return 2 if counts.get("failed") else 0


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
    extensions = [uncertainty, consistency]
    if maps.support is not None:
        extensions.append(ImageExtension("SUPPORT", maps.support, maps.support_wcs, {
            "SUPPFRAC": (_finite_or_none(summary.support_fraction), "image share where detail is kept"),
            "COMMENT": ["Support: 1 where the input shows significant (5 sigma) detail",
                        "at FWHM/4-FWHM/2 and the network's detail is kept, 0 where",
                        "that detail was spread over 1.5 FWHM (the support guard).",
                        "Output grid and WCS, as the primary."],
        }))
    write_image(target, result.data, header=header, wcs=result.wcs, history=history,
                extensions=extensions, overwrite=overwrite)  # atomic


def _finite_or_none(value):
    import math

    return value if value is not None and math.isfinite(value) else None


def _resolve_model_arg(value: str) -> str:
    """Resolve ``--model`` to what the jobs take; an unknown name is a one-line error.

    A shipped model's name stays a name (workers find it in their installation); a saved model's
    name or a file becomes the file's absolute path.
    """
    from seeinggan.models.io import ModelFileError, resolve_model, shipped_models_dir

    try:
        path = resolve_model(value)
    except ModelFileError as error:
        raise CliError(str(error)) from None
    if path.parent.resolve() == shipped_models_dir().resolve():
        return path.stem
    return str(path.resolve())
