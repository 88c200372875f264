"""Sky and noise statistics come from astropy.stats (one definition of the MAD scale)."""

import numpy as np
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
