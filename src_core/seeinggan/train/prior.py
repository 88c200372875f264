"""The broad training prior of the fidelity model (issue 9): what ground images it must handle.

One simulated training pair of stream ``(seed, index)``, drawn from a prior wider than the
simulator's defaults, so that the model meets in training the images users bring:

- ground pixel scales log-uniform in 0.15-0.6"/px (HSC, DECam, Suprime-Cam, SDSS, INT-like);
- seeing FWHM uniform in 0.4-1.6", Moffat (beta 2-5) or Kolmogorov, half each;
- a fifth of the stamps are crowded fields (4-14 galaxies and 0-4 stars over the stamp), the
  rest single galaxies near the centre (`seeinggan.simulate.simulate_pair`);
- a sixth of the single galaxies are smooth (elliptical or bulge+disk) and made 10-300 times
  brighter (peak S/N up to ~10^4): the noiseless ground image is scaled and given fresh
  Poisson + read noise of the ground instrument, the truth scaled alike.

Every pair keeps its noiseless truth (the training target) and its ground PSF on the space
grid (seeing convolved with the ground pixel; `seeinggan.evaluate.ground_psf_on_space_grid`),
which the data-consistency loss re-blurs with.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from seeinggan.constants import SPACE_PIXEL_SCALE

__all__ = ["BROAD_PRIOR", "simulate_training_pair"]

BROAD_PRIOR: dict[str, Any] = {
    "ground_pixel_scale": (0.15, 0.6),
    "seeing_fwhm": (0.4, 1.6),
    "moffat_beta": (2.0, 5.0),
    "field_fraction": 0.2,
    "bright_fraction": 1.0 / 6.0,
    "bright_boost": (10.0, 300.0),
}
"""Ranges of the broad prior (arcsec/px, arcsec, Moffat beta, fractions, flux factors)."""


def simulate_training_pair(seed: int, index: int, prior: dict[str, Any] | None = None):
    """Pair ``index`` of the broad-prior stream ``seed`` (a `seeinggan.data.Pair` with truth and psf)."""
    from seeinggan.data.pairs import make_pair
    from seeinggan.evaluate.baselines import ground_psf_on_space_grid
    from seeinggan.simulate import pair_seed, simulate_field, simulate_pair
    from seeinggan.simulate.observe import add_noise, instruments_at_scales

    prior = {**BROAD_PRIOR, **(prior or {})}
    sim_seed = pair_seed(seed, index)
    rng = np.random.default_rng([sim_seed, 77])
    lo, hi = prior["ground_pixel_scale"]
    ground_scale = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    common: dict[str, Any] = dict(
        seed=sim_seed,
        ground_pixel_scale=ground_scale,
        seeing_fwhm=tuple(prior["seeing_fwhm"]),
        moffat_beta=tuple(prior["moffat_beta"]),
    )
    kind = "single"
    boost = 1.0
    if rng.uniform() < prior["field_fraction"]:
        kind = "field"
        simulation = simulate_field(
            space_shape=(256, 256), n_galaxies=int(rng.integers(4, 15)), n_stars=int(rng.integers(0, 5)), **common
        )
    elif rng.uniform() < prior["bright_fraction"]:
        kind = "bright"
        simulation = simulate_pair(morphology=str(rng.choice(["elliptical", "bulge+disk"])), **common)
        boost = float(math.exp(rng.uniform(*np.log(prior["bright_boost"]))))
    else:
        simulation = simulate_pair(**common)
    ground, truth = simulation.ground, simulation.truth
    if boost != 1.0:
        _, ground_instrument = instruments_at_scales(SPACE_PIXEL_SCALE, ground_scale)
        ground = add_noise(simulation.ground_noiseless * boost, ground_instrument, rng)
        truth = simulation.truth * boost
    meta = {
        "name": f"prior_{seed}_{index:06d}",
        "source": "simulated",
        "class": simulation.params["class"],
        "kind": kind,
        "boost": boost,
        "seeing_fwhm": float(simulation.params["seeing_fwhm"]),
        "psf_model": simulation.params["psf_model"],
        "moffat_beta": float(simulation.params["moffat_beta"] or 3.5),
    }
    pair = make_pair(ground, simulation.ground_wcs, simulation.space * boost, simulation.space_wcs,
                     meta=meta, truth=truth)
    pair.psf = ground_psf_on_space_grid(pair.meta, max_side=127).astype(np.float32)
    return pair
