"""Point-spread functions of the simulator: seeing (Moffat, Kolmogorov) and an HST/ACS-like PSF.

Every PSF here is a normalised kernel (sum 1) of point samples of the continuous PSF at pixel
centres. The scene the simulator convolves is already integrated over its pixels, so sampling
the PSF (rather than integrating it) keeps the pixel response counted once.

Two forms of each PSF exist:

- centred images (`moffat_psf`, `kolmogorov_psf`, `space_psf`) for users and tests;
- transfer functions on a periodic FFT grid (`optical_transfer_function`), used by the
  simulator. They are truncated at a radius (``truncate``, arcsec) and renormalised so that the
  circular convolution on a zero-padded grid never wraps light back into the stamp.

Any seeing PSF may be slightly elliptical (``ellipticity`` = reduced shear ``g = (a - b) / (a + b)``
of its isophotes, major axis at ``angle`` degrees counter-clockwise from +x towards +y): the round
profile is sheared by an area-preserving map, so ``fwhm`` is the geometric mean of the FWHMs along
the major and minor axes and the PSF keeps unit sum. Moffat PSFs are sheared in real space,
Kolmogorov ones in Fourier space (the transfer function at ``S f`` for the shear ``S``).
``ellipticity=0`` is the circular PSF, computed exactly as before the option existed.

`measure_fwhm` fits a pixel-integrated circular Moffat to a star image, which is how the tests
check that a simulated star has the requested seeing.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

import numpy as np
from scipy import fft as sfft
from scipy import optimize, special

from seeinggan.constants import SPACE_PIXEL_SCALE
from seeinggan.units import AngleLike, to_arcsec

__all__ = [
    "HST_F814W",
    "KOLMOGOROV_FWHM_FACTOR",
    "PsfModel",
    "kolmogorov_psf",
    "measure_fwhm",
    "moffat_alpha",
    "moffat_psf",
    "optical_transfer_function",
    "shear_matrix",
    "space_psf",
]

PsfModel = Literal["moffat", "kolmogorov", "space"]

KOLMOGOROV_FWHM_FACTOR = 0.975865
"""FWHM of the long-exposure Kolmogorov PSF in units of lambda / r0 (as in GalSim)."""

HST_F814W: dict[str, Any] = {
    "aperture_m": 2.4,
    "obscuration": 0.33,  # linear central obstruction of HST's secondary mirror
    "wavelengths_um": (0.72, 0.76, 0.80, 0.84, 0.88),  # spans F814W: the rings wash out
    "native_pixel_arcsec": 0.05,  # ACS/WFC detector pixel, drizzled to 0.03"
    # Gaussian blur standing for charge diffusion, pointing jitter and the drizzle kernel;
    # chosen so that the total PSF has FWHM 0.095" as the drizzled COSMOS F814W PSF.
    "blur_sigma_arcsec": 0.0265,
}
"""The parameters of `space_psf` (HST ACS/WFC F814W, drizzled to 0.03"/px as COSMOS)."""


# ---------------------------------------------------------------------------------------------
# radial profiles
# ---------------------------------------------------------------------------------------------


def moffat_alpha(fwhm: float, beta: float) -> float:
    """Moffat core width ``alpha`` (same unit as ``fwhm``) for a given FWHM and ``beta``."""
    return fwhm / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))


def _moffat_image(r2: np.ndarray, fwhm: float, beta: float) -> np.ndarray:
    alpha = moffat_alpha(fwhm, beta)
    return (1.0 + r2 / alpha**2) ** (-beta)


def _obscured_airy(theta_arcsec: np.ndarray, *, wavelength_um: float, aperture_m: float,
                   obscuration: float) -> np.ndarray:
    """Intensity of an obscured circular aperture's diffraction pattern (1 at the centre)."""
    lam_over_d = wavelength_um * 1e-6 / aperture_m * 206264.806  # arcsec
    v = np.pi * theta_arcsec / lam_over_d
    eps = obscuration
    with np.errstate(invalid="ignore", divide="ignore"):
        term = np.where(v > 1e-8, 2.0 * special.j1(v) / np.where(v > 1e-8, v, 1.0), 1.0)
        ev = eps * v
        term_o = np.where(ev > 1e-8, 2.0 * special.j1(ev) / np.where(ev > 1e-8, ev, 1.0), 1.0)
    amplitude = (term - eps**2 * term_o) / (1.0 - eps**2)
    return amplitude**2


