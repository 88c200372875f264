"""Fidelity metrics (`seeinggan.metrics.fidelity`) with real numbers: a perfect restoration, the
blurred image against its analytic MTF weight, invented texture that games CW-SSIM, FRC of
identical and independent images, a planted lattice."""

from __future__ import annotations

import math

import numpy as np
import pytest
from seeinggan.metrics import (
    band_error,
    band_power_ratio,
    compare,
    fidelity_scores,
    fourier_ring_correlation,
    frc_resolution,
    periodic_peak,
    texture_rms,
)

PIXEL_SCALE = 0.03
FWHM = 0.6
N = 128
KW = {"pixel_scale": PIXEL_SCALE, "seeing_fwhm": FWHM}

YY, XX = np.mgrid[:N, :N] - (N - 1) / 2
FREQUENCY = np.hypot(
    *np.meshgrid(np.fft.fftfreq(N, d=PIXEL_SCALE), np.fft.fftfreq(N, d=PIXEL_SCALE))
)
MTF = np.exp(
    -2 * (np.pi * FREQUENCY * FWHM / (2 * math.sqrt(2 * math.log(2)))) ** 2
)  # Gaussian seeing


def _clumps(*, k: int, amp: float, seed: int, sigma: float = 1.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.zeros((N, N))
    for _ in range(k):
        radius, angle = rng.uniform(0, 25), rng.uniform(0, 2 * np.pi)
        y, x = radius * np.sin(angle), radius * np.cos(angle)
        image += amp * np.exp(-((YY - y) ** 2 + (XX - x) ** 2) / (2 * sigma**2))
    return image


def _blur(image: np.ndarray) -> np.ndarray:
    return np.fft.ifft2(np.fft.fft2(image) * MTF).real


DISK = 10 * np.exp(-np.hypot(XX, YY / 0.7) / 10)
TRUTH = DISK + _clumps(k=12, amp=4, seed=2)  # a disk with star-forming clumps, no noise
NOISE = 0.05


def _noise(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, NOISE, (N, N))


def test_perfect_restoration_scores_zero_error_and_unit_ratio():
    assert band_error(TRUTH, TRUTH, **KW) == 0.0
    assert band_power_ratio(TRUTH, TRUTH, **KW) == pytest.approx(1.0, abs=1e-12)
    # A common flux scale cancels in the ratio; an offset (sky) is removed with the mean.
    assert band_power_ratio(3 * TRUTH + 100, 3 * TRUTH, **KW) == pytest.approx(1.0, abs=1e-9)


def test_blurred_image_scores_its_mtf_weight():
    # A 256-pixel stamp with sky around the galaxy, so the Hann window hardly mixes frequencies.
    n = 256
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    frequency = np.hypot(
        *np.meshgrid(np.fft.fftfreq(n, d=PIXEL_SCALE), np.fft.fftfreq(n, d=PIXEL_SCALE))
    )
    mtf = np.exp(-2 * (np.pi * frequency * FWHM / (2 * math.sqrt(2 * math.log(2)))) ** 2)
    galaxy = 10 * np.exp(-np.hypot(xx, yy / 0.7) / 10) + 5 * np.exp(-((xx - 12) ** 2 + yy**2) / 8)
    blurred = np.fft.ifft2(np.fft.fft2(galaxy) * mtf).real
    power = np.abs(np.fft.fft2(galaxy)) ** 2
    band = (frequency >= 0.5 / FWHM) & (frequency <= 2 / FWHM)
    expected_error = float(np.sum(power[band] * (1 - mtf[band]) ** 2) / np.sum(power[band]))
    expected_ratio = float(np.sum(power[band] * mtf[band] ** 2) / np.sum(power[band]))
    # Gaussian 0.6" seeing keeps under 10% of the band's power on this galaxy.
    assert 0.6 < expected_error < 0.9 and expected_ratio < 0.1
    assert band_error(blurred, galaxy, **KW) == pytest.approx(expected_error, rel=0.03)
    # The window leaks a little unblurred low-frequency power into the band (measured +0.006).
    assert band_power_ratio(blurred, galaxy, **KW) == pytest.approx(expected_ratio, abs=0.01)


def test_invented_texture_games_cw_ssim_but_not_band_error():
    """The issue's finding in miniature: clumps of the right energy at the wrong places double
    CW-SSIM, which scores them the same against the reference rotated by 180 degrees; the band
    error says the result is worse than doing nothing, and the power ratio and texture rms show
    the invented structure."""
    space = TRUTH + _noise(1)
    rotated = space[::-1, ::-1]
    ground = _blur(TRUTH) + _noise(3)
    invented = _blur(DISK) + _clumps(k=20, amp=8, seed=9) + _noise(4)
    restored = TRUTH + _noise(5)

    cw_ground = compare(space, ground)["cw_ssim"]
    cw_invented = compare(space, invented)["cw_ssim"]
    cw_invented_rotated = compare(rotated, invented)["cw_ssim"]
    assert cw_invented > 1.4 * cw_ground  # measured 0.397 against 0.246
    assert abs(cw_invented - cw_invented_rotated) < 0.03  # measured 0.397 and 0.379

    error_ground = band_error(ground, TRUTH, **KW)
    error_invented = band_error(invented, TRUTH, **KW)
    assert error_ground < 0.8  # measured 0.65
    assert error_invented > 1.5 > error_ground  # measured 2.2: worse than the ground image
    assert band_power_ratio(invented, TRUTH, **KW) > 2  # measured 2.9
    assert texture_rms(invented, TRUTH, pixel_scale=PIXEL_SCALE) > 1.3  # measured 1.52
    assert texture_rms(ground, TRUTH, pixel_scale=PIXEL_SCALE) < 0.7  # measured 0.55

    # A true restoration: band error ~0 against the truth; the rotation is caught.
    assert band_error(restored, TRUTH, **KW) < 0.01
    assert band_error(restored, TRUTH[::-1, ::-1], **KW) > 0.3  # measured 0.35
    assert band_error(restored, space, **KW) < 0.01


def test_fourier_ring_correlation_of_identical_and_independent_images():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(N, N)), rng.normal(size=(N, N))
    frequencies, same = fourier_ring_correlation(a, a, pixel_scale=PIXEL_SCALE)
    assert frequencies[0] == pytest.approx(1 / (N * PIXEL_SCALE))
    assert frequencies[-1] == pytest.approx(0.5 / PIXEL_SCALE)
    np.testing.assert_allclose(same, 1.0, atol=1e-12)
    _, independent = fourier_ring_correlation(a, b, pixel_scale=PIXEL_SCALE)
    assert abs(float(np.mean(independent))) < 0.03
    assert float(np.mean(np.abs(independent[10:]))) < 0.1  # ~1/sqrt(pixels per ring)
    assert not frc_resolution(a, a, pixel_scale=PIXEL_SCALE).reached
    first = frc_resolution(a, b, pixel_scale=PIXEL_SCALE)
    assert first.reached and first.frequency < 10 / (N * PIXEL_SCALE)


