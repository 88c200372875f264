"""``seeinggan simulate -n N -o DIR --seed S``: write simulated ground/space pairs as FITS.

Writes ``DIR/ground/sim_NNNNN.fits``, ``DIR/space/sim_NNNNN.fits`` and ``DIR/catalogue.csv``
(see `seeinggan.simulate.write_pairs`); with ``--truth`` also ``DIR/truth/sim_NNNNN.fits``, the
noiseless space images (what `seeinggan evaluate` measures flux errors and invented sources against). Existing files are never overwritten: the command stops
before writing anything if one is in the way.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seeinggan.cli import CliError


def _seeing(text: str) -> tuple[float, float]:
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--seeing takes LO,HI or one value in arcsec, got {text!r}") from None
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or not 0 < parts[0] <= parts[1]:
        raise argparse.ArgumentTypeError(
            f"--seeing takes LO,HI with 0 < LO <= HI (arcsec), got {text!r}")
    return parts[0], parts[1]


def _size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--size takes a whole number of pixels, got {text!r}") from None
    if value < 16:
        raise argparse.ArgumentTypeError(f"--size must be at least 16 pixels, got {value}")
    return value


def add_parser(subparsers) -> argparse.ArgumentParser:
    from seeinggan.simulate import MORPHOLOGIES

    parser = subparsers.add_parser(
        "simulate",
        help="write simulated ground/space galaxy pairs (FITS + catalogue)",
        description=(
            "Simulate galaxies seen from the ground (seeing, 0.202\"/px) and from space "
            "(HST-like, 0.03\"/px) and write DIR/ground/NAME.fits, DIR/space/NAME.fits and "
            "DIR/catalogue.csv (with --truth also DIR/truth/NAME.fits, the noiseless space image). "
            "Deterministic for a seed; never overwrites."
        ),
    )
    parser.add_argument("-n", "--number", type=int, required=True, metavar="N",
                        help="number of pairs")
    parser.add_argument("-o", "--output-dir", type=Path, required=True, metavar="DIR",
                        help="output folder (created if missing)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="seed of the set (default 0)")
    parser.add_argument("--seeing", type=_seeing, default=(0.5, 1.2), metavar="LO,HI",
                        help="seeing FWHM range in arcsec, or one value (default 0.5,1.2)")
    parser.add_argument("--size", type=_size, default=256, metavar="PIXELS",
                        help="space stamp side in 0.03\" pixels (default 256; ground side follows)")
    parser.add_argument("--morphology", choices=MORPHOLOGIES, default=None,
                        help="one class for all pairs (default: a random mix)")
    parser.add_argument("--psf", choices=("moffat", "kolmogorov"), default=None,
                        help="seeing PSF model (default: a random mix)")
    parser.add_argument("--no-noise", action="store_true", help="write noiseless images")
    parser.add_argument("--truth", action="store_true",
                        help="also write DIR/truth/NAME.fits: the noiseless space image (space PSF, "
                             "same WCS), the reference of `seeinggan evaluate`'s fidelity checks")
    parser.set_defaults(run=run)
    return parser


def run(args) -> int:
    from tqdm import tqdm

    from seeinggan.simulate import write_pairs

    if args.number < 1:
        raise CliError(f"-n must be at least 1, got {args.number}")
    if args.seed < 0:
        raise CliError(f"--seed must be non-negative, got {args.seed}")
    seeing = args.seeing[0] if args.seeing[0] == args.seeing[1] else args.seeing
    bars: list = []

    def progress(done: int, total: int) -> None:
        # The bar opens with the first pair, so a refusal prints only its one line.
        if not bars:
            bars.append(tqdm(total=total, desc="simulating", unit="pair"))
        bars[0].update(done - bars[0].n)

    try:
        directory = write_pairs(
            args.output_dir, n=args.number, seed=args.seed,
            space_shape=(args.size, args.size), seeing_fwhm=seeing,
            morphology=args.morphology, psf=args.psf, noise=not args.no_noise, truth=args.truth,
            progress=progress,
        )
    except (FileExistsError, NotADirectoryError) as error:
        raise CliError(str(error)) from None
    finally:
        for bar in bars:
            bar.close()
    extra = f", {directory / 'truth'}/" if args.truth else ""
    print(f"wrote {args.number} pairs{extra} and {directory / 'catalogue.csv'}")
    return 0
