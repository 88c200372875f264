"""``seeinggan simulate -n N -o DIR --seed S``: write simulated ground/space pairs as FITS.

Writes ``DIR/ground/sim_NNNNN.fits``, ``DIR/space/sim_NNNNN.fits`` and ``DIR/catalogue.csv``
(see `seeinggan.simulate.write_pairs`); with ``--truth`` also ``DIR/truth/sim_NNNNN.fits``, the
noiseless space images (what `seeinggan evaluate` measures flux errors and invented sources
against). Existing files are never overwritten: the command stops before writing anything if one
is in the way.

``seeinggan simulate --suite NAME -o DIR`` writes a stress suite of `seeinggan.evaluate.suites`
(always with ``truth/`` and a ``suite.json``; ``-n`` and ``--seed`` may override the suite's);
``seeinggan simulate --list-suites`` lists them. ``--prior broad`` draws each pair's settings
from a training prior of `seeinggan.simulate.priors` (the options given override the drawn
ones; the evaluation sets' seeds are refused).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
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
    """Add the ``simulate`` subcommand to ``subparsers``."""
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
    parser.add_argument("-n", "--number", type=int, default=None, metavar="N",
                        help="number of pairs (required unless --suite gives it)")
    parser.add_argument("-o", "--output-dir", type=Path, default=None, metavar="DIR",
                        help="output folder (created if missing)")
    parser.add_argument("--seed", type=int, default=None, metavar="S",
                        help="seed of the set (default 0, or the suite's)")
    parser.add_argument("--suite", default=None, metavar="NAME",
                        help="write a stress suite (see --list-suites) with its settings, "
                             "seed, size and noiseless truth")
    parser.add_argument("--prior", default=None, metavar="NAME",
                        help="draw each pair's settings from a training prior (default, broad); "
                             "--seeing/--size/--morphology/--psf override the drawn ones")
    parser.add_argument("--list-suites", action="store_true",
                        help="list the stress suites (name, pairs, seed, what each tests)")
    parser.add_argument("--seeing", type=_seeing, default=None, metavar="LO,HI",
                        help="seeing FWHM range in arcsec, or one value (default 0.5,1.2)")
    parser.add_argument("--size", type=_size, default=None, metavar="PIXELS",
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


def _list_suites() -> int:
    from seeinggan.evaluate.suites import suite_table

    for row in suite_table():
        print(f"{row['name']:<14} {row['n']:>4} pairs  seed {row['seed']:<5}  {row['description']}")
    return 0


def run(args) -> int:
    """Run ``seeinggan simulate``; the exit status."""
    from tqdm import tqdm

    from seeinggan.simulate import write_pairs

    if args.list_suites:
        return _list_suites()
    if args.output_dir is None:
        raise CliError("-o DIR is required: the folder to write the pairs to")
    if args.suite is not None and args.prior is not None:
        raise CliError("give --suite or --prior, not both")
    if args.suite is not None:
        fixed = [flag for flag, value in (("--seeing", args.seeing), ("--size", args.size),
                                          ("--morphology", args.morphology), ("--psf", args.psf),
                                          ("--no-noise", args.no_noise or None))
                 if value is not None]
        if fixed:
            raise CliError(f"--suite {args.suite} fixes the simulator's settings; drop "
                           f"{', '.join(fixed)}")
    elif args.number is None:
        raise CliError("-n N is required (or --suite NAME)")
    if args.number is not None and args.number < 1:
        raise CliError(f"-n must be at least 1, got {args.number}")
    if args.seed is not None and args.seed < 0:
        raise CliError(f"--seed must be non-negative, got {args.seed}")
    bars: list = []

    def progress(done: int, total: int) -> None:
        # The bar opens with the first pair, so a refusal prints only its one line.
        if not bars:
            bars.append(tqdm(total=total, desc="simulating", unit="pair"))
        bars[0].update(done - bars[0].n)

    if args.suite is not None:
        return _write_suite(args, progress, bars)
    if args.prior is not None:
        return _write_prior(args, progress, bars)
    seeing = args.seeing or (0.5, 1.2)
    seeing = seeing[0] if seeing[0] == seeing[1] else seeing
    size = args.size or 256
    directory = _written(lambda: write_pairs(
        args.output_dir, n=args.number, seed=0 if args.seed is None else args.seed,
        space_shape=(size, size), seeing_fwhm=seeing,
        morphology=args.morphology, psf=args.psf, noise=not args.no_noise, truth=args.truth,
        progress=progress,
    ), bars)
    folders = "ground/, space/" + (", truth/" if args.truth else "")
    print(f"wrote {args.number} pairs to {directory}/ ({folders}) and {directory / 'catalogue.csv'}")
    return 0


def _written(write: Callable[[], Path], bars: list) -> Path:
    """The folder ``write()`` filled; a folder that cannot take the pairs is one error line.

    The progress bars close either way.
    """
    try:
        return write()
    except (FileExistsError, NotADirectoryError) as error:
        raise CliError(str(error)) from None
    finally:
        for bar in bars:
            bar.close()


def _write_prior(args, progress, bars) -> int:
    from seeinggan.simulate.catalogue import write_simulated
    from seeinggan.simulate.priors import check_training_seed, get_prior, simulate_from_prior

    seed = 0 if args.seed is None else args.seed
    try:
        prior = get_prior(args.prior)
        check_training_seed(seed)
    except ValueError as error:
        raise CliError(str(error)) from None
    overrides: dict = {}
    if args.seeing is not None:
        overrides["seeing_fwhm"] = args.seeing[0] if args.seeing[0] == args.seeing[1] else args.seeing
    if args.size is not None:
        overrides["space_shape"] = (args.size, args.size)
    if args.morphology is not None:
        overrides["morphology"] = args.morphology
    if args.psf is not None:
        overrides["psf"] = args.psf
    if args.no_noise:
        overrides["noise"] = False

    def simulate(index: int):
        return simulate_from_prior(prior, seed=seed, index=index, **overrides)

    directory = _written(lambda: write_simulated(args.output_dir, simulate, n=args.number,
                                                 truth=args.truth, progress=progress), bars)
    extra = f", {directory / 'truth'}/" if args.truth else ""
    print(f"wrote {args.number} pairs from the {prior.name} prior{extra} and "
          f"{directory / 'catalogue.csv'}")
    return 0


def _write_suite(args, progress, bars) -> int:
    from seeinggan.evaluate.suites import get_suite, write_suite

    try:
        suite = get_suite(args.suite)
    except ValueError as error:
        raise CliError(str(error)) from None
    directory = _written(lambda: write_suite(suite, args.output_dir, n=args.number, seed=args.seed,
                                             progress=progress), bars)
    n = suite.n if args.number is None else args.number
    print(f"wrote suite {suite.name}: {n} pairs (ground/, space/, truth/), "
          f"{directory / 'catalogue.csv'} and {directory / 'suite.json'}")
    return 0
