"""Stress suites: deterministic simulated test sets where real data differ from the training set.

Each suite is data: a `seeinggan.simulate.priors.Prior` (a table of simulator settings, most at
`simulate_pair`'s defaults, one axis stressed), a number of pairs and a stream seed. Pair ``i``
of a suite is ``simulate_from_prior(suite.prior, seed=suite.seed, index=i)``: settings drawn with
``SeedSequence([seed, i, 0x5E77])``, the simulator seeded with ``pair_seed(seed, i)``. Every
pair has its noiseless truth (``pair.truth``; ``truth/NAME.fits`` when written).

=============== ==== ==== =============================================================
suite            n   seed  what it stresses
=============== ==== ==== =============================================================
heldout          100 1000 today's held-out set (``seeinggan simulate -n 100 --seed 1000``)
bright_smooth    300 9101 ellipticals and S0s, Sersic n 2-8, peak S/N 30-10^4, up to 3x
                          the stamp, no substructure
deep_field       300 9102 crowded faint galaxies (I_AB 21-26.5) and stars
pixel_scales     300 9103 ground pixels 0.15-0.6"/px (HSC, DECam, SDSS, INT WFC-like)
cutouts          300 9104 galaxy-filled stamps: no blank sky (true sky and noise in the
                          headers: SKYLEVEL, SKYNOISE)
psf              300 9105 Moffat beta 2-5, Kolmogorov, slightly elliptical, seeing 0.4-1.6"
space_noise      300 9106 drizzle-correlated noise in the space image
=============== ==== ==== =============================================================

The ``"broad"`` training prior of `seeinggan.simulate.priors` covers every suite's settings
(a test checks it) and refuses their seeds.

API: `SUITES` (name -> `Suite`), `simulate_suite` (a lazy, indexable sequence of
`seeinggan.simulate.SimulatedPair`), `write_suite` (``ground/``, ``space/``, ``truth/``,
``catalogue.csv`` and ``suite.json``, as `seeinggan.simulate.write_pairs` writes them), and
`pair_fingerprint` (the figures the tests pin). CLI: ``seeinggan simulate --suite NAME -o DIR``
and ``seeinggan simulate --list-suites``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seeinggan.progress import ProgressCallback, StopCallback
from seeinggan.simulate.priors import (
    EVALUATION_SEEDS,
    GROUND_PIXEL_SCALES,
    SCENES,
    Choice,
    LogUniform,
    Prior,
    Uniform,
    draw_settings,
    simulate_settings,
)

__all__ = [
    "SUITES",
    "Suite",
    "SuitePairs",
    "pair_fingerprint",
    "simulate_suite",
    "suite_table",
    "write_suite",
]


@dataclass(frozen=True)
class Suite:
    """A stress suite: what it tests, how many pairs, its seed, and its prior (the settings).

    Attributes
    ----------
    name : str
    description : str
        What it tests, one line.
    n : int
        Pairs in the suite.
    seed : int
        Stream seed (reserved in `seeinggan.simulate.priors.EVALUATION_SEEDS`).
    prior : Prior
        The simulator settings, as data.
    """

    name: str
    description: str
    n: int
    seed: int
    prior: Prior

    def settings(self) -> list[dict[str, str]]:
        """The prior's settings table (scene, weight, setting, value)."""
        return self.prior.settings_table()


def _suite(name: str, description: str, n: int, *, common=None, scene: str = "galaxies") -> Suite:
    prior = Prior(name, description, common=dict(common or {}), scenes=((1.0, SCENES[scene]),))
    return Suite(name, description, n, EVALUATION_SEEDS[name], prior)


SUITES: dict[str, Suite] = {
    suite.name: suite
    for suite in (
        _suite("heldout",
               "today's held-out set: the standard galaxy mix at 0.202\"/px, seeing 0.5-1.2\"",
               100),
        _suite("bright_smooth",
               "ellipticals and S0s at peak S/N 30-10^4, Sersic n 2-8, half-light diameter up "
               "to 3x the stamp, no substructure to find",
               300, scene="bright_smooth"),
        _suite("deep_field",
               "crowded deep fields: 5-16 faint galaxies (I_AB 21-26.5) and 1-5 stars per stamp",
               300, scene="deep_field"),
        _suite("pixel_scales",
               "ground pixels 0.15-0.6\"/px: HSC 0.168, Suprime-Cam 0.202, DECam 0.263, "
               "INT WFC 0.333, SDSS 0.396 and log-uniform between",
               300,
               common={"ground_pixel_scale": Choice(
                   (*GROUND_PIXEL_SCALES.values(), LogUniform(0.15, 0.6)),
                   (1, 1, 1, 1, 1, 3))}),
        _suite("cutouts",
               "galaxy-filled stamps (r_e 2.5-10\"): sky and noise cannot be measured in the "
               "stamp; their true values are in the headers (SKYLEVEL, SKYNOISE)",
               300, scene="cutout"),
        _suite("psf",
               "seeing PSFs: Moffat beta 2-5 or Kolmogorov, 2/3 slightly elliptical (reduced "
               "shear 0.02-0.1), seeing 0.4-1.6\"",
               300,
               common={"seeing_fwhm": Uniform(0.4, 1.6),
                       "psf": Choice(("moffat", "kolmogorov")),
                       "moffat_beta": Uniform(2.0, 5.0),
                       "psf_ellipticity": Choice((0.0, Uniform(0.02, 0.1)), (1, 2))}),
        _suite("space_noise",
               "drizzle-correlated noise in the space image (pixfrac 0.8, 0.05\" -> 0.03\"), "
               "the standard galaxy mix",
               300, common={"space_noise": "drizzle"}),
    )
}
"""The stress suites by name."""


