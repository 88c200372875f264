"""Uncertainty and consistency maps: the dihedral spread, the chi map's calibration, the API,
and the planted-artefact check (a fake clump added to a deblurred image is flagged above 5 sigma)."""

import numpy as np
import pytest
import torch
from astropy.coordinates import SkyCoord
from seeinggan import geometry
from seeinggan.data.augment import dihedral, inverse_dihedral
from seeinggan.infer import Deblurrer
from seeinggan.infer.maps import (
    CONSISTENCY_SIGMA,
    consistency_map,
    dihedral_forward,
    flag_unstable,
    flagged_flux_fraction,
    reblur_to_input,
    sky_noise_of_input,
)
from seeinggan.models import UNetGenerator
from seeinggan.simulate import simulate_pair

GROUND = 0.202
SPACE = 0.03


def _random_generator(seed=0):
    torch.manual_seed(seed)
    return UNetGenerator(base_channels=4, n_down=2, n_res=1, residual=False)


def _ramp_forward(batch):
    """Not rotation-equivariant: adds a ramp along the columns of whatever it is given."""
    cols = np.arange(batch.shape[-1], dtype=np.float64)
    return batch + 0.1 * cols


@pytest.mark.parametrize("shape", [(2, 16, 16), (3, 16, 24)])
def test_dihedral_spread_is_the_std_over_the_eight_views(shape):
    tiles = np.random.default_rng(1).normal(size=shape)
    output, variance = dihedral_forward(_ramp_forward, tiles)
    np.testing.assert_allclose(output, _ramp_forward(tiles))  # the identity view, unchanged
    views = np.stack([inverse_dihedral(_ramp_forward(dihedral(tiles, k)), k) for k in range(8)])
    np.testing.assert_allclose(variance, views.var(axis=0), rtol=1e-9, atol=1e-12)
    assert variance.max() > 0.01
    # An equivariant (pointwise) network has no spread at all.
    _, none = dihedral_forward(lambda b: 2.0 * b + 1.0, tiles)
    assert none.max() < 1e-20


def test_calls_batch_one_tile_s_eight_views_per_pass():
    sizes = []

    def forward(batch):
        sizes.append(len(batch))
        return batch

    dihedral_forward(forward, np.zeros((3, 8, 8)), views_per_pass=8)
    assert sizes == [8, 8, 8]


def _pair(seed=3, **kwargs):
    return simulate_pair(seed=seed, space_shape=(128, 128), psf="moffat", seeing_fwhm=0.8,
                         morphology="bulge+disk", field_star_rate=0.0, **kwargs)


def test_chi_of_the_noiseless_truth_is_unit_normal():
    """The forward model is right: the truth, re-blurred and binned, matches the ground image
    within its noise (chi mean ~0, std ~1), and a wrong seeing does not."""
    pair = _pair()
    factor = pair.truth.shape[0] / pair.ground.shape[0]
    kwargs = {"factor": factor, "output_pixel_scale": SPACE, "moffat_beta": pair.params["moffat_beta"],
              "gain": float(pair.ground_header["GAIN"]), "noise": float(pair.ground_header["SKYNOISE"])}
    chi, _ = consistency_map(pair.truth, pair.ground, seeing_fwhm=0.8, **kwargs)
    assert chi.shape == pair.ground.shape
    assert abs(float(np.median(chi))) < 0.4
    assert 0.8 < float(np.std(chi)) < 1.2
    assert np.abs(chi).max() < 4.5
    wrong, _ = consistency_map(pair.truth, pair.ground, seeing_fwhm=0.6, **kwargs)
    assert np.max(np.abs(wrong)) > 5 * np.max(np.abs(chi))
    # Re-blurring by the whole seeing, forgetting the space PSF the truth carries, is off by
    # far more than the noise at this bright bulge.
    twice, _ = consistency_map(pair.truth, pair.ground, seeing_fwhm=0.8, target_psf=None, psf_error=0.0,
                               **kwargs)
    assert np.max(np.abs(twice)) > 2 * np.max(np.abs(chi)) and np.max(np.abs(twice)) > 10


def test_input_noise_is_measured_on_the_sky():
    """Where the image shows sky, the measured noise is the sky noise; on a stamp filled by a bright
    galaxy it can only come out too high (chi too small: flags stay conservative), never too low."""
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[:80, :80]
    field = rng.normal(0.0, 0.6, (80, 80)) + 200.0 * np.exp(-((yy - 30) ** 2 + (xx - 50) ** 2) / (2 * 4.0**2))
    assert sky_noise_of_input(field)[1] == pytest.approx(0.6, rel=0.05)
    filled = _pair(seed=3)
    assert sky_noise_of_input(filled.ground)[1] > 0.9 * float(filled.ground_header["SKYNOISE"])


def test_reblur_conserves_flux():
    rng = np.random.default_rng(0)
    image = np.zeros((135, 135))
    image[40:90, 50:80] = rng.uniform(0, 1, (50, 30))
    binned = reblur_to_input(image, factor=GROUND / SPACE, output_pixel_scale=SPACE, seeing_fwhm=0.7)
    assert binned.shape == (20, 20)
    assert binned.sum() == pytest.approx(image.sum(), rel=1e-3)


@pytest.fixture(scope="module")
def shipped():
    return Deblurrer("default", device="cpu")


