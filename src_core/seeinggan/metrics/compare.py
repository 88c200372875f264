"""Scoring images against a reference in comparable units: one documented normalisation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from seeinggan.metrics.cw_ssim import NOISE_K, cw_ssim
from seeinggan.metrics.ssim import psnr, ssim
from seeinggan.units import AngleLike, to_arcsec

__all__ = [
    "FIDELITY_COLUMNS",
    "Normalisation",
    "normalisation",
    "compare",
    "fidelity_row",
    "score_table",
    "percent_change",
    "REFERENCE_PERCENTILE",
]

REFERENCE_PERCENTILE = 99.5
"""The reference's (sky-subtracted) percentile that becomes 1 after normalisation."""


@dataclass(frozen=True)
class Normalisation:
    """How a reference and its tests are put on one unit scale before scoring.

    ``normalised = (image - sky_of_that_image) / scale``, with ``scale`` from the reference.
    """

    reference_sky: float
    scale: float

    def apply(self, image: np.ndarray, *, mask: np.ndarray | None = None) -> np.ndarray:
        """Subtract ``image``'s own sky (sigma-clipped median) and divide by the reference scale."""
        from seeinggan.transforms import measure_sky_noise

        values = np.asarray(image, dtype=np.float64)
        sky, _noise = measure_sky_noise(values if mask is None else np.where(mask, np.nan, values))
        return (values - sky) / self.scale


def normalisation(reference: np.ndarray, *, mask: np.ndarray | None = None) -> Normalisation:
    """Measure the reference's sky and scale over its own valid (finite, unmasked) pixels.

    The sky is the sigma-clipped median (`seeinggan.transforms.measure_sky_noise`); the scale is
    the 99.5th percentile of the sky-subtracted reference, so the galaxy's bright core (not one hot
    pixel) sets the unit.

    Raises
    ------
    ValueError
        If the reference has no finite pixel, or nothing above its sky.
    """
    from seeinggan.transforms import measure_sky_noise

    values = np.asarray(reference, dtype=np.float64)
    if mask is not None:
        values = np.where(mask, np.nan, values)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise ValueError("the reference has no finite pixel in the region")
    sky, _noise = measure_sky_noise(finite)
    scale = float(np.percentile(finite - sky, REFERENCE_PERCENTILE))
    if not scale > 0:
        raise ValueError(
            f"the reference has no signal above its sky in the region (its {REFERENCE_PERCENTILE}th "
            "percentile is at the sky level); choose a region with a source in it"
        )
    return Normalisation(reference_sky=sky, scale=scale)


def compare(
    reference: np.ndarray,
    test: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    normalise: Normalisation | None = None,
) -> dict[str, float]:
    """CW-SSIM, SSIM and PSNR of ``test`` against ``reference``, in comparable units.

    Both images must be on the same pixel grid (resample the test onto the reference's grid with
    `seeinggan.geometry.resample_to_grid`, ``conserve="flux"``, so both are in flux per reference
    pixel). Then, the same way for every image scored against one reference:

    1. each image's own sky (sigma-clipped median) is subtracted;
    2. both are divided by one scale taken from the reference: the 99.5th percentile of its
       sky-subtracted pixels (`normalisation`), so the reference's bright core sits at 1;
    3. CW-SSIM (`cw_ssim` with ``k="noise"``: the stabiliser of each subband is the two images'
       noise variance there, so windows of sky noise score about 0.5 for every test and the
       galaxy's structure decides the ranking; levels and window are `cw_ssim`'s defaults,
       ``data_range=1``), SSIM (Gaussian window, ``data_range=1``) and PSNR (``data_range=1``)
       are computed; pixels that are NaN in either image, or masked, are excluded as each
       metric documents.

    The reference's sky and scale are measured on its own valid pixels, so every test scored
    against one reference (with one ``mask``) shares them.

    Parameters
    ----------
    reference, test : numpy.ndarray
        2-D images of the same shape, in the same flux units.
    mask : numpy.ndarray of bool, optional
        True where pixels are excluded.
    normalise : Normalisation, optional
        A precomputed `normalisation` of this reference (saves measuring it again per test).

    Returns
    -------
    dict
        ``{"cw_ssim": float, "ssim": float, "psnr": float}`` (PSNR in dB).
    """
    reference = np.asarray(reference, dtype=np.float64)
    test = np.asarray(test, dtype=np.float64)
    if reference.ndim != 2 or reference.shape != test.shape:
        raise ValueError(
            f"compare needs two 2-D images of one shape; got {reference.shape} and {test.shape}"
            " (resample the test image onto the reference grid first)"
        )
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
    if normalise is None:
        normalise = normalisation(reference, mask=mask)
    if not np.isfinite(test).any():
        raise ValueError("the test image has no finite pixel in the region")
    # The reference's sky is the one `normalisation` measured (same pixels, same estimator).
    ref_n = (reference - normalise.reference_sky) / normalise.scale
    test_n = normalise.apply(test, mask=mask)
    return {
        "cw_ssim": cw_ssim(ref_n, test_n, k=NOISE_K, data_range=1.0, mask=mask),
        "ssim": ssim(ref_n, test_n, data_range=1.0, mask=mask),
        "psnr": psnr(ref_n, test_n, data_range=1.0, mask=mask),
    }


