"""Where to trust a deblurred image: the uncertainty map and the consistency (chi) map.

Uncertainty map (output grid, flux units)
-----------------------------------------
Each tile goes through the network in its 8 dihedral views (`seeinggan.data.augment.dihedral`:
right-angle rotations and flips), batched into one forward pass per tile
(`dihedral_forward`); every view is transformed back (`inverse_dihedral`). The sky has no
preferred orientation, so a restoration supported by the data comes out the same in all eight;
structure the network invents depends on the view. The map is the population standard deviation
of the eight outputs at each pixel, in the output's flux units (counts per output pixel), blended
over tiles like the output (the tiles' variances are blended, then the square root taken). The
deblurred image itself stays the plain (identity-view) output: asking for maps never changes it.

Flagged pixels and the summary (`flag_unstable`, `flagged_flux_fraction`):

- *source mask*: pixels of the output, smoothed by a Gaussian of ``SOURCE_SMOOTH_PIXELS`` output
  pixels, above the sky by ``SOURCE_SIGMA`` times the smoothed image's sky noise (sky and noise by
  `astropy.stats.sigma_clipped_stats`, MAD standard deviation, 3 sigma);
- *flagged* (unstable): pixels where the spread exceeds ``RELATIVE_SPREAD_THRESHOLD`` (10%) of
  the pixel's own (sky-subtracted) flux plus ``NOISE_SPREAD_THRESHOLD`` (5) times the input's
  sky noise per output pixel (``sigma_in / factor**2``: the noise of one input pixel spread over
  the output pixels it covers), spread and flux smoothed the same way. The relative term keeps
  bright, well-measured light from being flagged for a small relative wobble, the noise term
  keeps faint wings and sky from being flagged for a wobble the data cannot resolve either. Both
  numbers were chosen on simulated pairs of seed 2000, disjoint from the held-out set of
  ``docs/maps.md``;
- *flagged flux fraction*: the source flux in flagged pixels over the source flux in the mask.

Sub-pixel shifts of the input grid were not added: see ``docs/maps.md`` for the measurement.

Consistency map (input grid, units of the input's noise)
--------------------------------------------------------
`consistency_map`: the output, convolved on the output grid with the seeing PSF (a circular
Moffat of the stated FWHM and beta, or a Kolmogorov profile; `seeinggan.simulate.psf`) divided
by the PSF the output already carries (the space PSF of the training targets: `reblur_kernel`),
integrated over the input's pixels and sampled on the input grid
(`seeinggan.geometry.zoom_to_scale` with ``conserve="flux"``: the exact inverse of the aligned
grid that `Deblurrer.deblur` resampled onto), minus the input, divided by the input's noise:
``chi = (B(output) - input) / sigma``. ``sigma`` is the sky noise of the input
(`sky_noise_of_input`, with `astropy.stats`: robust to a galaxy-filled cut-out) or the one
given (``noise=``, a number or an error map), plus, when the
detector gain is known (``GAIN`` in e-/count), the source's Poisson noise
``sqrt(max(input - sky, 0) / gain)``, and ``PSF_MODEL_ERROR`` (2%) of the re-blurred flux in
quadrature (the PSF model's own accuracy: a 5-sigma flag on a bright nucleus is then beyond both
the noise and a 2% PSF error).

The chi map lives on the *input* grid, with the input's WCS: only there are the noise of
neighbouring pixels independent and the noise known, so only there is ``|chi| > 5`` a 5-sigma
statement. On the output grid the residual would be an interpolation of it with correlated
pixels and no noise of its own. Pixels within half a PSF width of the image border see a
output extended by its edge values beyond the border (light from outside the footprint is
unknown) and are less reliable.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from astropy.stats import sigma_clipped_stats
from astropy.wcs import WCS
from scipy import ndimage, signal

if TYPE_CHECKING:
    from seeinggan.simulate.psf import PsfModel

__all__ = [
    "CONSISTENCY_SIGMA",
    "DEFAULT_MOFFAT_BETA",
    "NOISE_SPREAD_THRESHOLD",
    "PSF_MODEL_ERROR",
    "RELATIVE_SPREAD_THRESHOLD",
    "SOURCE_SIGMA",
    "SOURCE_SMOOTH_PIXELS",
    "MapsSummary",
    "TrustMaps",
    "build_maps",
    "consistency_map",
    "dihedral_forward",
    "flag_unstable",
    "flagged_flux_fraction",
    "input_noise",
    "pixel_noise_of",
    "psf_settings_from_header",
    "reblur_kernel",
    "reblur_to_input",
    "sky_noise_of_input",
    "unstable_flux_images",
    "summarise",
]

RELATIVE_SPREAD_THRESHOLD = 0.04
"""Flag where the spread over the 8 views exceeds this fraction of the flux (plus the noise term).