def get_suite(name: str | Suite) -> Suite:
    """A `Suite` by name, with a one-line error naming the known suites."""
    if isinstance(name, Suite):
        return name
    try:
        return SUITES[str(name)]
    except KeyError:
        raise ValueError(f"unknown suite {name!r}; choose one of {', '.join(SUITES)}") from None


class SuitePairs(Sequence):
    """The pairs of a suite, simulated when asked for (item ``i`` is always the same pair)."""

    def __init__(self, suite: Suite, *, n: int, seed: int):
        if int(n) < 0:
            raise ValueError(f"n must be non-negative, got {n}")
        if int(seed) < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        self.suite, self.n, self.seed = suite, int(n), int(seed)

    def __len__(self) -> int:
        return self.n

    def settings(self, index: int) -> dict[str, Any]:
        """The drawn settings of pair ``index``."""
        return draw_settings(self.suite.prior, seed=self.seed, index=self._index(index))

    def _index(self, index: int) -> int:
        index = int(index)
        if index < 0:
            index += self.n
        if not 0 <= index < self.n:
            raise IndexError(f"pair {index} out of range for {self.n} pairs of {self.suite.name}")
        return index

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.n))]
        from seeinggan.simulate.catalogue import pair_seed

        index = self._index(index)
        pair = simulate_settings(self.settings(index), seed=pair_seed(self.seed, index))
        pair.params["suite"] = self.suite.name
        return pair

    def __iter__(self) -> Iterator[Any]:
        for index in range(self.n):
            yield self[index]

    def __repr__(self) -> str:
        return f"SuitePairs({self.suite.name!r}, n={self.n}, seed={self.seed})"


def simulate_suite(name: str | Suite, *, n: int | None = None, seed: int | None = None) -> SuitePairs:
    """The pairs of a stress suite (lazy; deterministic).

    Parameters
    ----------
    name : str or Suite
        A name in `SUITES`.
    n : int, optional
        Number of pairs (default the suite's). The first ``k`` pairs do not depend on ``n``.
    seed : int, optional
        Stream seed (default the suite's; another seed gives another set like it).

    Returns
    -------
    SuitePairs
        A sequence of `seeinggan.simulate.SimulatedPair` (with ``truth``); ``params`` record
        ``suite``, ``scene`` and the drawn ``settings``.
    """
    suite = get_suite(name)
    return SuitePairs(suite, n=suite.n if n is None else n, seed=suite.seed if seed is None else seed)


def write_suite(
    name: str | Suite,
    directory: str | os.PathLike,
    *,
    n: int | None = None,
    seed: int | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
) -> Path:
    """Write a suite as a pairs folder: ``ground/``, ``space/``, ``truth/``, ``catalogue.csv``.

    The layout is `seeinggan.simulate.write_pairs`'s (so ``seeinggan evaluate DIR`` and
    `seeinggan.data.folder_pairs` read it), plus ``suite.json``: the suite's name, description,
    n, seed and settings table. Ground headers hold the true sky that was subtracted
    (``SKYLEVEL``, count/pixel, with ``SKYSUB = T``) and a blank pixel's rms (``SKYNOISE``).

    Parameters
    ----------
    name : str or Suite
    directory : path
        Output folder (created).
    n, seed : int, optional
        As in `simulate_suite`.
    overwrite : bool, optional
        Replace existing files (default: refuse before writing anything).
    progress, should_stop : callable, optional
        As in `write_pairs`.

    Returns
    -------
    pathlib.Path
    """
    from seeinggan.io.atomic import atomic_write_text
    from seeinggan.simulate.catalogue import write_simulated

    pairs = simulate_suite(name, n=n, seed=seed)
    root = Path(directory)
    info_path = root / "suite.json"
    if info_path.exists() and not overwrite:
        raise FileExistsError(f"{info_path} already exists; refusing to overwrite a suite")
    write_simulated(root, pairs.__getitem__, n=len(pairs), truth=True, overwrite=overwrite,
                    progress=progress, should_stop=should_stop)
    suite = pairs.suite
    info = {"suite": suite.name, "description": suite.description, "n": len(pairs),
            "seed": pairs.seed, "settings": suite.settings()}
    atomic_write_text(info_path, json.dumps(info, indent=1) + "\n", overwrite=True)  # refused above if unwanted
    return root


def pair_fingerprint(pair: Any) -> dict[str, list[float]]:
    """Figures that change with any pixel of ``truth`` and ``ground`` (a tolerant checksum).

    For each image: the sum, the sum of squares, the sums weighted by column and by row, and the
    central pixel, in float64. Unlike a hash of the bytes they survive last-bit differences in
    FFTs between machines; the tests compare them with a relative tolerance of 1e-6.
    """
    figures = {}
    for name in ("truth", "ground"):
        a = np.asarray(getattr(pair, name), dtype=np.float64)
        y, x = np.indices(a.shape)
        figures[name] = [float(a.sum()), float((a * a).sum()), float((a * x).sum()),
                         float((a * y).sum()), float(a[a.shape[0] // 2, a.shape[1] // 2])]
    return figures


def suite_table() -> list[dict[str, Any]]:
    """One row per suite: ``name``, ``n``, ``seed``, ``description`` (for ``--list-suites``)."""
    return [{"name": s.name, "n": s.n, "seed": s.seed, "description": s.description}
            for s in SUITES.values()]