def percent_change(value: float, baseline: float) -> float:
    """``100 * (value - baseline) / baseline``: the paper's Table 2 "percentage improvement"."""
    if baseline == 0 or not math.isfinite(baseline):
        return float("nan")
    return 100.0 * (value - baseline) / baseline


FIDELITY_COLUMNS = ("band_error", "band_power_ratio", "frc_scale_arcsec", "texture_rms")
"""The `seeinggan.metrics.fidelity` measures `score_table` adds when given the pixel scale."""


def fidelity_row(
    reference: np.ndarray,
    test: np.ndarray,
    *,
    pixel_scale: AngleLike,
    seeing_fwhm: AngleLike | None,
    mask: np.ndarray | None = None,
) -> dict[str, float]:
    """Band error, band power ratio, FRC resolution (arcsec) and texture rms of ``test`` against ``reference``.

    The first two are NaN without ``seeing_fwhm``; all come from `seeinggan.metrics.fidelity`, on
    the images as given. Every one of them is invariant to a common flux scale and to a constant
    sky.
    """
    from seeinggan.metrics.fidelity import band_error, band_power_ratio, frc_resolution, texture_rms

    pixel_scale = to_arcsec(pixel_scale, name="pixel_scale", per_pixel=True)
    seeing_fwhm = to_arcsec(seeing_fwhm, name="seeing_fwhm")
    row = {"band_error": float("nan"), "band_power_ratio": float("nan")}
    if seeing_fwhm is not None:
        kw: dict[str, Any] = {"pixel_scale": pixel_scale, "seeing_fwhm": float(seeing_fwhm), "mask": mask}
        row["band_error"] = band_error(test, reference, **kw)
        row["band_power_ratio"] = band_power_ratio(test, reference, **kw)
    row["frc_scale_arcsec"] = frc_resolution(test, reference, pixel_scale=pixel_scale, mask=mask).scale_arcsec
    row["texture_rms"] = texture_rms(test, reference, pixel_scale=pixel_scale, mask=mask)
    return row


def score_table(
    reference: np.ndarray,
    tests: Mapping[str, np.ndarray],
    *,
    mask: np.ndarray | None = None,
    pixel_scale: AngleLike | None = None,
    seeing_fwhm: AngleLike | None = None,
) -> list[dict[str, float | str]]:
    """Score several images against one reference, as the paper's Tables 1 and 2.

    Given the pixel scale, also by the fidelity measures that texture cannot game.

    Parameters
    ----------
    reference : numpy.ndarray
        The reference image (e.g. the space image).
    tests : mapping of str to numpy.ndarray
        Named test images on the reference's grid, in order; the first is the baseline of the
        CW-SSIM change.
    mask : numpy.ndarray of bool, optional
        True where pixels are excluded (for all tests).
    pixel_scale : float or astropy Quantity, optional
        Arcsec per pixel of the reference grid; with it every row also gets `FIDELITY_COLUMNS`
        (`fidelity_row`).
    seeing_fwhm : float or astropy Quantity, optional
        Seeing FWHM (arcsec) of the image that was restored: sets the band of ``band_error`` and
        ``band_power_ratio`` (NaN without it).

    Returns
    -------
    list of dict
        One row per test: ``name``, ``cw_ssim``, ``ssim``, ``psnr`` and ``cw_ssim_change_percent``
        (CW-SSIM change against the first test, in %; 0 for the first), and with ``pixel_scale``
        ``band_error``, ``band_power_ratio``, ``frc_scale_arcsec`` and ``texture_rms``.
    """
    pixel_scale = to_arcsec(pixel_scale, name="pixel_scale", per_pixel=True)
    seeing_fwhm = to_arcsec(seeing_fwhm, name="seeing_fwhm")
    normalise = normalisation(reference, mask=mask)
    rows: list[dict[str, float | str]] = []
    for name, image in tests.items():
        try:
            scores = compare(reference, image, mask=mask, normalise=normalise)
            if pixel_scale is not None:
                scores.update(
                    fidelity_row(reference, image, pixel_scale=pixel_scale, seeing_fwhm=seeing_fwhm, mask=mask)
                )
        except ValueError as error:
            raise type(error)(f"{name}: {error}") from error
        rows.append({"name": name, **scores})
    if rows:
        baseline = float(rows[0]["cw_ssim"])
        for row in rows:
            row["cw_ssim_change_percent"] = percent_change(float(row["cw_ssim"]), baseline)
    return rows
