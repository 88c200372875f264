"""Write simulated pairs to a folder: FITS images and a CSV catalogue of their parameters.

Layout (what `seeinggan.data.folder_pairs` reads)::

    DIR/ground/NAME.fits   ground image (0.202"/px, WCS, SEEING, ...)
    DIR/space/NAME.fits    space image (0.03"/px, WCS, ...)
    DIR/truth/NAME.fits    (``truth=True`` only) the noiseless space image: the space PSF, no
                           noise, the space image's WCS and keywords (``TRUTH = T``)
    DIR/catalogue.csv      one row per pair: name, seed, class, seeing_fwhm, flux, sizes, ...

Pair ``i`` of a folder written with seed ``s`` is ``simulate_pair(seed=pair_seed(s, i))`` (the
seed is in the catalogue), the same derivation as `seeinggan.data`'s simulated streams.
`write_simulated` writes any sequence of already simulated pairs the same way (the stress
suites of `seeinggan.evaluate.suites` use it).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seeinggan.progress import ProgressCallback, StopCallback, check_stop
from seeinggan.simulate.scenes import SimulatedPair, simulate_pair
from seeinggan.units import AngleLike, to_arcsec

__all__ = ["CATALOGUE_COLUMNS", "catalogue_row", "pair_seed", "write_pairs", "write_simulated"]

CATALOGUE_COLUMNS = (
    "name", "seed", "class", "seeing_fwhm", "psf_model", "moffat_beta", "mag", "flux",
    "r_e", "axis_ratio", "position_angle", "sersic_n", "bulge_to_total", "bulge_r_e",
    "arms", "pitch_angle", "bar_length", "n_clumps", "clump_fraction", "flux_ratio",
    "separation", "progenitors", "field_stars", "ra", "dec", "space_flux_in_stamp",
    "ground_flux_in_stamp", "space_sky_noise", "ground_sky_noise", "space_shape",
    "ground_shape", "ground_file", "space_file", "truth_file", "ground_pixel_scale",
    "psf_ellipticity", "psf_angle", "space_noise", "peak_snr", "scene", "params",
)
"""Columns of ``catalogue.csv`` (empty where a class has no such parameter; ``params`` holds
every drawn parameter as JSON)."""


def pair_seed(seed: int, index: int) -> int:
    """Simulator seed of pair ``index`` of a set written with ``seed`` (non-negative 63-bit)."""
    if index < 0:
        raise IndexError(f"index must be non-negative, got {index}")
    state = np.random.SeedSequence([int(seed), int(index)]).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(1))


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def catalogue_row(name: str, pair: SimulatedPair, *, ground_file: str = "",
                  space_file: str = "", truth_file: str = "") -> dict[str, Any]:
    """The catalogue row of one pair (columns `CATALOGUE_COLUMNS`)."""
    params = pair.params
    row: dict[str, Any] = {column: "" for column in CATALOGUE_COLUMNS}
    for column in CATALOGUE_COLUMNS:
        value = params.get(column)
        if value is not None and not isinstance(value, (list, dict)):
            row[column] = _plain(value)
    row.update(
        name=name,
        space_flux_in_stamp=float(np.sum(pair.truth, dtype=np.float64)),
        ground_flux_in_stamp=float(np.sum(pair.ground_noiseless, dtype=np.float64)),
        space_shape="x".join(str(n) for n in pair.space.shape),
        ground_shape="x".join(str(n) for n in pair.ground.shape),
        ground_file=ground_file,
        space_file=space_file,
        truth_file=truth_file,
        params=json.dumps(_plain(params), sort_keys=True),
    )
    return row


def _truth_header(pair: SimulatedPair):
    """The space image's keywords, marked as the noiseless truth."""
    header = pair.space_header.copy()
    header["OBJECT"] = (f"{header['OBJECT']} (noiseless truth)", "")
    header["TRUTH"] = (True, "noiseless: space PSF, no noise, no sky")
    header["SKYNOISE"] = (0.0, "[count] noiseless")
    return header