# ---------------------------------------------------------------------------------------------
# grids
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _wrapped_r2(shape: tuple[int, int], pixel_scale: float) -> np.ndarray:
    """Squared distance (arcsec^2) of each pixel of a periodic grid from pixel (0, 0)."""
    ny, nx = shape
    iy = np.arange(ny)
    ix = np.arange(nx)
    dy = np.minimum(iy, ny - iy) * pixel_scale
    dx = np.minimum(ix, nx - ix) * pixel_scale
    r2 = dy[:, None] ** 2 + dx[None, :] ** 2
    r2.setflags(write=False)
    return r2


@lru_cache(maxsize=16)
def _frequency_radius(shape: tuple[int, int], pixel_scale: float) -> np.ndarray:
    """|f| (cycles per arcsec) on the half-plane grid of ``rfft2`` for a grid of ``shape``."""
    fy = sfft.fftfreq(shape[0], d=pixel_scale)
    fx = sfft.rfftfreq(shape[1], d=pixel_scale)
    f = np.hypot(fy[:, None], fx[None, :])
    f.setflags(write=False)
    return f


@lru_cache(maxsize=16)
def _frequency_axes(shape: tuple[int, int], pixel_scale: float) -> tuple[np.ndarray, np.ndarray]:
    fy = sfft.fftfreq(shape[0], d=pixel_scale)
    fx = sfft.rfftfreq(shape[1], d=pixel_scale)
    return fy, fx


def _centred_r2(shape: tuple[int, int], pixel_scale: float) -> np.ndarray:
    ny, nx = shape
    y = (np.arange(ny) - (ny - 1) / 2.0) * pixel_scale
    x = (np.arange(nx) - (nx - 1) / 2.0) * pixel_scale
    return y[:, None] ** 2 + x[None, :] ** 2


def _default_shape(fwhm: float, pixel_scale: float) -> tuple[int, int]:
    n = int(np.ceil(8.0 * fwhm / pixel_scale)) | 1  # odd: the centre falls on a pixel
    return (n, n)


def shear_matrix(ellipticity: float, angle: float) -> np.ndarray:
    """The area-preserving 2x2 map that shears a round profile to axis ratio ``(1-g)/(1+g)``.

    A point ``p`` of the sheared image takes the round profile's value at ``|S^-1 p|``; its
    transfer function takes the round one's value at ``|S f|`` (``S`` is symmetric, det 1).

    Parameters
    ----------
    ellipticity : float
        Reduced shear ``g = (a - b) / (a + b)``, ``0 <= g < 1``.
    angle : float
        Position angle of the major axis, degrees counter-clockwise from +x (columns) to +y.

    Returns
    -------
    numpy.ndarray
        ``S = R diag(1/sqrt(q), sqrt(q)) R^T`` with ``q = (1 - g) / (1 + g)``.
    """
    g = float(ellipticity)
    if not 0.0 <= g < 1.0:
        raise ValueError(f"PSF ellipticity must be in [0, 1), got {ellipticity!r}")
    q = (1.0 - g) / (1.0 + g)
    a = np.deg2rad(float(angle))
    rotation = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return rotation @ np.diag([1.0 / np.sqrt(q), np.sqrt(q)]) @ rotation.T


def _sheared_r2(dy: np.ndarray, dx: np.ndarray, ellipticity: float, angle: float) -> np.ndarray:
    """``|S^-1 (x, y)|^2`` for offsets ``dx`` (columns) and ``dy`` (rows), broadcast."""
    (a, b), (c, d) = np.linalg.inv(shear_matrix(ellipticity, angle))
    u = a * dx + b * dy
    v = c * dx + d * dy
    return u * u + v * v


