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

from seeinggan.constants import GROUND_PIXEL_SCALE, SPACE_PIXEL_SCALE
from seeinggan.simulate.galaxies import MAG_ZEROPOINT

__all__ = [
    "DRIZZLE",
    "GROUND",
    "SPACE",
    "Instrument",
    "add_correlated_noise",
    "add_noise",
    "drizzle_kernel",
    "instrument_header",
    "instruments_at_scales",
]


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
    pixel_scale=SPACE_PIXEL_SCALE,
    gain=14.0,
    read_noise=3.5,
    sky=1.1,  # 22.3 mag/arcsec^2 zodiacal light in 0.0009 arcsec^2
)
GROUND = Instrument(
    label="ground",
    telescope="SIMULATED",
    instrument="SIMULATED Subaru/Suprime-Cam-like",
    filter="r'",
    pixel_scale=GROUND_PIXEL_SCALE,
    gain=600.0,
    read_noise=30.0,
    sky=196.0,  # 20.8 mag/arcsec^2 in 0.0408 arcsec^2
)


def instruments_at_scales(space_scale: float, ground_scale: float) -> tuple[Instrument, Instrument]:
    """`SPACE` and `GROUND` with other pixel scales (arcsec/px); the sky per pixel scales with the area."""
    from dataclasses import replace

    space = SPACE if space_scale == SPACE.pixel_scale else replace(
        SPACE, pixel_scale=space_scale, sky=SPACE.sky * (space_scale / SPACE.pixel_scale) ** 2)
    ground = GROUND if ground_scale == GROUND.pixel_scale else replace(
        GROUND, pixel_scale=ground_scale,
        sky=GROUND.sky * (ground_scale / GROUND.pixel_scale) ** 2)
    return space, ground


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


DRIZZLE = {"native_pixel_arcsec": 0.05, "pixfrac": 0.8}
"""The drizzle of `drizzle_kernel`: ACS/WFC 0.05" pixels drizzled to 0.03" with pixfrac 0.8
(the COSMOS F814W mosaics: Koekemoer et al. 2007)."""


def drizzle_kernel(*, output_scale: float = SPACE_PIXEL_SCALE, native_scale: float = 0.05,
                   pixfrac: float = 0.8) -> np.ndarray:
    """The kernel that correlates drizzled noise: a drop's mean footprint on the output grid.

    Drizzling spreads each native pixel's value over a square "drop" of side
    ``pixfrac * native_scale`` that lands at a random sub-pixel position of the output grid;
    the output pixels it overlaps share its noise. The kernel is the drop's overlap with the
    output pixels, averaged over uniformly distributed sub-pixel positions: separable, 1-D
    ``(box_d * box_1 * box_1)(n)`` at integer ``n`` (``d`` the drop side in output pixels).

    Parameters
    ----------
    output_scale, native_scale : float, optional
        Arcsec per pixel of the drizzled image and of the detector.
    pixfrac : float, optional
        Drop side as a fraction of the native pixel.

    Returns
    -------
    numpy.ndarray
        Odd-sided, centred 2-D kernel of unit sum.
    """
    for name, value in (("output_scale", output_scale), ("native_scale", native_scale),
                        ("pixfrac", pixfrac)):
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    drop = pixfrac * native_scale / output_scale
    half = int(np.ceil(drop / 2.0 + 1.0))
    offsets = np.arange(-half, half + 1, dtype=float)
    phases = (np.arange(2000) + 0.5) / 2000 - 0.5
    lo = np.maximum(phases[:, None] - drop / 2.0, offsets[None, :] - 0.5)
    hi = np.minimum(phases[:, None] + drop / 2.0, offsets[None, :] + 0.5)
    one_d = np.clip(hi - lo, 0.0, None).mean(axis=0)
    one_d = one_d[one_d > 1e-12] if one_d[0] <= 1e-12 else one_d
    one_d /= one_d.sum()
    return np.outer(one_d, one_d)


def add_correlated_noise(expected: np.ndarray, instrument: Instrument, rng: np.random.Generator,
                         kernel: np.ndarray) -> np.ndarray:
    """Noise as `add_noise`, then correlated by ``kernel`` and scaled back to its own rms.

    The noise field (Poisson from source and sky, Gaussian read noise; drawn on the image
    padded by the kernel's radius so the edges are like the interior) is convolved with the
    kernel and divided by ``sqrt(sum(kernel^2))``: a blank pixel's standard deviation stays
    `Instrument.sky_noise` (the ``SKYNOISE`` keyword), and neighbouring pixels correlate as in
    a drizzled image. Sky-subtracted, float32, expectation ``expected``.
    """
    from scipy import signal

    kernel = np.asarray(kernel, dtype=float)
    pad_y, pad_x = kernel.shape[0] // 2, kernel.shape[1] // 2
    padded = np.pad(np.asarray(expected, dtype=np.float64), ((pad_y, pad_y), (pad_x, pad_x)),
                    mode="edge")
    white = add_noise(padded, instrument, rng).astype(np.float64) - padded
    correlated = signal.fftconvolve(white, kernel, mode="valid") / np.sqrt(np.sum(kernel**2))
    return (np.asarray(expected, dtype=np.float64) + correlated).astype(np.float32)


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
