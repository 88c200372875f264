"""Observing: the instruments' pixels, noise and headers.

Both instruments count in the same units (`MAG_ZEROPOINT`: a source of AB magnitude 30 gives 1
count in total), so a galaxy's total counts agree between the ground and the space image; each
instrument's depth is set by its effective gain (electrons per count, i.e. exposure), sky level
and read noise. Images are sky-subtracted after noise is added, as reduced survey images are:
``SKYLEVEL`` in the header is the level that was there and was removed.

The depths follow COSMOS: ACS F814W reaches a 5 sigma point source depth near I_AB = 27.2 in a
0.24" aperture (sky noise ~0.37 count per 0.03" pixel here); Suprime-Cam r' reaches about 26.5
(5 sigma, 2" aperture) under a dark sky of 20.8 mag/arcsec^2 (~0.57 count per 0.202" pixel).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.io import fits

from seeinggan.simulate.galaxies import MAG_ZEROPOINT

__all__ = ["GROUND", "SPACE", "Instrument", "add_noise", "instrument_header"]


@dataclass(frozen=True)
class Instrument:
    """What an image's pixels, sky and detector are like.

    Attributes
    ----------
    label : str
        "ground" or "space".
    telescope, instrument, filter : str
        Header values (``TELESCOP``, ``INSTRUME``, ``FILTER``).
    pixel_scale : float
        Arcsec per pixel.
    gain : float
        Electrons per count (the effective exposure of the stacked image).
    read_noise : float
        Electrons per pixel (of the stack).
    sky : float
        Sky level, counts per pixel.
    """

    label: str
    telescope: str
    instrument: str
    filter: str
    pixel_scale: float
    gain: float
    read_noise: float
    sky: float

    def sky_noise(self) -> float:
        """Standard deviation of a blank pixel, counts."""
        return float(np.sqrt(self.sky / self.gain + (self.read_noise / self.gain) ** 2))


SPACE = Instrument(
    label="space",
    telescope="SIMULATED",
    instrument="SIMULATED HST/ACS-WFC-like",
    filter="F814W",
    pixel_scale=0.03,
    gain=14.0,
    read_noise=3.5,
    sky=1.1,  # 22.3 mag/arcsec^2 zodiacal light in 0.0009 arcsec^2
)
GROUND = Instrument(
    label="ground",
    telescope="SIMULATED",
    instrument="SIMULATED Subaru/Suprime-Cam-like",
    filter="r'",
    pixel_scale=0.202,
    gain=600.0,
    read_noise=30.0,
    sky=196.0,  # 20.8 mag/arcsec^2 in 0.0408 arcsec^2
)


def add_noise(expected: np.ndarray, instrument: Instrument, rng: np.random.Generator, *,
              subtract_sky: bool = True) -> np.ndarray:
    """A noisy image: Poisson electrons from source and sky, Gaussian read noise.

    Parameters
    ----------
    expected : numpy.ndarray
        Noiseless counts per pixel (sky-free).
    instrument : Instrument
        Gain, sky, read noise.
    rng : numpy.random.Generator
        Noise source (deterministic for its seed).
    subtract_sky : bool, optional
        Remove the known sky level afterwards (default), as a reduced image.

    Returns
    -------
    numpy.ndarray
        float32 counts per pixel; its expectation is ``expected`` (plus the sky if kept).
    """
    electrons_expected = (np.clip(expected, 0.0, None) + instrument.sky) * instrument.gain
    electrons = rng.poisson(electrons_expected).astype(np.float64)
    electrons += rng.normal(0.0, instrument.read_noise, size=expected.shape)
    counts = electrons / instrument.gain
    # Keep the (tiny, ringing) negative parts of the noiseless image: the expectation is exact.
    counts += np.minimum(expected, 0.0)
    if subtract_sky:
        counts -= instrument.sky
    return counts.astype(np.float32)


def instrument_header(instrument: Instrument, *, seeing_fwhm: float, psf_model: str,
                      morphology: str, seed: int, extra: dict | None = None) -> fits.Header:
    """The simulator's keywords for one image (the WCS is added by the FITS writer)."""
    header = fits.Header()
    header["TELESCOP"] = (instrument.telescope, "simulated by seeinggan.simulate")
    header["INSTRUME"] = (instrument.instrument, "what the simulation imitates")
    header["FILTER"] = (instrument.filter, "band imitated")
    header["OBJECT"] = (f"simulated {morphology}", "")
    header["BUNIT"] = ("count", f"counts per pixel; AB mag {MAG_ZEROPOINT:g} = 1 count")
    header["MAGZP"] = (MAG_ZEROPOINT, "AB magnitude of 1 count")
    header["PIXSCALE"] = (instrument.pixel_scale, "[arcsec/pixel]")
    header["SEEING"] = (round(float(seeing_fwhm), 5), "[arcsec] FWHM of the PSF")
    header["PSFMODEL"] = (psf_model, "PSF of the simulation")
    header["GAIN"] = (instrument.gain, "[e-/count] effective gain of the stack")
    header["RDNOISE"] = (instrument.read_noise, "[e-] read noise per pixel")
    header["SKYLEVEL"] = (instrument.sky, "[count/pixel] sky level, subtracted")
    header["SKYSUB"] = (True, "sky level subtracted after noise was added")
    header["SKYNOISE"] = (round(instrument.sky_noise(), 5), "[count] std of a blank pixel")
    header["MORPHCLS"] = (morphology, "morphological class of the simulated object")
    header["SEED"] = (int(seed), "seeinggan.simulate seed")
    for key, value in (extra or {}).items():
        header[key] = value
    return header