def _wrapped_offsets(shape: tuple[int, int], pixel_scale: float) -> tuple[np.ndarray, np.ndarray]:
    ny, nx = shape
    iy = np.arange(ny)
    ix = np.arange(nx)
    dy = np.where(iy <= ny // 2, iy, iy - ny) * pixel_scale
    dx = np.where(ix <= nx // 2, ix, ix - nx) * pixel_scale
    return dy[:, None], dx[None, :]


def _sheared_frequency_radius(shape, pixel_scale, ellipticity, angle):
    fy, fx = _frequency_axes(shape, pixel_scale)
    (a, b), (c, d) = shear_matrix(ellipticity, angle)
    u = a * fx[None, :] + b * fy[:, None]
    v = c * fx[None, :] + d * fy[:, None]
    return np.hypot(u, v)


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}")


# ---------------------------------------------------------------------------------------------
# transfer functions on a periodic grid (used by the simulator)
# ---------------------------------------------------------------------------------------------


def _truncate_normalise(kernel: np.ndarray, r2: np.ndarray, truncate: float | None) -> np.ndarray:
    if truncate is not None:
        kernel = np.where(r2 <= truncate**2, kernel, 0.0)
    return kernel / kernel.sum()


def optical_transfer_function(
    model: PsfModel,
    *,
    shape: tuple[int, int],
    pixel_scale: float,
    fwhm: float | None = None,
    beta: float = 3.5,
    truncate: float | None = None,
    ellipticity: float = 0.0,
    angle: float = 0.0,
) -> np.ndarray:
    """The PSF's transfer function on the ``rfft2`` half-plane of a periodic grid.

    Parameters
    ----------
    model : {"moffat", "kolmogorov", "space"}
        Which PSF. ``"space"`` is the HST ACS F814W-like PSF of `space_psf` (``fwhm`` ignored).
    shape : tuple of int
        The (zero-padded) FFT grid, ``(rows, cols)``.
    pixel_scale : float
        Arcsec per pixel of that grid.
    fwhm : float, optional
        Seeing FWHM in arcsec (Moffat, Kolmogorov).
    beta : float, optional
        Moffat index.
    truncate : float, optional
        Radius in arcsec beyond which the PSF is set to zero (then renormalised to unit sum).
    ellipticity, angle : float, optional
        Reduced shear ``g`` of a slightly elliptical seeing PSF and its major axis's angle
        (degrees); see `shear_matrix`. ``fwhm`` is then the geometric mean of the axes' FWHMs.
        Ignored for ``"space"``.

    Returns
    -------
    numpy.ndarray
        Complex array of shape ``(rows, cols // 2 + 1)``; its value at zero frequency is 1.
    """
    shape = (int(shape[0]), int(shape[1]))
    if model == "space":
        return _space_otf(shape, float(pixel_scale), truncate)
    if fwhm is None:
        raise ValueError(f"the {model} PSF needs a FWHM")
    _check_positive(fwhm=fwhm, pixel_scale=pixel_scale)
    r2 = _wrapped_r2(shape, float(pixel_scale))
    sheared = float(ellipticity) != 0.0
    if model == "moffat":
        _check_positive(beta=beta)
        profile_r2 = r2
        if sheared:
            profile_r2 = _sheared_r2(*_wrapped_offsets(shape, float(pixel_scale)), ellipticity, angle)
        kernel = _truncate_normalise(_moffat_image(profile_r2, fwhm, beta), r2, truncate)
        return sfft.rfft2(kernel)
    if model == "kolmogorov":
        if sheared:
            f = _sheared_frequency_radius(shape, float(pixel_scale), ellipticity, angle)
            otf = _kolmogorov_otf_at(f, fwhm)
        else:
            otf = _kolmogorov_otf(shape, float(pixel_scale), fwhm)
        if truncate is None:
            return otf
        kernel = sfft.irfft2(otf, s=shape)
        return sfft.rfft2(_truncate_normalise(kernel, r2, truncate))
    raise ValueError(f"unknown PSF model {model!r}; use 'moffat', 'kolmogorov' or 'space'")


def _kolmogorov_otf(shape: tuple[int, int], pixel_scale: float, fwhm: float) -> np.ndarray:
    # Long-exposure atmospheric OTF (Fried 1966): exp(-3.44 (lambda f / r0)^(5/3)).
    return _kolmogorov_otf_at(_frequency_radius(shape, pixel_scale), fwhm)


def _kolmogorov_otf_at(f: np.ndarray, fwhm: float) -> np.ndarray:
    lam_over_r0 = fwhm / KOLMOGOROV_FWHM_FACTOR
    return np.exp(-3.44 * (f * lam_over_r0) ** (5.0 / 3.0)).astype(complex)


@lru_cache(maxsize=8)
def _space_otf(shape: tuple[int, int], pixel_scale: float, truncate: float | None) -> np.ndarray:
    p = HST_F814W
    r2 = _wrapped_r2(shape, pixel_scale)
    # Bessel functions only where the truncated PSF is non-zero (a small disc on big grids).
    inside = np.ones(shape, bool) if truncate is None else r2 <= truncate**2
    r = np.sqrt(r2[inside])
    airy = np.zeros(shape)
    airy[inside] = sum(
        _obscured_airy(r, wavelength_um=w, aperture_m=p["aperture_m"], obscuration=p["obscuration"])
        for w in p["wavelengths_um"]
    )
    otf = sfft.rfft2(airy / airy.sum())
    fy, fx = _frequency_axes(shape, pixel_scale)
    native = p["native_pixel_arcsec"]
    # The detector's own pixel (box) and a Gaussian blur, applied exactly in Fourier space.
    box = np.sinc(fy * native)[:, None] * np.sinc(fx * native)[None, :]
    f2 = fy[:, None] ** 2 + fx[None, :] ** 2
    blur = np.exp(-2.0 * np.pi**2 * p["blur_sigma_arcsec"] ** 2 * f2)
    otf = otf * box * blur
    otf.setflags(write=False)
    return otf


# ---------------------------------------------------------------------------------------------
# centred kernels (public)
# ---------------------------------------------------------------------------------------------


def moffat_psf(
    *,
    fwhm: AngleLike,
    beta: float = 3.5,
    pixel_scale: AngleLike,
    shape: tuple[int, int] | None = None,
    ellipticity: float = 0.0,
    angle: float = 0.0,
) -> np.ndarray:
    """A Moffat PSF image (circular, or slightly elliptical), centred, normalised to sum 1.

    ``I(r) = (1 + (r / alpha)^2)^-beta`` with ``alpha = fwhm / (2 sqrt(2^(1/beta) - 1))``.

    Parameters
    ----------
    fwhm : float or astropy Quantity
        Full width at half maximum, arcsec (or an angle Quantity, `seeinggan.units`).
    beta : float, optional
        Moffat index (2.5 to 4.5 describes seeing; Kolmogorov seeing is close to 4.8).
    pixel_scale : float or astropy Quantity
        Arcsec per pixel.
    shape : tuple of int, optional
        Image shape; default odd and 8 FWHM wide.
    ellipticity, angle : float, optional
        Reduced shear and major-axis angle (degrees) of an elliptical PSF (`shear_matrix`).

    Returns
    -------
    numpy.ndarray
        float64 image, sum 1.
    """
    fwhm = to_arcsec(fwhm, name="fwhm")
    pixel_scale = to_arcsec(pixel_scale, name="pixel_scale", per_pixel=True)
    _check_positive(fwhm=fwhm, beta=beta, pixel_scale=pixel_scale)
    shape = shape or _default_shape(fwhm, pixel_scale)
    if float(ellipticity) != 0.0:
        ny, nx = shape
        dy = ((np.arange(ny) - (ny - 1) / 2.0) * pixel_scale)[:, None]
        dx = ((np.arange(nx) - (nx - 1) / 2.0) * pixel_scale)[None, :]
        image = _moffat_image(_sheared_r2(dy, dx, ellipticity, angle), fwhm, beta)
    else:
        image = _moffat_image(_centred_r2(shape, pixel_scale), fwhm, beta)
    return image / image.sum()


def kolmogorov_psf(
    *,
    fwhm: AngleLike,
    pixel_scale: AngleLike,
    shape: tuple[int, int] | None = None,
    ellipticity: float = 0.0,
    angle: float = 0.0,
) -> np.ndarray:
    """The long-exposure Kolmogorov (atmospheric) PSF, centred, normalised to sum 1.

    Built from its transfer function ``exp(-3.44 (f lambda / r0)^(5/3))`` with
    ``lambda / r0 = fwhm / 0.975865``.

    Parameters
    ----------
    fwhm : float or astropy Quantity
        Full width at half maximum, arcsec (or an angle Quantity, `seeinggan.units`).
    pixel_scale : float or astropy Quantity
        Arcsec per pixel.
    shape : tuple of int, optional
        Image shape; default odd and 8 FWHM wide.
    ellipticity, angle : float, optional
        Reduced shear and major-axis angle (degrees) of an elliptical PSF (`shear_matrix`).

    Returns
    -------
    numpy.ndarray
        float64 image, sum 1.
    """
    fwhm = to_arcsec(fwhm, name="fwhm")
    pixel_scale = to_arcsec(pixel_scale, name="pixel_scale", per_pixel=True)
    _check_positive(fwhm=fwhm, pixel_scale=pixel_scale)
    shape = shape or _default_shape(fwhm, pixel_scale)
    # Computed on a grid twice as large so that the periodic wings do not fold into the image.
    big = (2 * shape[0], 2 * shape[1])
    if float(ellipticity) != 0.0:
        otf = _kolmogorov_otf_at(
            _sheared_frequency_radius(big, float(pixel_scale), ellipticity, angle), fwhm)
    else:
        otf = _kolmogorov_otf(big, float(pixel_scale), fwhm)
    image = _centred_from_otf(otf, shape, big)
    return image / image.sum()


def _centred_from_otf(otf: np.ndarray, shape: tuple[int, int], big: tuple[int, int]) -> np.ndarray:
    fy = sfft.fftfreq(big[0])
    fx = sfft.rfftfreq(big[1])
    cy, cx = (shape[0] - 1) / 2.0, (shape[1] - 1) / 2.0
    phase = np.exp(-2j * np.pi * (fy[:, None] * cy + fx[None, :] * cx))
    return sfft.irfft2(otf * phase, s=big)[: shape[0], : shape[1]]


def space_psf(*, pixel_scale: AngleLike = SPACE_PIXEL_SCALE, shape: tuple[int, int] | None = None) -> np.ndarray:
    """An HST ACS/WFC F814W-like PSF as in drizzled COSMOS images, centred, sum 1.

    Polychromatic diffraction of HST's obscured 2.4 m aperture (0.72-0.88 um), convolved with
    the 0.05" native ACS pixel and a Gaussian (sigma 0.0265") for charge diffusion, jitter and
    drizzling: core FWHM about 0.095" with faint Airy wings. See `HST_F814W`.

    Parameters
    ----------
    pixel_scale : float or astropy Quantity, optional
        Arcsec per pixel (0.03 as COSMOS).
    shape : tuple of int, optional
        Image shape; default 65 x 65.

    Returns
    -------
    numpy.ndarray
        float64 image, sum 1.
    """
    pixel_scale = to_arcsec(pixel_scale, name="pixel_scale", per_pixel=True)
    _check_positive(pixel_scale=pixel_scale)
    shape = shape or (65, 65)
    big = (2 * shape[0], 2 * shape[1])
    image = _centred_from_otf(np.array(_space_otf(big, float(pixel_scale), None)), shape, big)
    return image / image.sum()


# ---------------------------------------------------------------------------------------------
# measurement
# ---------------------------------------------------------------------------------------------


def measure_fwhm(
    image: np.ndarray,
    *,
    pixel_scale: AngleLike,
    subsample: int = 5,
) -> dict[str, float]:
    """Fit a pixel-integrated circular Moffat to a star and return its FWHM.

    The model is integrated over each pixel (``subsample`` x ``subsample`` points), so the
    result is the FWHM of the PSF itself, free of the broadening by the pixels.

    Parameters
    ----------
    image : numpy.ndarray
        A 2-D image of one star on a zero background (noiseless or sky-subtracted).
    pixel_scale : float or astropy Quantity
        Arcsec per pixel.
    subsample : int, optional
        Points per pixel axis in the pixel integration.

    Returns
    -------
    dict
        ``{"fwhm": arcsec, "beta": float, "x": col, "y": row, "flux": float}``.
    """
    data = np.asarray(image, dtype=float)
    if data.ndim != 2 or not np.isfinite(data).all():
        raise ValueError("measure_fwhm needs a finite 2-D image")
    pixel_scale = to_arcsec(pixel_scale, name="pixel_scale", per_pixel=True)
    ny, nx = data.shape
    total = data.sum()
    if total <= 0:
        raise ValueError("measure_fwhm needs an image with positive flux")
    yy, xx = np.mgrid[0:ny, 0:nx]
    y0 = float((data * yy).sum() / total)
    x0 = float((data * xx).sum() / total)
    sub = (np.arange(subsample) + 0.5) / subsample - 0.5
    full = (ny, nx, subsample, subsample)
    ys = np.broadcast_to(yy[:, :, None, None] + sub[None, None, :, None], full).ravel()
    xs = np.broadcast_to(xx[:, :, None, None] + sub[None, None, None, :], full).ravel()

    def model(p):
        flux, x, y, log_fwhm_px, log_beta = p
        fwhm_px, beta = np.exp(log_fwhm_px), np.exp(log_beta)
        alpha = moffat_alpha(fwhm_px, beta)
        values = (1.0 + ((xs - x) ** 2 + (ys - y) ** 2) / alpha**2) ** (-beta)
        values = values.reshape(ny, nx, subsample * subsample).mean(axis=2)
        # Moffat integral: pi alpha^2 / (beta - 1)
        return flux * values * (beta - 1.0) / (np.pi * alpha**2)

    peak_guess = max(2.0, 2.0 * np.sqrt(total / max(data.max(), 1e-30) / np.pi))
    start = [total, x0, y0, np.log(peak_guess), np.log(3.0)]
    result = optimize.least_squares(
        lambda p: (model(p) - data).ravel(),
        start,
        bounds=([0, -np.inf, -np.inf, np.log(0.1), np.log(1.05)],
                [np.inf, np.inf, np.inf, np.log(10 * max(ny, nx)), np.log(50.0)]),
        x_scale="jac",
    )
    flux, x, y, log_fwhm_px, log_beta = result.x
    return {
        "fwhm": float(np.exp(log_fwhm_px) * pixel_scale),
        "beta": float(np.exp(log_beta)),
        "x": float(x),
        "y": float(y),
        "flux": float(flux),
    }
