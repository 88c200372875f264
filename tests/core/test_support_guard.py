"""The support guard (`seeinggan.infer.support`): detail only where the input supports it."""

from __future__ import annotations

import numpy as np
import pytest
from seeinggan.evaluate.suites import simulate_suite
from seeinggan.geometry import zoom_to_scale
from seeinggan.infer import Deblurrer
from seeinggan.infer.support import (
    GUARD_SIGMA,
    SupportGuard,
    starlet_noise_levels,
    starlet_transform,
    support_mask,
)
from seeinggan.metrics.fidelity import band_error
from seeinggan.simulate.psf import moffat_psf


def test_starlet_details_and_coarse_add_up_to_the_image():
    image = np.random.default_rng(0).normal(size=(64, 80))
    details, coarse = starlet_transform(image, levels=4)
    assert len(details) == 4
    np.testing.assert_allclose(sum(details) + coarse, image, atol=1e-12)
    # a constant has no detail at any scale
    flat_details, flat = starlet_transform(np.full((32, 32), 7.0), levels=3)
    assert max(np.abs(d).max() for d in flat_details) < 1e-12 and np.allclose(flat, 7.0)


@pytest.mark.parametrize("factor", [1.0, 0.202 / 0.03])
def test_noise_levels_match_resampled_noise_of_another_seed(factor):
    rng = np.random.default_rng(5)
    native = rng.normal(0.0, 2.0, (int(300 / factor) + 4,) * 2).astype(np.float32)
    image = native if factor == 1.0 else zoom_to_scale(native, factor=factor, order=3, conserve="flux")
    image = image[:300, :300].astype(np.float64)
    pixel_noise = float(np.std(image))
    details, _ = starlet_transform(image, levels=5)
    measured = np.array([np.std(d[40:-40, 40:-40]) for d in details])
    predicted = starlet_noise_levels(pixel_noise, factor=factor, levels=5)
    np.testing.assert_allclose(measured, predicted, rtol=0.15)


def _blurred_point(flux: float, *, fwhm_px: float, shape=(128, 128)) -> np.ndarray:
    psf = moffat_psf(fwhm=fwhm_px * 0.03, pixel_scale=0.03, shape=(63, 63))
    image = np.zeros(shape)
    r0, c0 = shape[0] // 2 - 31, shape[1] // 2 - 31
    image[r0:r0 + 63, c0:c0 + 63] = flux * psf / psf.sum()
    return image


def test_pure_noise_has_no_support_and_a_bright_source_has():
    rng = np.random.default_rng(1)
    noise = rng.normal(0.0, 1.0, (256, 256))
    assert support_mask(noise, seeing_pixels=30.0, pixel_noise=1.0, factor=1.0).mean() < 1e-3
    source = _blurred_point(3000.0, fwhm_px=30.0, shape=(256, 256)) + noise
    mask = support_mask(source, seeing_pixels=30.0, pixel_noise=1.0, factor=1.0)
    assert mask[128, 128] and 0 < mask.mean() < 0.2
    # the same source 20 times fainter is not significant at the resolution limit
    faint = _blurred_point(150.0, fwhm_px=30.0, shape=(256, 256)) + noise
    assert not support_mask(faint, seeing_pixels=30.0, pixel_noise=1.0, factor=1.0)[128, 128]


def test_guard_blurs_unsupported_detail_and_keeps_supported_detail():
    rng = np.random.default_rng(2)
    noise = rng.normal(0.0, 1.0, (1, 256, 256))
    inputs = noise + _blurred_point(3000.0, fwhm_px=30.0, shape=(256, 256))[None]
    # an output with a sharp source where the input has one, and a sharp spike where it has none
    outputs = np.zeros((1, 256, 256))
    outputs[0, 128, 128] = 500.0
    outputs[0, 30, 30] = 500.0
    guarded, weights = SupportGuard(seeing_pixels=30.0, factor=1.0).apply(inputs, outputs, pixel_noise=1.0)
    assert guarded[0, 128, 128] > 0.95 * 500.0  # supported: kept
    assert guarded[0, 30, 30] < 0.02 * 500.0  # unsupported: blurred over the seeing
    assert weights[0, 128, 128] > 0.95 and weights[0, 30, 30] < 0.05
    assert abs(guarded.sum() - outputs.sum()) < 0.01 * outputs.sum()  # flux kept


def test_guard_keeps_nan_pixels_nan_and_their_neighbours_finite():
    rng = np.random.default_rng(3)
    inputs = rng.normal(0.0, 1.0, (1, 128, 128))
    outputs = inputs.copy() + 5.0
    inputs[0, 60:64, 60:64] = np.nan
    outputs[0, 60:64, 60:64] = np.nan
    guarded, _ = SupportGuard(seeing_pixels=20.0, factor=1.0).apply(inputs, outputs, pixel_noise=1.0)
    assert np.isnan(guarded[0, 60:64, 60:64]).all()
    assert np.isfinite(guarded[0, :60]).all()
    # normalised smoothing: the NaN hole does not darken its neighbours
    assert abs(np.nanmean(guarded[0, 55:70, 55:70]) - 5.0) < 0.3


@pytest.fixture(scope="module")
def faint_smooth_disk():
    """Cutouts suite pair 295: a smooth disk filling its stamp at modest S/N (issue 9's failure)."""
    return simulate_suite("cutouts")[295]


def test_guard_removes_the_texture_the_network_paints_on_a_smooth_faint_disk(faint_smooth_disk):
    pair = faint_smooth_disk
    fwhm = pair.params["seeing_fwhm"]
    options = dict(wcs=pair.ground_wcs, seeing=fwhm, sky=0.0, noise=pair.params["ground_sky_noise"])
    raw = Deblurrer("default", support_guard=False).deblur(pair.ground, **options)
    guarded = Deblurrer("default").deblur(pair.ground, **options)
    ground = zoom_to_scale(pair.ground.astype(np.float32), factor=0.202 / 0.03)
    assert raw.data.shape == guarded.data.shape == ground.shape == pair.truth.shape

    def error(image):
        return band_error(image, pair.truth, pixel_scale=0.03, seeing_fwhm=fwhm)

    # The truth has almost nothing in the band; the network alone paints texture 10x the ground
    # image's noise there (526 vs 42 when measured); the guard takes it below the ground's.
    assert error(raw.data) > 5 * error(ground)
    assert error(guarded.data) < 0.2 * error(ground)
    assert abs(np.sum(guarded.data) / np.sum(raw.data) - 1) < 0.01
    assert guarded.metadata["support_guard"]["sigma"] == GUARD_SIGMA
    from seeinggan.infer.deblurrer import history_lines

    assert history_lines(guarded.metadata)[1] == "deblur: support guard, 5 sigma at 0.25-0.5 FWHM"
    assert all(len(line) <= 72 - len("seeinggan 0.1.0: ") for line in history_lines(guarded.metadata))
    assert raw.metadata["support_guard"] is None and len(history_lines(raw.metadata)) == 1


def test_guard_is_off_without_a_seeing_for_an_unconditioned_model():
    from seeinggan.models.generator import UNetGenerator

    generator = UNetGenerator(base_channels=4, n_down=2, n_res=1, residual=True)
    deblurrer = Deblurrer((generator, {"name": "tiny"}), tile=64)
    image = np.random.default_rng(4).normal(10.0, 1.0, (40, 40)).astype(np.float32)
    result = deblurrer.deblur(image, pixel_scale=0.03)
    assert result.metadata["support_guard"] is None
    guarded = deblurrer.deblur(image, pixel_scale=0.03, seeing=0.6)
    assert guarded.metadata["support_guard"] is not None
