"""Image-similarity metrics: CW-SSIM on a torch DT-CWT, SSIM and PSNR, and comparable units.

- `dtcwt_forward`: batched, differentiable 2-D DT-CWT (matches ``dtcwt.Transform2d``).
- `cw_ssim`: complex-wavelet SSIM (Sampat et al. 2009), the paper's headline metric.
- `ssim` (Wang et al. 2004, Gaussian window) and `psnr`, with the data range stated.
- `compare` / `score_table`: bring images to one documented unit scale and score them.
- `score_region` & co.: a box on the reference grid, tests resampled onto it, then scored.
- `band_error`, `band_power_ratio`, `fourier_ring_correlation`/`frc_resolution`, `texture_rms`,
  `periodic_peak`, `fidelity_scores`: fidelity measures that texture cannot game (`fidelity`).

Defaults and conventions are listed in ``docs/metrics.md``.
"""

from seeinggan.metrics._inputs import RegionTooSmallError
from seeinggan.metrics.compare import Normalisation, compare, normalisation, percent_change, score_table
from seeinggan.metrics.cw_ssim import DEFAULT_K, DEFAULT_LEVELS, DEFAULT_WINDOW, NOISE_K, cw_ssim
from seeinggan.metrics.dtcwt import DTCWTPyramid, dtcwt_forward, highpass_shapes, min_size_for_levels
from seeinggan.metrics.fidelity import (
    FRC_THRESHOLD,
    RESTORATION_BAND,
    TEXTURE_BAND,
    FRCResolution,
    PeriodicPeak,
    band_error,
    band_power_ratio,
    fidelity_scores,
    fourier_ring_correlation,
    frc_resolution,
    periodic_peak,
    texture_rms,
)
from seeinggan.metrics.region import (
    PixelBox,
    RegionError,
    box_from_pixels,
    box_from_sky,
    onto_region,
    score_region,
    seeing_from_header,
)
from seeinggan.metrics.ssim import psnr, ssim

__all__ = [
    "DEFAULT_K",
    "DEFAULT_LEVELS",
    "DEFAULT_WINDOW",
    "DTCWTPyramid",
    "FRCResolution",
    "FRC_THRESHOLD",
    "NOISE_K",
    "Normalisation",
    "PeriodicPeak",
    "PixelBox",
    "RESTORATION_BAND",
    "RegionError",
    "RegionTooSmallError",
    "TEXTURE_BAND",
    "band_error",
    "band_power_ratio",
    "box_from_pixels",
    "box_from_sky",
    "compare",
    "cw_ssim",
    "dtcwt_forward",
    "fidelity_scores",
    "fourier_ring_correlation",
    "frc_resolution",
    "highpass_shapes",
    "min_size_for_levels",
    "normalisation",
    "onto_region",
    "percent_change",
    "periodic_peak",
    "psnr",
    "score_region",
    "score_table",
    "seeing_from_header",
    "ssim",
    "texture_rms",
]