Chosen with the shipped model on 100 simulated pairs of seed 2000 (disjoint from the held-out set
and the suites): 0.04 (with 5 noise units) put 12 of its 14 invented sources in flagged pixels
over 3.9% of the image area; 0.1, chosen for the first fidelity model, caught none of them."""

NOISE_SPREAD_THRESHOLD = 5.0
"""... plus this many times the input's sky noise per output pixel (`flag_unstable`)."""

SOURCE_SIGMA = 3.0
"""The source mask: smoothed output above the sky by this many times its smoothed sky noise."""

SOURCE_SMOOTH_PIXELS = 2.0
"""Gaussian sigma (output pixels) of the smoothing behind the source mask and the flags."""

CONSISTENCY_SIGMA = 5.0
"""``|chi|`` above which the consistency map says the output contradicts the input."""

PSF_MODEL_ERROR = 0.02
"""Fraction of the re-blurred flux added (in quadrature) to the chi map's noise: the accuracy of
the PSF model itself (a sampled Moffat against the true seeing: ~1% on simulated stamps)."""

DEFAULT_MOFFAT_BETA = 3.5
"""Moffat index of the re-blurring PSF when none is given (typical of seeing, as in the simulator)."""

N_VIEWS = 8


# ---------------------------------------------------------------------------------------------
# Test-time augmentation
# ---------------------------------------------------------------------------------------------


