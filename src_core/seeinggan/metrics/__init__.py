"""Image-similarity metrics: CW-SSIM on a torch DT-CWT, SSIM and PSNR, and comparable units.

- `dtcwt_forward`: batched, differentiable 2-D DT-CWT (matches ``dtcwt.Transform2d``).
- `cw_ssim`: complex-wavelet SSIM (Sampat et al. 2009), the paper's headline metric.
- `ssim` (Wang et al. 2004, Gaussian window) and `psnr`, with the data range stated.
- `compare` / `score_table`: bring images to one documented unit scale and score them.
- `score_region` & co.: a box on the reference grid, tests resampled onto it, then scored.

Defaults and conventions are listed in ``docs/metrics.md``.
"""

from seeinggan.metrics._inputs import RegionTooSmallError
from seeinggan.metrics.compare import Normalisation, compare, normalisation, percent_change, score_table
from seeinggan.metrics.cw_ssim import DEFAULT_K, DEFAULT_LEVELS, DEFAULT_WINDOW, NOISE_K, cw_ssim
from seeinggan.metrics.region import PixelBox, RegionError, box_from_pixels, box_from_sky, onto_region, score_region
from seeinggan.metrics.dtcwt import DTCWTPyramid, dtcwt_forward, highpass_shapes, min_size_for_levels
from seeinggan.metrics.ssim import psnr, ssim

__all__ = [
    "DEFAULT_K",
    "DEFAULT_LEVELS",
    "DEFAULT_WINDOW",
    "DTCWTPyramid",
    "NOISE_K",
    "Normalisation",
    "PixelBox",
    "RegionError",
    "RegionTooSmallError",
    "box_from_pixels",
    "box_from_sky",
    "compare",
    "cw_ssim",
    "dtcwt_forward",
    "highpass_shapes",
    "min_size_for_levels",
    "normalisation",
    "onto_region",
    "percent_change",
    "psnr",
    "score_region",
    "score_table",
    "ssim",
]