def test_planted_clump_is_flagged_above_5_sigma(shipped):
    """Add a compact clump (150 times the sky noise: ~2% of this galaxy's light) to a deblurred
    image: the ground data do not contain it, so the consistency map must flag it."""
    pair = _pair(seed=5)
    header = pair.ground_header
    seeing, beta, gain = float(header["SEEING"]), float(header["PSFBETA"]), float(header["GAIN"])
    noise = float(header["SKYNOISE"])  # as from a whole frame's sky (a 3.8" stamp has too little)
    result = shipped.deblur(pair.ground, wcs=pair.ground_wcs, consistency=True, seeing=seeing,
                            moffat_beta=beta, gain=gain, noise=noise)
    chi_before = result.consistency

    planted = np.array(result.data, dtype=np.float64)
    rows, cols = planted.shape
    yy, xx = np.mgrid[:rows, :cols]
    centre = (rows * 0.3, cols * 0.7)  # off the nucleus, on the galaxy's outskirts
    clump_flux = 150.0 * noise
    assert clump_flux < 0.03 * float(np.nansum(result.data))
    sigma_px = 1.5  # 0.045": compact, unresolved by the ground data
    planted += clump_flux * np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / (2 * sigma_px**2)) / (
        2 * np.pi * sigma_px**2)
    chi_after, _ = consistency_map(planted, pair.ground, factor=result.metadata["resample_factor"],
                                   output_pixel_scale=result.pixel_scale, seeing_fwhm=seeing, moffat_beta=beta,
                                   gain=gain, noise=noise)
    x, y = pair.ground_wcs.world_to_pixel(result.wcs.pixel_to_world(centre[1], centre[0]))
    r, c = round(float(y)), round(float(x))
    patch = (slice(r - 1, r + 2), slice(c - 1, c + 2))
    assert chi_after[patch].max() > CONSISTENCY_SIGMA
    # The clump itself is what the map flags: chi rises by more than 5 sigma where it was planted
    # (the output there may already disagree a little with the data before the plant).
    assert (chi_after - chi_before)[patch].max() > CONSISTENCY_SIGMA


def _wcs(shape, scale=GROUND):
    return geometry.make_tan_wcs(center=SkyCoord(150.0, 2.0, unit="deg"), pixel_scale=scale, shape=shape)


def test_deblur_returns_both_maps_with_their_grids_wcs():
    deblurrer = Deblurrer((_random_generator(), {"name": "random"}), device="cpu", tile=64, overlap=16)
    rng = np.random.default_rng(0)
    data = rng.normal(5.0, 0.3, (30, 26)).astype(np.float32)
    data[12:16, 10:14] += 20.0
    data[2, 3] = np.nan
    wcs = _wcs(data.shape)
    plain = deblurrer.deblur(data, wcs=wcs, seeing=0.8)
    assert plain.maps is None and plain.uncertainty is None and plain.consistency is None
    result = deblurrer.deblur(data, wcs=wcs, uncertainty=True, consistency=True, seeing=0.8)
    np.testing.assert_array_equal(result.data, plain.data)  # maps never change the output
    maps = result.maps
    assert maps.uncertainty.shape == result.data.shape and maps.uncertainty.dtype == np.float32
    assert maps.uncertainty_wcs.to_header() == result.wcs.to_header()
    assert maps.consistency.shape == data.shape
    assert maps.consistency_wcs.to_header() == wcs.to_header()
    assert np.isnan(maps.consistency[2, 3]) and np.isnan(maps.uncertainty).any()
    finite = np.isfinite(maps.uncertainty)
    assert (maps.uncertainty[finite] >= 0).all() and maps.uncertainty[finite].max() > 0
    summary = maps.summary
    assert 0.0 <= summary.flagged_flux_fraction <= 1.0 and summary.source_pixels > 0
    assert summary.chi_fraction_above is not None and "unstable" in summary.one_line()
    assert result.metadata["maps"]["relative_threshold"] == summary.relative_threshold
    # Only one map when only one is asked for; no seeing, no consistency map.
    only = deblurrer.deblur(data, wcs=wcs, uncertainty=True)
    assert only.consistency is None and only.uncertainty is not None
    with pytest.raises(ValueError, match="seeing"):
        deblurrer.deblur(data, wcs=wcs, consistency=True)


def test_flagged_fraction_counts_unstable_source_flux():
    rows = cols = 64
    yy, xx = np.mgrid[:rows, :cols]
    output = 100.0 * np.exp(-((yy - 32) ** 2 + (xx - 32) ** 2) / (2 * 6.0**2))
    output += np.random.default_rng(0).normal(0, 0.1, output.shape)
    spread = np.full(output.shape, 0.01)
    assert flagged_flux_fraction(output, spread, pixel_noise=0.01) == 0.0
    spread[:, 32:] = 0.5 * np.abs(output[:, 32:]) + 0.01  # the right half is unstable
    fraction = flagged_flux_fraction(output, spread, pixel_noise=0.01)
    # half the galaxy, plus the smoothing across the divide (a 0.5 x flux spread, smoothed over
    # 2 px, still exceeds the 4% threshold a few pixels into the stable half)
    assert 0.45 < fraction < 0.75
    source, flagged, levels = flag_unstable(output, spread, pixel_noise=0.01)
    assert flagged[32, 40] and not flagged[32, 20] and not source[0, 0]
    assert levels["relative_threshold"] == pytest.approx(0.04) and levels["noise_threshold"] == 5.0
    # A wobble the data cannot resolve (below 5 x the pixel noise) is not flagged, even in the sky.
    quiet = np.full(output.shape, 0.04)
    assert not flag_unstable(output, quiet, pixel_noise=0.01)[1][0, 0]
    assert flag_unstable(output, quiet, pixel_noise=0.005)[1][0, 0]
