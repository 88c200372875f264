"""A physically honest simulator of ground/space galaxy image pairs (numpy + scipy FFTs).

- `simulate_pair`: one galaxy of a morphological class (elliptical, bulge+disk, disk, spiral,
  barred spiral, clumpy irregular, merger with tidal tails, or a lone star) seen through an
  HST/ACS F814W-like PSF at 0.03"/px and through seeing (Moffat or Kolmogorov) at 0.202"/px,
  in counts on one flux scale, with noise, TAN WCSs on the same sky position and headers.
- `simulate_field`: a frame with several galaxies and stars, for pairing by WCS.
- `write_pairs`: ``DIR/ground/NAME.fits``, ``DIR/space/NAME.fits`` and ``DIR/catalogue.csv``;
  `write_simulated` writes any simulated pairs the same way.
- `seeinggan.simulate.priors`: priors as data (`PRIORS`: ``"default"``, ``"broad"``), drawn per
  pair by `simulate_from_prior`; the stress suites (`seeinggan.evaluate.suites`) use them.
- `moffat_psf`, `kolmogorov_psf`, `space_psf`: the PSFs as images; `measure_fwhm`.
"""

from seeinggan.simulate.catalogue import (
    CATALOGUE_COLUMNS,
    pair_seed,
    write_pairs,
    write_simulated,
)
from seeinggan.simulate.galaxies import MAG_ZEROPOINT, MORPHOLOGIES
from seeinggan.simulate.observe import GROUND, SPACE, Instrument
from seeinggan.simulate.priors import PRIORS, simulate_from_prior
from seeinggan.simulate.psf import kolmogorov_psf, measure_fwhm, moffat_psf, space_psf
from seeinggan.simulate.scenes import (
    COSMOS_CENTER,
    SPACE_PSF_FWHM,
    SimulatedPair,
    ground_shape_for,
    simulate_field,
    simulate_pair,
)

__all__ = [
    "CATALOGUE_COLUMNS",
    "COSMOS_CENTER",
    "GROUND",
    "MAG_ZEROPOINT",
    "MORPHOLOGIES",
    "PRIORS",
    "SPACE",
    "SPACE_PSF_FWHM",
    "Instrument",
    "SimulatedPair",
    "ground_shape_for",
    "kolmogorov_psf",
    "measure_fwhm",
    "moffat_psf",
    "pair_seed",
    "simulate_field",
    "simulate_from_prior",
    "simulate_pair",
    "space_psf",
    "write_pairs",
    "write_simulated",
]
