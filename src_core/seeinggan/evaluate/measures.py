"""Per-pair measures of the evaluation.

Seeing bins, flux in an aperture, invented sources, and the fidelity measures of
`seeinggan.metrics.fidelity` gathered per method (`pair_measures`).

Definitions (as in the report):

- flux error: ``(F_method - F_ref) / F_ref`` in an aperture around the galaxy (the connected
  region of the smoothed space image above 3 sigma that contains the peak nearest the stamp
  centre, grown by 5 pixels; the aperture is always drawn on the space image, as an astronomer
  would);
- invented sources: peaks of the (1-pixel Gaussian smoothed) output above 5 sigma of the space
  image's smoothed noise that also stand 5 sigma above their surroundings (the output smoothed
  over 0.3", so a ripple on a bright disk is not a source while an added star or clump is), with
  no peak above 3 sigma (same noise) in the reference within 0.15". Against a noisy space image,
  its own noise peaks can pass for counterparts; against the truth they cannot, so the truth
  gives the stricter (honest) count;
- band error, band power ratio (restoration band 0.5/FWHM-2/FWHM), Fourier-ring resolution,
  texture rms (in the flux aperture) and texture power ratio (2/FWHM up to the space grid's
  Nyquist frequency): `seeinggan.metrics.fidelity`, ``docs/metrics.md``.

Field libraries: the aperture's segments are `photutils.segmentation.detect_sources`
(4-connected, as ``scipy.ndimage.label`` before), the peaks `photutils.detection.find_peaks` (a
5 x 5 box), sky and noise `astropy.stats` (`seeinggan.transforms.measure_sky_noise`). On 50
held-out pairs x 5 images (ground, Richardson-Lucy at 80 and 800 iterations, the space image,
and it with 5 added point sources) they give the same apertures and the very same invented
sources (count and positions) as the scipy code they replaced.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from scipy import ndimage

from seeinggan.units import AngleLike, to_arcsec

__all__ = [
    "FIDELITY_METRICS",
    "SEEING_BIN_EDGES",
    "flux_aperture",
    "invented_source_positions",
    "invented_sources",
    "pair_measures",
    "relative_flux_error",
    "seeing_bin",
    "smoothed_noise",
]

SEEING_BIN_EDGES = (0.7, 0.9, 1.1)
"""Seeing bins (arcsec): < 0.7, 0.7-0.9, 0.9-1.1, >= 1.1."""
FIDELITY_METRICS = ("band_error", "band_power_ratio", "frc_scale_arcsec", "texture_rms", "texture_power_ratio")
"""Per-pair fidelity measures (`seeinggan.metrics.fidelity`), in the report's order."""

DETECT_SIGMA = 5.0
COUNTERPART_SIGMA = 3.0
MATCH_RADIUS_ARCSEC = 0.15
SURROUNDINGS_ARCSEC = 0.3



# ---------------------------------------------------------------------------------------------
# Pixel fidelity
# ---------------------------------------------------------------------------------------------


def seeing_bin(fwhm: float | None) -> str:
    """The seeing bin label of a FWHM in arcsec (``"unknown"`` when missing)."""
    if fwhm is None or not math.isfinite(float(fwhm)):
        return "unknown"
    edges = SEEING_BIN_EDGES
    if fwhm < edges[0]:
        return f'< {edges[0]}"'
    for low, high in zip(edges, edges[1:], strict=False):
        if fwhm < high:
            return f'{low}-{high}"'
    return f'>= {edges[-1]}"'


def _smoothed(image: np.ndarray, sigma: float) -> np.ndarray:
    from seeinggan.transforms import measure_sky_noise

    data = np.asarray(image, dtype=np.float64)
    sky, _ = measure_sky_noise(data)
    return ndimage.gaussian_filter(np.where(np.isfinite(data), data - sky, 0.0), sigma)


def flux_aperture(reference: np.ndarray, *, smooth: float = 2.0, grow: int = 5) -> np.ndarray:
    """Boolean aperture around the galaxy nearest the stamp centre (see the module docstring)."""
    from photutils.segmentation import detect_sources
    from photutils.utils import NoDetectionsWarning

    from seeinggan.transforms import measure_sky_noise

    smoothed = _smoothed(reference, smooth)
    _, noise = measure_sky_noise(smoothed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoDetectionsWarning)
        segments = detect_sources(smoothed, COUNTERPART_SIGMA * noise, 1, connectivity=4)
    labels, n = (segments.data, segments.n_labels) if segments is not None else (None, 0)
    rows, cols = reference.shape
    if n == 0:
        yy, xx = np.mgrid[:rows, :cols]
        return np.hypot(yy - (rows - 1) / 2, xx - (cols - 1) / 2) <= min(rows, cols) / 4
    peaks = ndimage.maximum_position(smoothed, labels, index=np.arange(1, n + 1))
    distance = [math.hypot(r - (rows - 1) / 2, c - (cols - 1) / 2) for r, c in peaks]
    region = labels == (int(np.argmin(distance)) + 1)
    return ndimage.binary_dilation(region, iterations=grow)


def relative_flux_error(test: np.ndarray, reference: np.ndarray, aperture: np.ndarray) -> float:
    """``(sum(test) - sum(reference)) / sum(reference)`` over the aperture's pixels finite in both."""
    valid = aperture & np.isfinite(test) & np.isfinite(reference)
    total = float(np.sum(reference[valid], dtype=np.float64))
    if not valid.any() or total <= 0:
        return float("nan")
    return (float(np.sum(test[valid], dtype=np.float64)) - total) / total