def test_frc_resolution_of_a_blurred_image_follows_the_seeing():
    # White noise (power 1 per frequency) blurred by the seeing, plus independent noise of power
    # 1/4: FRC = MTF / sqrt(MTF^2 + 1/4) per ring, which is 0.5 where MTF = 1/sqrt(12).
    n = 256
    image = np.random.default_rng(1).normal(size=(n, n))
    frequency = np.hypot(
        *np.meshgrid(np.fft.fftfreq(n, d=PIXEL_SCALE), np.fft.fftfreq(n, d=PIXEL_SCALE))
    )
    sigma = FWHM / (2 * math.sqrt(2 * math.log(2)))
    blurred = np.fft.ifft2(np.fft.fft2(image) * np.exp(-2 * (np.pi * frequency * sigma) ** 2)).real
    noisy = blurred + np.random.default_rng(2).normal(0, 0.5, (n, n))
    expected = math.sqrt(math.log(12) / 4) / (math.pi * sigma)  # exp(-2 pi^2 s^2 f^2) = 12^-1/2
    resolution = frc_resolution(noisy, image, pixel_scale=PIXEL_SCALE)
    assert resolution.reached
    # Rings of ~40 pixels (fewer independent ones under the window) scatter by ~0.1: the first
    # crossing comes a little early (measured 0.85 against 0.98 cycles/arcsec).
    assert resolution.frequency == pytest.approx(expected, rel=0.2)
    assert resolution.scale_arcsec == pytest.approx(1 / resolution.frequency)
    # Without the noise, blurring alone keeps the phases: FRC ~1 wherever the MTF is not tiny.
    frequencies, frc = fourier_ring_correlation(blurred, image, pixel_scale=PIXEL_SCALE)
    assert np.all(frc[frequencies < 1.5] > 0.95)


def test_nans_and_masks_are_left_out_of_both_images():
    holed = TRUTH.copy()
    holed[10:20, 30:60] = np.nan
    # Pixels missing in one image are dropped from both: the pair still matches perfectly.
    assert band_error(holed, TRUTH, **KW) == 0.0
    mask = np.zeros((N, N), bool)
    mask[:, :8] = True
    garbage = TRUTH.copy()
    garbage[:, :8] = 1e6
    assert band_error(garbage, TRUTH, mask=mask, **KW) == 0.0
    with pytest.raises(ValueError, match="no pixel is finite"):
        band_error(np.full((N, N), np.nan), TRUTH, **KW)
    with pytest.raises(ValueError, match="differ in shape"):
        band_error(TRUTH[:-1], TRUTH, **KW)
    with pytest.raises(ValueError, match="too small"):
        band_error(TRUTH[:8, :8], TRUTH[:8, :8], pixel_scale=PIXEL_SCALE, seeing_fwhm=0.01)


def test_periodic_peak_finds_a_planted_lattice():
    rng = np.random.default_rng(3)
    sky = rng.normal(size=(256, 256))
    yy, xx = np.mgrid[:256, :256]
    lattice = 0.1 * (np.cos(2 * np.pi * xx / 16) + np.cos(2 * np.pi * yy / 16))
    plain = periodic_peak(sky)
    planted = periodic_peak(sky + lattice)
    assert plain.strength < 30  # white noise: the largest of ~50,000 ratios to a ring median
    assert planted.strength > 50  # measured 70 with an amplitude of a tenth of the noise
    assert planted.period == pytest.approx(16.0)
    # Soft seams every 64 pixels (a tiling stride): the strongest peak is one of their harmonics.
    distance = np.minimum(xx % 64, 64 - xx % 64)
    seams = periodic_peak(sky + 0.2 * np.exp(-(distance**2) / 18))
    assert seams.strength > 30  # measured 41
    assert (64 / seams.period) == pytest.approx(round(64 / seams.period), abs=0.01)


def test_fidelity_scores_for_one_pair():
    ground = _blur(TRUTH) + _noise(3)
    scores = fidelity_scores(ground, TRUTH, **KW)
    assert scores["band_error"] == pytest.approx(band_error(ground, TRUTH, **KW))
    assert scores["band_power_ratio"] < 0.1
    assert scores["texture_power_ratio"] > 0  # ground noise above 2/FWHM, the truth almost none
    assert scores["frc_reached"] and 0.3 < scores["frc_scale_arcsec"] < 1.0
    assert scores["texture_rms"] < 0.7
    assert set(scores) >= {"residual_peak_strength", "residual_peak_period", "frc_frequency"}