def dihedral_forward(
    forward: Callable[[np.ndarray], np.ndarray],
    tiles: np.ndarray,
    *,
    views_per_pass: int = N_VIEWS,
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``forward`` on the 8 dihedral views of each tile; return the plain output and the variance.

    Parameters
    ----------
    forward : callable
        ``forward(batch [B, H, W]) -> [B, H, W]`` (flux units in and out), e.g. the
        deblurrer's network call.
    tiles : numpy.ndarray
        ``[B, H, W]`` tiles. Non-square tiles are fine: the views of each orientation go in
        their own pass.
    views_per_pass : int, optional
        Views per call of ``forward`` (at least the 8 of one tile: one pass per tile).

    Returns
    -------
    output, variance : numpy.ndarray
        ``[B, H, W]``: the identity view's output (what `forward` gives without maps), and the
        population variance of the 8 back-transformed outputs.
    """
    from seeinggan.data.augment import dihedral, inverse_dihedral

    n = len(tiles)
    per_pass = max(N_VIEWS, int(views_per_pass))
    backs = np.empty((N_VIEWS, *tiles.shape), dtype=np.float64)
    # Views with an even number of quarter turns keep the tile's shape; odd ones transpose it.
    for ks in ((0, 2, 4, 6), (1, 3, 5, 7)) if tiles.shape[-1] != tiles.shape[-2] else (tuple(range(N_VIEWS)),):
        views = np.concatenate([dihedral(tiles, k) for k in ks])  # [len(ks) * n, h, w], k-major
        outs = np.concatenate([np.asarray(forward(views[i : i + per_pass]))
                               for i in range(0, len(views), per_pass)])
        for j, k in enumerate(ks):
            backs[k] = inverse_dihedral(outs[j * n : (j + 1) * n], k)
    # Two passes (mean, then squared deviations): no cancellation where the views agree.
    variance = np.var(backs, axis=0)
    output = backs[0]
    return output, variance


# ---------------------------------------------------------------------------------------------
# Flags and summary
# ---------------------------------------------------------------------------------------------


def _sky_noise(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise ValueError("cannot measure the sky noise: no finite pixel")
    _, median, std = sigma_clipped_stats(finite, sigma=3.0, maxiters=10, stdfunc="mad_std")
    if not std > 0:
        std = float(np.std(finite)) or 1e-6 * float(np.max(np.abs(finite))) or 1.0
    return float(median), float(std)


def _smooth(image: np.ndarray, sigma: float) -> np.ndarray:
    valid = np.isfinite(image)
    filled = np.where(valid, image, 0.0)
    num = ndimage.gaussian_filter(filled, sigma, mode="nearest")
    den = ndimage.gaussian_filter(valid.astype(np.float64), sigma, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[~valid] = np.nan
    return out


def flag_unstable(
    output: np.ndarray,
    spread: np.ndarray,
    *,
    pixel_noise: float,
    relative_threshold: float = RELATIVE_SPREAD_THRESHOLD,
    noise_threshold: float = NOISE_SPREAD_THRESHOLD,
    sky: float | None = None,
    noise: float | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """The source mask and the unstable (flagged) pixels of a deblurred image (module docstring).

    Parameters
    ----------
    output : numpy.ndarray
        The deblurred image (flux units, NaN allowed).
    spread : numpy.ndarray
        Its uncertainty map (same grid and units).
    pixel_noise : float
        The input's sky noise per output pixel: ``sigma_in / factor**2`` (`pixel_noise_of`).
    relative_threshold, noise_threshold : float, optional
        Flag where the smoothed spread exceeds ``relative_threshold * flux + noise_threshold *
        pixel_noise`` (flux: the smoothed, sky-subtracted output, floored at 0).
    sky, noise : float, optional
        Sky level and sky noise of the *smoothed* output (for the source mask); measured when
        not given (pass them to judge a cut-out with the whole image's values).

    Returns
    -------
    source, flagged : numpy.ndarray of bool
        The source mask and the flagged pixels.
    levels : dict
        ``sky``, ``noise`` (of the smoothed output) and the thresholds used.
    """
    out_s = _smooth(np.asarray(output, dtype=np.float64), SOURCE_SMOOTH_PIXELS)
    spread_s = _smooth(np.asarray(spread, dtype=np.float64), SOURCE_SMOOTH_PIXELS)
    if sky is None or noise is None:
        sky, noise = _sky_noise(out_s)
    flux = out_s - sky
    with np.errstate(invalid="ignore"):
        source = np.isfinite(flux) & (flux > SOURCE_SIGMA * noise)
        limit = relative_threshold * np.clip(flux, 0.0, None) + noise_threshold * float(pixel_noise)
        flagged = np.isfinite(spread_s) & (spread_s > limit)
    levels = {"sky": float(sky), "noise": float(noise), "source_sigma": SOURCE_SIGMA,
              "relative_threshold": float(relative_threshold), "noise_threshold": float(noise_threshold),
              "pixel_noise": float(pixel_noise), "smooth_pixels": SOURCE_SMOOTH_PIXELS}
    return source, flagged, levels


def flagged_flux_fraction(
    output: np.ndarray,
    spread: np.ndarray,
    *,
    pixel_noise: float,
    relative_threshold: float = RELATIVE_SPREAD_THRESHOLD,
    noise_threshold: float = NOISE_SPREAD_THRESHOLD,
    sky: float | None = None,
    noise: float | None = None,
) -> float:
    """The fraction of the source's flux that lies in flagged pixels (`flag_unstable`).

    NaN when the image has no source pixel. Arguments as in `flag_unstable`.
    """
    source, flagged, levels = flag_unstable(output, spread, pixel_noise=pixel_noise,
                                            relative_threshold=relative_threshold,
                                            noise_threshold=noise_threshold, sky=sky, noise=noise)
    flux = np.asarray(output, dtype=np.float64) - levels["sky"]
    total = float(np.sum(flux[source]))
    if not source.any() or not total > 0:
        return float("nan")
    return float(np.sum(flux[source & flagged])) / total


def unstable_flux_images(output: np.ndarray, spread: np.ndarray, *, pixel_noise: float,
                         ) -> tuple[np.ndarray, np.ndarray]:
    """The source flux image and its flagged part (`flag_unstable`), zero elsewhere.

    Summed over any region (after flux-conserving resampling, e.g. onto a score rectangle) their
    ratio is the flagged flux fraction of the source light in that region.
    """
    source, flagged, levels = flag_unstable(output, spread, pixel_noise=pixel_noise)
    flux = np.nan_to_num(np.asarray(output, dtype=np.float64) - levels["sky"])
    source_flux = np.where(source, flux, 0.0)
    return source_flux, np.where(flagged, source_flux, 0.0)


def pixel_noise_of(data: np.ndarray, *, factor: float, noise: float | np.ndarray | None = None) -> float:
    """The input's sky noise per output pixel.

    ``sigma_in / factor**2`` (``noise`` if given, its median for an error map; else measured with
    `sky_noise_of_input`).
    """
    sigma = float(np.nanmedian(noise)) if noise is not None else sky_noise_of_input(data)[1]
    return sigma / float(factor) ** 2


# ---------------------------------------------------------------------------------------------
# Consistency
# ---------------------------------------------------------------------------------------------


def sky_noise_of_input(data: np.ndarray) -> tuple[float, float]:
    """Sky level and per-pixel sky noise of an input image, robust to a galaxy-filled cut-out.

    The noise is the smaller of the sigma-clipped MAD standard deviation of the pixels
    (`astropy.stats.sigma_clipped_stats`) and the MAD standard deviation of the differences
    between neighbouring pixels over sqrt(2) (`astropy.stats.mad_std`): on blank sky both are
    the noise; on a stamp filled by a galaxy the first measures galaxy light, while the
    differences cancel the smooth light (seeing-limited images vary little from pixel to pixel).
    """
    from astropy.stats import mad_std

    values = np.asarray(data, dtype=np.float64)
    sky, clipped = _sky_noise(values)
    differences = np.concatenate([np.diff(values, axis=0).ravel(), np.diff(values, axis=1).ravel()])
    differences = differences[np.isfinite(differences)]
    if differences.size >= 16:
        by_difference = float(mad_std(differences)) / math.sqrt(2.0)
        if by_difference > 0:
            return sky, min(clipped, by_difference)
    return sky, clipped


def input_noise(data: np.ndarray, *, noise: float | np.ndarray | None = None,
                gain: float | None = None) -> tuple[np.ndarray | float, float]:
    """Per-pixel noise of the input: the sky noise (given or measured) and, with a gain, Poisson.

    Returns
    -------
    sigma, sky : float or numpy.ndarray, float
        The noise (scalar without gain, else an image) and the measured sky level.
    """
    sky, measured = sky_noise_of_input(data)
    sigma: Any = measured if noise is None else noise
    if np.any(~(np.asarray(sigma) > 0)):
        raise ValueError(f"noise must be positive, got {noise!r}")
    if gain is not None:
        if not (math.isfinite(float(gain)) and float(gain) > 0):
            raise ValueError(f"gain must be a positive number of e-/count, got {gain!r}")
        signal_counts = np.clip(np.nan_to_num(np.asarray(data, dtype=np.float64) - sky), 0.0, None)
        sigma = np.sqrt(np.asarray(sigma, dtype=np.float64) ** 2 + signal_counts / float(gain))
    return sigma, sky


def reblur_kernel(
    seeing_fwhm: float,
    *,
    pixel_scale: float,
    psf_model: str = "moffat",
    moffat_beta: float = DEFAULT_MOFFAT_BETA,
    target_psf: str | None = "space",
) -> np.ndarray:
    """The kernel that takes a deblurred image to the seeing: ``seeing / target PSF``.

    The output of a model trained on space images carries the space PSF (the HST-like PSF of
    `seeinggan.simulate.psf.space_psf`, ``target_psf="space"``): re-blurring it by the whole
    seeing would blur it twice over the space PSF's width (for a bright bulge, tens of sigma at
    the centre). The kernel's transfer function is the seeing's (`optical_transfer_function`,
    Moffat or Kolmogorov, truncated at the kernel's edge) divided by the target's, wherever the
    seeing's is above 1e-4 (zero elsewhere). ``target_psf=None`` re-blurs by the seeing alone.

    Returns
    -------
    numpy.ndarray
        Odd-sided (8 FWHM), centred, sum 1, on the output grid.
    """
    from scipy import fft as sfft

    from seeinggan.simulate.psf import optical_transfer_function

    if not (math.isfinite(seeing_fwhm) and seeing_fwhm > 0):
        raise ValueError(f"seeing FWHM must be a positive number of arcsec, got {seeing_fwhm!r}")
    side = math.ceil(8.0 * seeing_fwhm / pixel_scale) | 1
    shape = (side, side)
    otf = optical_transfer_function(cast("PsfModel", psf_model), shape=shape, pixel_scale=pixel_scale, fwhm=seeing_fwhm,
                                    beta=moffat_beta, truncate=side * pixel_scale / 2.0)
    if target_psf is not None:
        target = optical_transfer_function(cast("PsfModel", target_psf), shape=shape, pixel_scale=pixel_scale)
        keep = (np.abs(otf) > 1e-4) & (np.abs(target) > 1e-3)
        otf = np.where(keep, otf / np.where(keep, target, 1.0), 0.0)
    kernel = np.fft.fftshift(sfft.irfft2(otf, s=shape))
    return kernel / kernel.sum()


def reblur_to_input(
    output: np.ndarray,
    *,
    factor: float,
    output_pixel_scale: float,
    seeing_fwhm: float,
    moffat_beta: float = DEFAULT_MOFFAT_BETA,
    psf_model: str = "moffat",
    target_psf: str | None = "space",
    input_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """The output as the ground telescope would see it, on the input grid (flux per input pixel).

    Convolution with `reblur_kernel` on the output grid (overlap-add; the output extended by its edge
    values at the borders; NaN pixels count as their smoothed neighbourhood), then
    `seeinggan.geometry.zoom_to_scale` by ``1 / factor`` with ``conserve="flux"`` (integration
    over each input pixel, then sampling at its centre).
    """
    from seeinggan import geometry

    image = np.asarray(output, dtype=np.float64)
    bad = ~np.isfinite(image)
    if bad.any():
        image = np.where(bad, _smooth(np.where(bad, np.nan, image), 3.0), image)
        image = np.nan_to_num(image, nan=0.0)
    kernel = reblur_kernel(float(seeing_fwhm), pixel_scale=float(output_pixel_scale), psf_model=psf_model,
                           moffat_beta=float(moffat_beta), target_psf=target_psf)
    half = kernel.shape[0] // 2
    # Beyond the border the image is extended by its edge values (a compromise between a
    # mirror, too bright for a galaxy filling a stamp, and zeros, too faint).
    padded = np.pad(image, half, mode="edge")
    blurred = signal.oaconvolve(padded, kernel, mode="valid")
    if float(factor) == 1.0:
        binned = blurred
    else:
        binned = geometry.zoom_to_scale(blurred, factor=1.0 / float(factor), order=3, conserve="flux")
    if input_shape is not None and binned.shape != tuple(input_shape):
        fitted = np.full(tuple(input_shape), np.nan)
        r, c = min(binned.shape[0], input_shape[0]), min(binned.shape[1], input_shape[1])
        fitted[:r, :c] = binned[:r, :c]
        binned = fitted
    return binned


def consistency_map(
    output: np.ndarray,
    data: np.ndarray,
    *,
    factor: float,
    output_pixel_scale: float,
    seeing_fwhm: float,
    moffat_beta: float = DEFAULT_MOFFAT_BETA,
    psf_model: str = "moffat",
    target_psf: str | None = "space",
    noise: float | np.ndarray | None = None,
    gain: float | None = None,
    psf_error: float = PSF_MODEL_ERROR,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The chi map ``(re-blurred output - input) / sigma`` on the input grid (module docstring).

    Parameters
    ----------
    output : numpy.ndarray
        The deblurred image on the output grid (flux per output pixel).
    data : numpy.ndarray
        The input image (flux per input pixel), the grid the output was made from.
    factor : float
        Input pixel scale over output pixel scale.
    output_pixel_scale : float
        Arcsec per output pixel.
    seeing_fwhm : float
        FWHM of the seeing PSF, arcsec.
    moffat_beta : float, optional
        Moffat index of the PSF.
    psf_model : {"moffat", "kolmogorov"}, optional
        The seeing PSF's shape.
    target_psf : "space" or None, optional
        The PSF the output already carries (`reblur_kernel`).
    noise : float or numpy.ndarray, optional
        The input's sky noise per pixel (e.g. from an error map); measured when not given.
    gain : float, optional
        Detector gain in e-/count: adds the source's Poisson noise.
    psf_error : float, optional
        `PSF_MODEL_ERROR`: this fraction of the re-blurred flux is added to the noise in
        quadrature (the PSF model is not exact; 0 for the noise alone).

    Returns
    -------
    chi : numpy.ndarray
        float32, input grid; NaN where the input is NaN.
    info : dict
        ``noise`` (the sky noise used), ``sky``, ``seeing_fwhm``, ``moffat_beta``, ``gain``.
    """
    image = np.asarray(data, dtype=np.float64)
    reblurred = reblur_to_input(output, factor=factor, output_pixel_scale=output_pixel_scale,
                                seeing_fwhm=seeing_fwhm, moffat_beta=moffat_beta, psf_model=psf_model,
                                target_psf=target_psf, input_shape=image.shape)
    sigma, sky = input_noise(image, noise=noise, gain=gain)
    if psf_error:
        sigma = np.sqrt(np.asarray(sigma, dtype=np.float64) ** 2
                        + (float(psf_error) * np.nan_to_num(reblurred - sky)) ** 2)
    chi = ((reblurred - image) / sigma).astype(np.float32)
    chi[~np.isfinite(image)] = np.nan
    sky_noise = float(np.median(noise)) if noise is not None else sky_noise_of_input(image)[1]
    info = {"noise": sky_noise, "noise_source": "given" if noise is not None else "measured (sky_noise_of_input)",
            "sky": float(sky), "seeing_fwhm": float(seeing_fwhm), "psf_model": psf_model,
            "moffat_beta": float(moffat_beta) if psf_model == "moffat" else None, "target_psf": target_psf,
            "gain": None if gain is None else float(gain), "psf_error": float(psf_error)}
    return chi, info


# ---------------------------------------------------------------------------------------------
# The maps of one deblurred image
# ---------------------------------------------------------------------------------------------


@dataclass
class MapsSummary:
    """What the maps say about one deblurred image, in numbers.

    Attributes
    ----------
    flagged_flux_fraction : float or None
        Fraction of the source's flux in pixels flagged unstable (`flag_unstable`; None
        without the uncertainty map).
    relative_threshold, noise_threshold : float
        The flag: spread > relative_threshold * flux + noise_threshold * pixel noise.
    source_pixels, flagged_pixels : int
        Sizes of the source mask and of its flagged part (output pixels).
    chi_fraction_above : float or None
        Fraction of the finite input pixels with ``|chi| > chi_threshold`` (None without the
        consistency map).
    chi_threshold : float
        `CONSISTENCY_SIGMA`.
    max_abs_chi : float or None
        The largest ``|chi|``.
    support_fraction : float or None
        Mean of the support map over the output's finite pixels: the share of the image where
        the network's restored detail is kept (`seeinggan.infer.support`; None without the guard).
    levels : dict
        Sky and noise of the smoothed output (the source mask's), the input's noise and seeing.
    """

    flagged_flux_fraction: float | None = None
    relative_threshold: float = RELATIVE_SPREAD_THRESHOLD
    noise_threshold: float = NOISE_SPREAD_THRESHOLD
    source_pixels: int = 0
    flagged_pixels: int = 0
    chi_fraction_above: float | None = None
    chi_threshold: float = CONSISTENCY_SIGMA
    max_abs_chi: float | None = None
    support_fraction: float | None = None
    levels: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The summary as a plain dictionary."""
        return asdict(self)

    def one_line(self) -> str:
        """``flagged 12.3% of source flux (unstable); |chi| > 5 in 0.4% of input pixels (max 7.1)``."""
        parts = []
        if self.flagged_flux_fraction is not None:
            value = self.flagged_flux_fraction
            text = "no source found" if not math.isfinite(value) else f"{100 * value:.1f}% of source flux"
            parts.append(f"unstable: {text} (spread > {100 * self.relative_threshold:.0f}% of flux "
                         f"+ {self.noise_threshold:g} sigma)")
        if self.chi_fraction_above is not None:
            parts.append(f"|chi| > {self.chi_threshold:g} in {100 * self.chi_fraction_above:.1f}% of input pixels"
                         f" (max {self.max_abs_chi:.1f})")
        if self.support_fraction is not None:
            parts.append(f"detail supported on {100 * self.support_fraction:.1f}% of the image")
        return "; ".join(parts)


@dataclass
class TrustMaps:
    """The uncertainty, consistency and support maps of one deblurred image, each with its grid's WCS.

    Attributes
    ----------
    uncertainty : numpy.ndarray or None
        Spread over the 8 dihedral views, output grid, the output's flux units.
    uncertainty_wcs : astropy.wcs.WCS or None
        The output's WCS.
    consistency : numpy.ndarray or None
        Chi map on the input grid (units of the input's noise).
    consistency_wcs : astropy.wcs.WCS or None
        The input's WCS.
    support : numpy.ndarray or None
        The support guard's map on the output grid (`seeinggan.infer.support`): 1 where the input
        shows significant detail near the resolution limit and the network's detail is kept, 0
        where it was spread over the seeing. None when the guard is off.
    support_wcs : astropy.wcs.WCS or None
        The output's WCS.
    summary : MapsSummary
    """

    uncertainty: np.ndarray | None = None
    uncertainty_wcs: WCS | None = None
    consistency: np.ndarray | None = None
    consistency_wcs: WCS | None = None
    support: np.ndarray | None = None
    support_wcs: WCS | None = None
    summary: MapsSummary = field(default_factory=MapsSummary)


def summarise(output: np.ndarray, uncertainty: np.ndarray | None, chi: np.ndarray | None,
              *, pixel_noise: float | None = None, chi_info: dict[str, Any] | None = None) -> MapsSummary:
    """The `MapsSummary` of an output and its maps.

    Either map may be None; with the uncertainty map, ``pixel_noise`` as in `flag_unstable`.
    """
    summary = MapsSummary()
    if uncertainty is not None:
        if pixel_noise is None:
            raise ValueError("the uncertainty map's summary needs pixel_noise (the input's noise per output pixel)")
        source, flagged, levels = flag_unstable(output, uncertainty, pixel_noise=pixel_noise)
        flux = np.asarray(output, dtype=np.float64) - levels["sky"]
        total = float(np.sum(flux[source]))
        summary.flagged_flux_fraction = (float(np.sum(flux[source & flagged])) / total
                                         if source.any() and total > 0 else float("nan"))
        summary.source_pixels = int(source.sum())
        summary.flagged_pixels = int(flagged.sum())
        summary.levels.update({"output_sky_smoothed": levels["sky"], "output_noise_smoothed": levels["noise"],
                               "pixel_noise": levels["pixel_noise"]})
    if chi is not None:
        finite = np.isfinite(chi)
        magnitude = np.abs(chi[finite])
        summary.chi_fraction_above = float(np.mean(magnitude > CONSISTENCY_SIGMA)) if magnitude.size else float("nan")
        summary.max_abs_chi = float(magnitude.max()) if magnitude.size else float("nan")
        if chi_info:
            summary.levels.update({f"input_{k}": v for k, v in chi_info.items()})
    return summary


NOISE_KEYWORDS = ("SKYNOISE", "SKYSIG", "SKYRMS")
"""Header keywords read as the input's sky noise per pixel (the data's units)."""


def _header_float(header, *keys: str) -> float | None:
    for key in keys:
        try:
            value = float(header[key])
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(value) and value > 0:
            return value
    return None


def psf_settings_from_header(header) -> dict[str, Any]:
    """What a FITS header says for the consistency map.

    ``seeing`` (arcsec, `seeinggan.models.conditions.seeing_from_header`), ``moffat_beta``
    (``PSFBETA``), ``psf_model`` (``PSFMODEL`` starting with "kolmogorov", else Moffat), ``gain``
    (``GAIN``, e-/count) and ``noise`` (`NOISE_KEYWORDS`). Missing or unusable values are None.
    """
    if header is None:
        return {"seeing": None, "moffat_beta": None, "psf_model": "moffat", "gain": None, "noise": None}
    from seeinggan.models.conditions import seeing_from_header

    model = "kolmogorov" if str(header.get("PSFMODEL", "")).lower().startswith("kolmogorov") else "moffat"
    found = seeing_from_header(header)
    return {"seeing": found[0] if found else None, "moffat_beta": _header_float(header, "PSFBETA"),
            "psf_model": model, "gain": _header_float(header, "GAIN"),
            "noise": _header_float(header, *NOISE_KEYWORDS)}


def build_maps(
    output: np.ndarray,
    data: np.ndarray,
    *,
    spread: np.ndarray | None,
    out_wcs: WCS | None,
    in_wcs: WCS | None,
    factor: float,
    out_scale: float,
    seeing: float | None,
    moffat_beta: float | None = None,
    psf_model: str = "moffat",
    target_psf: str | None = "space",
    noise: float | np.ndarray | None = None,
    gain: float | None = None,
    support: np.ndarray | None = None,
) -> TrustMaps:
    """Assemble the `TrustMaps` of one `Deblurrer.deblur` call.

    ``spread`` holds the tiles' blended variances (turned into a standard deviation here, in
    place); ``seeing`` None means no consistency map; ``support`` is the guard's map (output grid).
    """
    maps = TrustMaps()
    if support is not None:
        support = np.asarray(support, dtype=np.float32)
        finite = np.isfinite(output)
        support[~finite] = np.nan
        maps.support = support
        maps.support_wcs = out_wcs.deepcopy() if out_wcs is not None else None
    if spread is not None:
        np.sqrt(spread, out=spread)
        spread[~np.isfinite(output)] = np.nan
        maps.uncertainty = spread
        maps.uncertainty_wcs = out_wcs.deepcopy() if out_wcs is not None else None
    chi_info = None
    if seeing is not None:
        beta = DEFAULT_MOFFAT_BETA if moffat_beta is None else float(moffat_beta)
        chi, chi_info = consistency_map(np.asarray(output), np.asarray(data, dtype=np.float64), factor=factor,
                                        output_pixel_scale=out_scale, seeing_fwhm=float(seeing),
                                        moffat_beta=beta, psf_model=psf_model, target_psf=target_psf,
                                        noise=noise, gain=gain)
        maps.consistency = chi
        maps.consistency_wcs = in_wcs.deepcopy() if in_wcs is not None else None
    pixel_noise = pixel_noise_of(data, factor=factor, noise=noise) if spread is not None else None
    maps.summary = summarise(np.asarray(output), maps.uncertainty, maps.consistency, pixel_noise=pixel_noise,
                             chi_info=chi_info)
    if maps.support is not None:
        values = maps.support[np.isfinite(maps.support)]
        maps.summary.support_fraction = float(values.mean()) if values.size else float("nan")
    return maps