def _peaks(smoothed: np.ndarray, threshold: float, *, size: int = 5) -> np.ndarray:
    """``(row, col)`` of the local maxima (``size`` x ``size`` box) above ``threshold``, row-major order."""
    from photutils.detection import find_peaks
    from photutils.utils import NoDetectionsWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoDetectionsWarning)
        table = find_peaks(smoothed, threshold, box_size=size)
    if table is None:
        return np.empty((0, 2), dtype=np.intp)
    return np.column_stack([np.asarray(table["y_peak"]), np.asarray(table["x_peak"])]).astype(np.intp)


def smoothed_noise(image: np.ndarray, *, smooth: float = 1.0) -> float:
    """Sky noise of ``image`` after the Gaussian smoothing `invented_sources` applies (NaN-aware)."""
    from seeinggan.transforms import measure_sky_noise

    valid = np.isfinite(image)
    _, noise = measure_sky_noise(_smoothed(image, smooth)[valid])
    return float(noise)


def invented_sources(
    test: np.ndarray,
    reference: np.ndarray,
    *,
    pixel_scale: AngleLike,
    smooth: float = 1.0,
    noise: float | None = None,
) -> int:
    """Peaks in ``test`` with no counterpart in ``reference`` (see the module docstring).

    Both images on one grid, in the same flux units; NaN pixels of either are ignored.
    ``noise`` is the noise of the smoothed images that sets both thresholds; by default it is
    measured on the reference, which must then be noisy: for a noiseless truth pass the space
    image's (`smoothed_noise`). `invented_source_positions` says where they are. ``pixel_scale``
    is in arcsec/px (a float or an astropy Quantity).
    """
    return len(invented_source_positions(test, reference, pixel_scale=pixel_scale, smooth=smooth, noise=noise))


def invented_source_positions(
    test: np.ndarray,
    reference: np.ndarray,
    *,
    pixel_scale: AngleLike,
    smooth: float = 1.0,
    noise: float | None = None,
) -> np.ndarray:
    """The ``(row, col)`` pixels of the invented sources that `invented_sources` counts, ``[N, 2]``."""
    from seeinggan.transforms import measure_sky_noise

    pixel_scale = to_arcsec(pixel_scale, name="pixel_scale", per_pixel=True)
    valid = np.isfinite(test) & np.isfinite(reference)
    ref_s = _smoothed(np.where(valid, reference, np.nan), smooth)
    test_s = _smoothed(np.where(valid, test, np.nan), smooth)
    if noise is None:
        _, noise = measure_sky_noise(ref_s[valid])
    elif not noise > 0:
        raise ValueError(f"noise must be positive, got {noise!r}")
    found = _peaks(np.where(valid, test_s, -np.inf), DETECT_SIGMA * noise)
    # A source stands out from its surroundings: the output smoothed over SURROUNDINGS_ARCSEC.
    surroundings = ndimage.gaussian_filter(np.where(valid, test_s, 0.0), SURROUNDINGS_ARCSEC / pixel_scale)
    found = found[(test_s - surroundings)[found[:, 0], found[:, 1]] > DETECT_SIGMA * noise]
    truth = _peaks(np.where(valid, ref_s, -np.inf), COUNTERPART_SIGMA * noise)
    if len(found) == 0 or len(truth) == 0:
        return found
    radius = MATCH_RADIUS_ARCSEC / pixel_scale
    distance = np.hypot(found[:, None, 0] - truth[None, :, 0], found[:, None, 1] - truth[None, :, 1])
    return found[distance.min(axis=1) > radius]


def pair_measures(
    image: np.ndarray,
    reference: np.ndarray,
    *,
    valid: np.ndarray,
    aperture: np.ndarray,
    pixel_scale: AngleLike,
    seeing_fwhm: AngleLike | None,
) -> dict[str, float]:
    """The `FIDELITY_METRICS` of one method's ``image`` against ``reference`` (truth or space).

    ``valid``: the pixels that count (the ground image's footprint); ``aperture``: where texture
    rms is measured. Without a seeing the two band measures and the texture power ratio are NaN.
    ``pixel_scale`` (arcsec/px) and ``seeing_fwhm`` (arcsec) are floats or astropy Quantities.
    """
    from seeinggan.metrics.fidelity import (
        RESTORATION_BAND,
        TEXTURE_BAND,
        band_error,
        band_power_ratio,
        frc_resolution,
        texture_rms,
    )

    pixel_scale = to_arcsec(pixel_scale, name="pixel_scale", per_pixel=True)
    seeing_fwhm = to_arcsec(seeing_fwhm, name="seeing_fwhm")
    mask = ~valid
    out = {name: float("nan") for name in FIDELITY_METRICS}
    if seeing_fwhm is not None and math.isfinite(seeing_fwhm) and seeing_fwhm > 0:
        kw: dict[str, Any] = {"pixel_scale": pixel_scale, "seeing_fwhm": seeing_fwhm, "mask": mask}
        out["band_error"] = band_error(image, reference, band=RESTORATION_BAND, **kw)
        out["band_power_ratio"] = band_power_ratio(image, reference, band=RESTORATION_BAND, **kw)
        if TEXTURE_BAND[0] / seeing_fwhm < 0.5 / pixel_scale:
            out["texture_power_ratio"] = band_power_ratio(image, reference, band=TEXTURE_BAND, **kw)
    out["frc_scale_arcsec"] = frc_resolution(image, reference, pixel_scale=pixel_scale, mask=mask).scale_arcsec
    where = aperture & valid
    out["texture_rms"] = texture_rms(
        image, reference, pixel_scale=pixel_scale, mask=mask, where=where if where.any() else None
    )
    return out
