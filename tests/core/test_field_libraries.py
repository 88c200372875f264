"""Field libraries: sky and noise from astropy.stats (one definition of the MAD scale), sources from photutils."""

import numpy as np
import pytest
import torch
from astropy.stats import mad_std, sigma_clipped_stats
from seeinggan.metrics.cw_ssim import _noise_variance
from seeinggan.transforms import measure_sky_noise


def test_measure_sky_noise_is_astropys_sigma_clipped_median_and_mad_std():
    rng = np.random.default_rng(3)
    image = rng.normal(120.0, 4.0, (256, 256))
    yy, xx = np.mgrid[:256, :256]
    image += 3000.0 * np.exp(-((yy - 128) ** 2 + (xx - 100) ** 2) / (2 * 9.0**2))  # a galaxy
    image[5, 5] = np.nan
    sky, noise = measure_sky_noise(image)
    _, median, std = sigma_clipped_stats(image[np.isfinite(image)], sigma=3.0, maxiters=10,
                                         cenfunc="median", stdfunc="mad_std")
    assert (sky, noise) == (float(median), float(std))
    # and the galaxy does not pull them: the blank sky's own values within 1%
    assert abs(sky - 120.0) < 0.1 and abs(noise - 4.0) < 0.04


def test_cw_ssim_noise_variance_is_mad_std_squared_per_subband():
    # torch's median of an even count is the lower middle value (numpy's the mean of the two):
    # equal to astropy's mad_std within O(1/n): 0.5% here, n = 4096 (2048 where half is unusable).
    rng = np.random.default_rng(4)
    real = torch.from_numpy(rng.normal(0.0, 2.0, (2, 6, 64, 64)))
    imag = torch.from_numpy(rng.normal(0.0, 3.0, (2, 6, 64, 64)))
    real[0, 1, :3, :3] = 500.0  # a source: a few large coefficients the MAD ignores
    usable = torch.ones(2, 6, 64, 64, dtype=torch.bool)
    usable[1, 2, :, :32] = False
    got = _noise_variance(real, imag, usable).numpy()
    r, i, u = real.numpy(), imag.numpy(), usable.numpy()
    want = np.array([[mad_std(r[b, s][u[b, s]]) ** 2 + mad_std(i[b, s][u[b, s]]) ** 2 for s in range(6)]
                     for b in range(2)])
    np.testing.assert_allclose(got, want, rtol=1e-2)
    assert abs(got[1, 0] - 13.0) < 3.0  # 2**2 + 3**2


def test_detect_sources_finds_photutils_segments_with_hysteresis_and_measures_r90():
    from photutils.segmentation import detect_sources as photutils_segments
    from scipy import ndimage
    from seeinggan.data.detection import detect_sources

    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[:160, :200]
    image = 100.0 + rng.normal(0.0, 1.0, yy.shape)

    def gaussian(y, x, peak, sigma):
        return peak * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * sigma**2))

    image += gaussian(60.3, 70.6, 50.0, 4.0)  # bright: flux 2 pi 16 50 = 5027
    image += gaussian(110.0, 150.0, 20.0, 2.5)  # fainter, still well above 5 sigma
    image += gaussian(40.0, 160.0, 0.8, 3.0)  # smoothed peak ~3.4 sigma: a segment, not a source
    image[5:8, 5:8] = np.nan  # NaN pixels are masked, not sources
    sources = detect_sources(image)
    assert len(sources) == 2
    bright, faint = sources  # brightest first
    assert abs(bright.y - 60.3) < 0.1 and abs(bright.x - 70.6) < 0.1  # noise clipped at 0 pulls it a little
    assert bright.flux == pytest.approx(2 * np.pi * 16 * 50.0, rel=0.02)
    assert bright.r90 == pytest.approx(2.146 * 4.0, rel=0.05)  # 90 % of a Gaussian's flux within 2.146 sigma
    assert faint.r90 == pytest.approx(2.146 * 2.5, rel=0.08) and abs(faint.y - 110) < 0.15
    # the faint blob is one of photutils' 2-sigma segments (8-connected, >= 20 px) but never reaches 5 sigma
    work = np.nan_to_num(image - np.nanmedian(image))
    smoothed = ndimage.gaussian_filter(work, 1.5)
    noise = 1.0 / (2 * np.sqrt(np.pi) * 1.5)  # white noise of sigma 1 after that smoothing
    segments = photutils_segments(smoothed, 2 * noise, 20, connectivity=8)
    assert segments.data[40, 160] > 0 and smoothed[40, 160] < 5 * noise
