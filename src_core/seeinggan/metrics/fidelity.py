"""Fidelity metrics that texture cannot game.

Errors per spatial-frequency band, Fourier ring correlation, texture about a smooth model, and
periodic peaks in a power spectrum.

CW-SSIM (and SSIM/PSNR) reward texture of the right energy wherever it sits; the measures here
compare the test with the reference *phase by phase* (band error, FRC) or measure power that
should not be there (band power ratio, texture rms, periodic peak). All are numpy only (FFTs from
`numpy.fft`, Gaussian smoothing from `scipy.ndimage`), NaN-aware, and take images already on one
pixel grid in the same flux units (resample first with `seeinggan.geometry.resample_to_grid`).

Conventions shared by the Fourier measures (`band_error`, `band_power_ratio`,
`fourier_ring_correlation`, `periodic_peak`):

- pixels that are NaN/inf in either image, or ``mask``-ed (True = excluded), are left out of both:
  each image's mean over the *common* valid pixels is subtracted and the left-out pixels are set
  to 0 (that mean), so a hole is the same hole in both images and the constant sky level does not
  leak into low frequencies;
- both images are multiplied by one separable Hann window (``numpy.hanning`` per axis) before the
  FFT, so the stamp's edges do not put a cross of power along the frequency axes;
- spatial frequencies are radial, ``hypot(fy, fx)`` in cycles per arcsec with
  ``f = numpy.fft.fftfreq(n, d=pixel_scale)``.

See ``docs/metrics.md`` for definitions, defaults and a measured example of CW-SSIM being gamed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from seeinggan.units import AngleLike, to_arcsec

__all__ = [
    "FRC_THRESHOLD",
    "RESTORATION_BAND",
    "TEXTURE_BAND",
    "TEXTURE_SCALE_ARCSEC",
    "FRCResolution",
    "PeriodicPeak",
    "band_error",
    "band_power_ratio",
    "fidelity_scores",
    "fourier_ring_correlation",
    "frc_resolution",
    "periodic_peak",
    "texture_residual_rms",
    "texture_rms",
]

RESTORATION_BAND = (0.5, 2.0)
"""The restoration band in units of 1/FWHM: 0.5/FWHM to 2/FWHM cycles per arcsec, the spatial
frequencies that the seeing attenuated but did not erase (what a deblurrer must put back)."""
TEXTURE_BAND = (2.0, math.inf)
"""The texture-realism band in units of 1/FWHM: from 2/FWHM up to the Nyquist frequency of the
grid, beyond what the seeing leaves: power there is invented or taken from a prior."""
FRC_THRESHOLD = 0.5
"""The Fourier ring correlation below which a frequency counts as not restored."""
TEXTURE_SCALE_ARCSEC = 0.5
"""Default Gaussian sigma (arcsec) of the smooth model in `texture_rms`."""
PERIODIC_MIN_CYCLES = 3
"""`periodic_peak` ignores frequencies below this many cycles across the image."""


# ---------------------------------------------------------------------------------------------
# Shared preparation
# ---------------------------------------------------------------------------------------------


def _as_image(data, name: str) -> np.ndarray:
    array = np.asarray(data)
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected a real image array, got dtype {array.dtype}")
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D image, got shape {array.shape}")
    return array


def _valid_pixels(images: list[np.ndarray], mask) -> np.ndarray:
    valid = np.ones(images[0].shape, dtype=bool)
    for image in images:
        valid &= np.isfinite(image)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != valid.shape:
            raise ValueError(f"mask shape {mask.shape} differs from the images' {valid.shape}")
        valid &= ~mask
    if not valid.any():
        raise ValueError("no pixel is finite (and unmasked) in both images; nothing to score")
    return valid


def _pair(test, reference, mask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    test = _as_image(test, "test")
    reference = _as_image(reference, "reference")
    if test.shape != reference.shape:
        raise ValueError(
            f"test and reference differ in shape: {test.shape} and {reference.shape}"
            " (resample the test onto the reference grid first)"
        )
    valid = _valid_pixels([test, reference], mask)
    return test, reference, valid


def _hann(shape: tuple[int, int]) -> np.ndarray:
    rows, cols = shape
    # numpy.hanning(n) is 0 at both ends; n + 2 points with the ends dropped keep every pixel.
    return np.outer(np.hanning(rows + 2)[1:-1], np.hanning(cols + 2)[1:-1])


def _spectrum(image: np.ndarray, valid: np.ndarray, window: np.ndarray) -> np.ndarray:
    centred = np.where(valid, image - image[valid].mean(), 0.0)
    return np.fft.fft2(centred * window)


def _radial_frequency(shape: tuple[int, int], pixel_scale: float) -> np.ndarray:
    if not (pixel_scale > 0 and math.isfinite(pixel_scale)):
        raise ValueError(
            f"pixel_scale must be a positive number of arcsec per pixel, got {pixel_scale!r}"
        )
    fy = np.fft.fftfreq(shape[0], d=pixel_scale)
    fx = np.fft.fftfreq(shape[1], d=pixel_scale)
    return np.hypot(fy[:, None], fx[None, :])


def _band_mask(
    shape, *, pixel_scale: float, seeing_fwhm: float, band: tuple[float, float]
) -> np.ndarray:
    if not (seeing_fwhm > 0 and math.isfinite(seeing_fwhm)):
        raise ValueError(f"seeing_fwhm must be a positive number of arcsec, got {seeing_fwhm!r}")
    low, high = (float(b) for b in band)
    if not (0 <= low < high):
        raise ValueError(
            f"band must be (low, high) with 0 <= low < high (in units of 1/FWHM), got {band!r}"
        )
    frequency = _radial_frequency(shape, pixel_scale)
    nyquist = 0.5 / pixel_scale
    f_low, f_high = low / seeing_fwhm, min(high / seeing_fwhm, nyquist)
    inside = (frequency >= f_low) & (frequency <= f_high)
    if not inside.any():
        raise ValueError(
            f'no spatial frequency of a {shape[0]} x {shape[1]} image at {pixel_scale:g}"/px lies in the band '
            f'{f_low:.3g}-{high / seeing_fwhm:.3g} cycles/arcsec (seeing {seeing_fwhm:g}"; Nyquist {nyquist:.3g}): '
            "the stamp is too small or the pixels too coarse for this band"
        )
    return inside


def _band_powers(test, reference, *, pixel_scale, seeing_fwhm, band, mask):
    """Both spectra inside the band; the scales may be Quantities (converted here, once)."""
    pixel_scale = to_arcsec(pixel_scale, name="pixel_scale", per_pixel=True)
    seeing_fwhm = to_arcsec(seeing_fwhm, name="seeing_fwhm")
    test, reference, valid = _pair(test, reference, mask)
    window = _hann(test.shape)
    spectrum_test = _spectrum(test, valid, window)
    spectrum_reference = _spectrum(reference, valid, window)
    inside = _band_mask(test.shape, pixel_scale=pixel_scale, seeing_fwhm=seeing_fwhm, band=band)
    return spectrum_test[inside], spectrum_reference[inside]


# ---------------------------------------------------------------------------------------------
# Band error and band power
# ---------------------------------------------------------------------------------------------


def band_error(
    test,
    reference,
    *,
    pixel_scale: AngleLike,
    seeing_fwhm: AngleLike,
    band: tuple[float, float] = RESTORATION_BAND,
    mask=None,
) -> float:
    r"""Relative error of ``test`` against ``reference`` in a band of spatial frequencies.

    .. math::

        E = \frac{\sum_{f \in B} |X(f) - T(f)|^2}{\sum_{f \in B} |T(f)|^2},
        \qquad B = \{ f : b_0 / \mathrm{FWHM} \le |f| \le b_1 / \mathrm{FWHM} \}

    with :math:`X`, :math:`T` the Hann-apodised FFTs of the mean-subtracted test and reference
    (module docstring) and :math:`|f|` in cycles per arcsec (the band's top is clipped at the
    grid's Nyquist frequency, ``0.5 / pixel_scale``). With the default band, 0.5/FWHM to 2/FWHM,
    it is the error in what the seeing removed: 0 for a perfect restoration, about the
    power-weighted mean of :math:`(1 - \mathrm{MTF})^2` for the blurred image itself (1 where the
    seeing erased everything), and above 1 when the test adds structure that the reference does
    not have (texture of the right energy at the wrong places scores about 2). Phase-sensitive:
    moved, rotated or invented structure counts as error.

    Parameters
    ----------
    test, reference : array_like
        2-D images on one grid, in the same flux units (a common scale factor cancels; an offset
        is removed with the mean).
    pixel_scale : float or astropy Quantity
        Arcsec per pixel of the grid (or an angle per pixel, `seeinggan.units`).
    seeing_fwhm : float or astropy Quantity
        FWHM of the seeing (arcsec, or an angle) that sets the band.
    band : (float, float), optional
        Band edges in units of 1/FWHM (`RESTORATION_BAND`); ``math.inf`` as the top means up to
        Nyquist.
    mask : array_like of bool, optional
        True where pixels are excluded (as are pixels non-finite in either image).

    Returns
    -------
    float
        The band error; NaN when the reference has no power in the band.

    Raises
    ------
    ValueError
        Shapes differ, no valid pixel, or the band holds no frequency of this grid.
    """
    x, t = _band_powers(test, reference, pixel_scale=pixel_scale, seeing_fwhm=seeing_fwhm, band=band, mask=mask)
    denominator = float(np.sum(np.abs(t) ** 2))
    if denominator <= 0:
        return float("nan")
    return float(np.sum(np.abs(x - t) ** 2)) / denominator


def band_power_ratio(
    test,
    reference,
    *,
    pixel_scale: AngleLike,
    seeing_fwhm: AngleLike,
    band: tuple[float, float] = RESTORATION_BAND,
    mask=None,
) -> float:
    r"""Power of ``test`` over the power of ``reference`` in a band of spatial frequencies.

    :math:`\sum_{f \in B} |X(f)|^2 / \sum_{f \in B} |T(f)|^2`, with the same spectra and band as
    `band_error`. 1 when the test holds as much structure as the reference in the band (right or
    wrong: pair it with `band_error`), below 1 for a blurred image (about the power-weighted mean
    of :math:`\mathrm{MTF}^2`), above 1 for added texture or amplified noise. With
    ``band=TEXTURE_BAND`` (2/FWHM up to Nyquist) against the noiseless truth it is the
    texture-realism measure: how much fine structure the output shows compared with the truth.

    Parameters and errors as `band_error`.

    Returns
    -------
    float
        The power ratio; NaN when the reference has no power in the band.
    """
    x, t = _band_powers(test, reference, pixel_scale=pixel_scale, seeing_fwhm=seeing_fwhm, band=band, mask=mask)
    denominator = float(np.sum(np.abs(t) ** 2))
    if denominator <= 0:
        return float("nan")
    return float(np.sum(np.abs(x) ** 2)) / denominator


# ---------------------------------------------------------------------------------------------
# Fourier ring correlation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FRCResolution:
    """Where the Fourier ring correlation first falls below the threshold.

    Attributes
    ----------
    frequency : float
        Cycles per arcsec (linear interpolation between the two rings either side of the
        crossing); the Nyquist frequency when the FRC never falls below the threshold.
    scale_arcsec : float
        ``1 / frequency``: the period (arcsec) of the finest structure that agrees with the
        reference; smaller is better.
    reached : bool
        False when the FRC stays above the threshold up to Nyquist (``frequency`` is then a
        lower bound).
    """

    frequency: float
    scale_arcsec: float
    reached: bool


def fourier_ring_correlation(
    a, b, *, pixel_scale: AngleLike, mask=None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Fourier ring correlation of two images, per ring of spatial frequency.

    .. math::

        \mathrm{FRC}(r) = \frac{\mathrm{Re}\sum_{f \in r} A(f) B^*(f)}
                               {\sqrt{\sum_{f \in r} |A(f)|^2 \sum_{f \in r} |B(f)|^2}}

    with :math:`A`, :math:`B` the Hann-apodised FFTs of the mean-subtracted images (module
    docstring). Rings are one frequency step wide, ``1 / (n * pixel_scale)`` with ``n`` the
    shorter side, from 0 up to Nyquist (``0.5 / pixel_scale``); the first ring (the mean, removed)
    is dropped. 1 for identical images, about 0 (within :math:`\sim 1/\sqrt{N_\mathrm{ring}}`) for
    independent noise, negative for structure in anti-phase.

    Parameters
    ----------
    a, b : array_like
        2-D images on one grid.
    pixel_scale : float or astropy Quantity
        Arcsec per pixel.
    mask : array_like of bool, optional
        True where pixels are excluded.

    Returns
    -------
    frequencies, frc : numpy.ndarray
        Ring centres in cycles per arcsec, and the FRC of each ring (NaN where a ring has no
        power in one image).
    """
    pixel_scale = to_arcsec(pixel_scale, name="pixel_scale", per_pixel=True)
    a, b, valid = _pair(a, b, mask)
    window = _hann(a.shape)
    spectrum_a, spectrum_b = _spectrum(a, valid, window), _spectrum(b, valid, window)
    frequency = _radial_frequency(a.shape, pixel_scale)
    step = 1.0 / (min(a.shape) * pixel_scale)
    nyquist = 0.5 / pixel_scale
    rings = np.rint(frequency / step).astype(int)
    n_rings = math.floor(nyquist / step + 1e-9) + 1
    keep = rings < n_rings
    index = rings[keep]
    cross = np.bincount(
        index, weights=(spectrum_a * np.conj(spectrum_b)).real[keep], minlength=n_rings
    )
    power_a = np.bincount(index, weights=(np.abs(spectrum_a) ** 2)[keep], minlength=n_rings)
    power_b = np.bincount(index, weights=(np.abs(spectrum_b) ** 2)[keep], minlength=n_rings)
    with np.errstate(invalid="ignore", divide="ignore"):
        frc = cross / np.sqrt(power_a * power_b)
    frc[~((power_a > 0) & (power_b > 0))] = np.nan
    frequencies = np.arange(n_rings) * step
    return frequencies[1:], frc[1:]


def frc_resolution(
    a, b, *, pixel_scale: AngleLike, threshold: float = FRC_THRESHOLD, mask=None
) -> FRCResolution:
    """The spatial frequency where the FRC of ``a`` and ``b`` first falls below ``threshold``, and its scale.

    The Fourier ring correlation is `fourier_ring_correlation`.

    Parameters
    ----------
    a, b : array_like
        2-D images on one grid (the test and the reference).
    pixel_scale : float or astropy Quantity
        Arcsec per pixel.
    threshold : float, optional
        The FRC level (default 0.5, `FRC_THRESHOLD`).
    mask : array_like of bool, optional
        True where pixels are excluded.

    Returns
    -------
    FRCResolution
        ``frequency`` (cycles/arcsec), ``scale_arcsec`` (1 / frequency) and ``reached``.
    """
    pixel_scale = to_arcsec(pixel_scale, name="pixel_scale", per_pixel=True)
    frequencies, frc = fourier_ring_correlation(a, b, pixel_scale=pixel_scale, mask=mask)
    values = np.where(
        np.isfinite(frc), frc, -np.inf
    )  # a ring without power correlates with nothing
    below = np.flatnonzero(values < threshold)
    if below.size == 0:
        nyquist = 0.5 / pixel_scale
        return FRCResolution(
            frequency=float(nyquist), scale_arcsec=float(1.0 / nyquist), reached=False
        )
    i = int(below[0])
    if i == 0 or not np.isfinite(frc[i]):
        frequency = float(frequencies[i])
    else:
        f0, f1, v0, v1 = frequencies[i - 1], frequencies[i], frc[i - 1], frc[i]
        frequency = float(f0 + (v0 - threshold) / (v0 - v1) * (f1 - f0))
    return FRCResolution(frequency=frequency, scale_arcsec=float(1.0 / frequency), reached=True)


# ---------------------------------------------------------------------------------------------
# Texture about a smooth model
# ---------------------------------------------------------------------------------------------


def _smooth_nan_aware(image: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """Normalised Gaussian convolution of the valid pixels (``mode="nearest"``)."""
    if valid.all():
        return ndimage.gaussian_filter(image, sigma, mode="nearest")
    weights = ndimage.gaussian_filter(valid.astype(np.float64), sigma, mode="nearest")
    values = ndimage.gaussian_filter(np.where(valid, image, 0.0), sigma, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        return values / weights


def texture_residual_rms(
    image, *, pixel_scale: AngleLike, scale_arcsec: AngleLike = TEXTURE_SCALE_ARCSEC, mask=None, where=None
) -> float:
    """Rms of ``image`` about its own smooth model.

    ``image - G_sigma * image`` over the pixels of ``where`` (default: every valid pixel), ``sigma =
    scale_arcsec / pixel_scale`` pixels.

    The smooth model is a normalised (NaN-aware) Gaussian convolution, so holes neither bias it
    nor count. See `texture_rms` for the relative measure.
    """
    pixel_scale = to_arcsec(pixel_scale, name="pixel_scale", per_pixel=True)
    scale_arcsec = to_arcsec(scale_arcsec, name="scale_arcsec")
    data = _as_image(image, "image")
    valid = _valid_pixels([data], mask)
    if not (scale_arcsec > 0 and pixel_scale > 0):
        raise ValueError(
            f"scale_arcsec and pixel_scale must be positive, got {scale_arcsec!r}, {pixel_scale!r}"
        )
    smooth = _smooth_nan_aware(data, valid, scale_arcsec / pixel_scale)
    inside = valid if where is None else valid & np.asarray(where, dtype=bool)
    if not inside.any():
        raise ValueError("no valid pixel in the region where texture is measured")
    residual = (data - smooth)[inside]
    return float(np.sqrt(np.mean(residual**2)))


def texture_rms(
    image,
    reference,
    *,
    pixel_scale: AngleLike,
    scale_arcsec: AngleLike = TEXTURE_SCALE_ARCSEC,
    mask=None,
    where=None,
) -> float:
    r"""Mottling: the rms of ``image`` about a smooth model of itself, over the same for the reference.

    .. math::

        \tau = \frac{\mathrm{rms}_{p \in W}\,[I - G_\sigma * I](p)}{\mathrm{rms}_{p \in W}\,[R - G_\sigma * R](p)}

    with :math:`G_\sigma` a Gaussian of ``sigma = scale_arcsec / pixel_scale`` pixels (default
    0.5", `TEXTURE_SCALE_ARCSEC`: the galaxy's smooth profile survives it, clumps, knots, noise
    and cellular mottling do not), NaN-aware, and :math:`W` the pixels of ``where`` valid in both
    images (default all of them; the evaluation passes the galaxy's aperture). 1 when the image is
    as textured as the reference; below 1 for a smoother image (the seeing-blurred ground image);
    above 1 for invented texture (the issue's real galaxy: 3.4). Against a noisy reference the
    reference's noise counts as its texture; against the noiseless truth only its real structure.

    Parameters
    ----------
    image, reference : array_like
        2-D images on one grid, same flux units.
    pixel_scale : float or astropy Quantity
        Arcsec per pixel.
    scale_arcsec : float, optional
        Gaussian sigma of the smooth model, arcsec.
    mask, where : array_like of bool, optional
        ``mask``: True where excluded; ``where``: True where texture is measured.

    Returns
    -------
    float
        The ratio; NaN when the reference has no texture (a constant).
    """
    image, reference, valid = _pair(image, reference, mask)
    excluded = ~valid
    own = texture_residual_rms(
        image, pixel_scale=pixel_scale, scale_arcsec=scale_arcsec, mask=excluded, where=where
    )
    theirs = texture_residual_rms(
        reference, pixel_scale=pixel_scale, scale_arcsec=scale_arcsec, mask=excluded, where=where
    )
    return own / theirs if theirs > 0 else float("nan")


# ---------------------------------------------------------------------------------------------
# Periodic peaks
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodicPeak:
    """The strongest isolated peak of a power spectrum over its azimuthal neighbourhood.

    Attributes
    ----------
    strength : float
        The peak's power over the median power of its ring (same radial frequency). For white
        noise the largest such ratio over a 256 x 256 spectrum is about 15-25 (the maximum of
        ~30,000 exponential variables over their median); a lattice stands far above that.
    period : float
        ``1 / |f|`` in pixels of the peak's frequency (16 for a lattice of 16-pixel cells along
        an axis).
    frequency : (float, float)
        ``(fy, fx)`` of the peak, cycles per pixel (the peak and its mirror image are one peak).
    """

    strength: float
    period: float
    frequency: tuple[float, float]


def periodic_peak(image, *, mask=None, min_cycles: float = PERIODIC_MIN_CYCLES) -> PeriodicPeak:
    """The strongest isolated peak in the power spectrum of ``image`` (meant for blank sky).

    The image's mean is subtracted over its valid pixels, holes are set to 0, a Hann window is
    applied, and the power spectrum :math:`P = |F|^2` is divided by the median of :math:`P` over
    its ring (frequencies within half a step of the same radius, in cycles per pixel). The largest
    ratio, among frequencies of at least ``min_cycles`` cycles across the shorter side, is the
    peak. A lattice (a 16-pixel grid from an upsampling path, seams at the tile stride) puts its
    power into a few isolated frequencies; noise, however coloured, spreads over whole rings.

    Parameters
    ----------
    image : array_like
        A 2-D image, ideally blank sky or a residual (test minus reference).
    mask : array_like of bool, optional
        True where pixels are excluded.
    min_cycles : float, optional
        Lowest frequency considered, in cycles across the image (default 3), so the image's
        largest structures and the window's own leakage do not count.

    Returns
    -------
    PeriodicPeak
    """
    data = _as_image(image, "image")
    valid = _valid_pixels([data], mask)
    spectrum = _spectrum(data, valid, _hann(data.shape))
    power = np.abs(spectrum) ** 2
    fy = np.fft.fftfreq(data.shape[0])
    fx = np.fft.fftfreq(data.shape[1])
    radius = np.hypot(fy[:, None], fx[None, :])
    step = 1.0 / min(data.shape)
    rings = np.rint(radius / step).astype(int)
    considered = (radius >= min_cycles * step) & (radius <= 0.5)
    if not considered.any():
        raise ValueError(f"image {data.shape} too small for min_cycles={min_cycles}")
    # Ring medians, by sorting the powers of each ring.
    n_rings = int(rings.max()) + 1
    flat_rings, flat_power = rings.ravel(), power.ravel()
    order = np.lexsort((flat_power, flat_rings))
    counts = np.bincount(flat_rings, minlength=n_rings)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    sorted_power = flat_power[order]
    medians = np.full(n_rings, np.nan)
    filled = counts > 0
    lower = sorted_power[starts[filled] + (counts[filled] - 1) // 2]
    upper = sorted_power[starts[filled] + counts[filled] // 2]
    medians[filled] = 0.5 * (lower + upper)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = power / medians[rings]
    ratio = np.where(considered & np.isfinite(ratio), ratio, -np.inf)
    iy, ix = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    strength = float(ratio[iy, ix])
    if not math.isfinite(strength):  # a constant image: no power anywhere
        return PeriodicPeak(
            strength=float("nan"), period=float("nan"), frequency=(float("nan"), float("nan"))
        )
    peak_fy, peak_fx = float(fy[iy]), float(fx[ix])
    if peak_fy < 0 or (peak_fy == 0 and peak_fx < 0):  # report one of the mirror pair
        peak_fy, peak_fx = -peak_fy, -peak_fx
    return PeriodicPeak(
        strength=strength,
        period=float(1.0 / math.hypot(peak_fy, peak_fx)),
        frequency=(peak_fy, peak_fx),
    )


# ---------------------------------------------------------------------------------------------
# All of them for one pair
# ---------------------------------------------------------------------------------------------


def fidelity_scores(
    test,
    reference,
    *,
    pixel_scale: AngleLike,
    seeing_fwhm: AngleLike,
    band: tuple[float, float] = RESTORATION_BAND,
    texture_band: tuple[float, float] = TEXTURE_BAND,
    texture_scale_arcsec: AngleLike = TEXTURE_SCALE_ARCSEC,
    mask=None,
    where=None,
) -> dict[str, Any]:
    """Every fidelity measure of ``test`` against ``reference``, for one pair.

    Parameters
    ----------
    test, reference : array_like
        2-D images on one grid, same flux units.
    pixel_scale : float or astropy Quantity
        Arcsec per pixel (or an angle per pixel, `seeinggan.units`).
    seeing_fwhm : float or astropy Quantity
        The seeing FWHM (arcsec, or an angle) of the image that was restored.
    band, texture_band : (float, float), optional
        Restoration band and texture-realism band, in units of 1/FWHM.
    texture_scale_arcsec : float, optional
        Smoothing of `texture_rms`.
    mask : array_like of bool, optional
        True where pixels are excluded.
    where : array_like of bool, optional
        Where `texture_rms` is measured (e.g. the galaxy's aperture); default everywhere.

    Returns
    -------
    dict
        ``band_error``, ``band_power_ratio`` (`band_error`/`band_power_ratio` in ``band``),
        ``texture_power_ratio`` (`band_power_ratio` in ``texture_band``; NaN when the band lies
        beyond this grid's Nyquist), ``frc_frequency`` (cycles/arcsec), ``frc_scale_arcsec``,
        ``frc_reached``, ``texture_rms``, and ``residual_peak_strength`` /
        ``residual_peak_period`` (`periodic_peak` of ``test - reference``: a lattice the test
        added).
    """
    pixel_scale = to_arcsec(pixel_scale, name="pixel_scale", per_pixel=True)
    seeing_fwhm = to_arcsec(seeing_fwhm, name="seeing_fwhm")
    common = {"pixel_scale": pixel_scale, "seeing_fwhm": seeing_fwhm, "mask": mask}
    test, reference, valid = _pair(test, reference, mask)
    try:
        texture_power = band_power_ratio(test, reference, band=texture_band, **common)
    except ValueError:
        if float(texture_band[0]) / seeing_fwhm <= 0.5 / pixel_scale:
            raise
        texture_power = float("nan")
    resolution = frc_resolution(test, reference, pixel_scale=pixel_scale, mask=mask)
    peak = periodic_peak(test - reference, mask=~valid)
    return {
        "band_error": band_error(test, reference, band=band, **common),
        "band_power_ratio": band_power_ratio(test, reference, band=band, **common),
        "texture_power_ratio": texture_power,
        "frc_frequency": resolution.frequency,
        "frc_scale_arcsec": resolution.scale_arcsec,
        "frc_reached": resolution.reached,
        "texture_rms": texture_rms(
            test,
            reference,
            pixel_scale=pixel_scale,
            scale_arcsec=texture_scale_arcsec,
            mask=mask,
            where=where,
        ),
        "residual_peak_strength": peak.strength,
        "residual_peak_period": peak.period,
    }