def write_pairs(
    directory: str | os.PathLike,
    *,
    n: int,
    seed: int,
    space_shape: Sequence[int] = (256, 256),
    seeing_fwhm: AngleLike | Sequence[float] = (0.5, 1.2),
    truth: bool = False,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
    **simulate_kwargs: Any,
) -> Path:
    """Simulate ``n`` pairs and write them as FITS files with a CSV catalogue.

    Parameters
    ----------
    directory : str or path-like
        Output folder (created). Gets ``ground/``, ``space/``, ``catalogue.csv`` (and
        ``truth/`` with ``truth=True``).
    n : int
        Number of pairs.
    seed : int
        Seed of the set; pair ``i`` uses ``pair_seed(seed, i)``.
    space_shape : tuple of int, optional
        Space stamp shape (the ground stamp follows).
    seeing_fwhm : float, (low, high) or astropy Quantity, optional
        Seeing FWHM in arcsec (or an angle Quantity), or its range.
    truth : bool, optional
        Also write ``truth/NAME.fits``: the noiseless space image (space PSF, no noise) on the
        space image's grid and WCS, for fidelity checks (`seeinggan.evaluate` uses it as the
        reference for flux errors and invented sources). Default False.
    overwrite : bool, optional
        Replace existing files. Default False: any existing output file raises
        `FileExistsError` before anything is written.
    progress, should_stop : callable, optional
        ``progress(done, n)`` after each pair; ``should_stop()`` polled before each pair
        (raises `seeinggan.Cancelled`; the pairs written so far stay, with their catalogue rows).
    **simulate_kwargs
        Passed on to `simulate_pair` (``morphology``, ``psf``, ``noise``...).

    Returns
    -------
    pathlib.Path
        The folder.
    """
    if int(n) < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    if "seed" in simulate_kwargs:
        raise TypeError("pass the set's seed as seed=; each pair's seed is derived from it")
    seeing_fwhm = to_arcsec(seeing_fwhm, name="seeing_fwhm")

    def simulate(index: int) -> SimulatedPair:
        return simulate_pair(seed=pair_seed(seed, index), space_shape=space_shape,
                             seeing_fwhm=seeing_fwhm, **simulate_kwargs)

    return write_simulated(directory, simulate, n=int(n), truth=truth, overwrite=overwrite,
                           progress=progress, should_stop=should_stop)


def write_simulated(
    directory: str | os.PathLike,
    simulate: Callable[[int], SimulatedPair],
    *,
    n: int,
    truth: bool = True,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
) -> Path:
    """Write ``n`` simulated pairs, ``simulate(i)`` for ``i < n``, as `write_pairs` does.

    Pair ``i`` is ``sim_{i:05d}`` in ``ground/``, ``space/`` (and ``truth/``) with its row in
    ``catalogue.csv``; pairs are simulated one at a time (memory stays one pair). Existing
    files raise `FileExistsError` before anything is written unless ``overwrite``.
    """
    from seeinggan.errors import OutputExistsError
    from seeinggan.io.atomic import atomic_open
    from seeinggan.io.fits import write_image

    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"{root}: exists and is not a directory")
    names = [f"sim_{i:05d}" for i in range(int(n))]
    catalogue = root / "catalogue.csv"
    parts = ("ground", "space", "truth") if truth else ("ground", "space")
    targets = [catalogue] + [root / part / f"{name}.fits" for name in names for part in parts]
    existing = [path for path in targets if path.exists()]
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise OutputExistsError(
            f"{existing[0]} already exists{more}; refusing to overwrite simulated pairs "
            "(choose an empty directory or remove the old files)"
        )
    for part in parts:
        (root / part).mkdir(parents=True, exist_ok=True)
    # The catalogue appears (atomically) when the set is complete; each image is atomic too.
    with atomic_open(catalogue, "w", newline="", overwrite=True) as handle:
        writer = csv.DictWriter(handle, fieldnames=CATALOGUE_COLUMNS)
        writer.writeheader()
        for index, name in enumerate(names):
            check_stop(should_stop)
            pair = simulate(index)
            history = (f"simulated pair {name}: class {pair.params['class']}, "
                       f"seed {pair.params['seed']}")
            ground_file = Path("ground") / f"{name}.fits"
            space_file = Path("space") / f"{name}.fits"
            write_image(root / ground_file, pair.ground, header=pair.ground_header,
                        wcs=pair.ground_wcs, history=history, overwrite=overwrite)
            write_image(root / space_file, pair.space, header=pair.space_header,
                        wcs=pair.space_wcs, history=history, overwrite=overwrite)
            truth_file = ""
            if truth:
                truth_file = (Path("truth") / f"{name}.fits").as_posix()
                write_image(root / truth_file, pair.truth, header=_truth_header(pair),
                            wcs=pair.space_wcs, history=history + ", noiseless truth",
                            overwrite=overwrite)
            writer.writerow(catalogue_row(name, pair, ground_file=ground_file.as_posix(),
                                          space_file=space_file.as_posix(), truth_file=truth_file))
            handle.flush()
            if progress is not None:
                progress(index + 1, len(names))
    return root
