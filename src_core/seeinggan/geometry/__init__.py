"""Pixel scales, WCS for new grids, sky affines for napari, and resampling (one home).

One module per job, every public name re-exported here (``seeinggan.geometry.NAME``):

- `seeinggan.geometry.wcs`: pixel scales, celestial and TAN WCS, finer grids (`upsampled_wcs`).
- `seeinggan.geometry.resample`: `resample_to_grid`, `zoom_to_scale`, `zoom_window`, `bin_image`,
  `pixel_box_kernel`.
- `seeinggan.geometry.sky`: napari sky affines and sky fields (`sky_affine`, `SkyFields`).
- `seeinggan.geometry.placement`: grids without a WCS (`finer_grid_placement`, `affine_from_points`).

Conventions (see ``docs/architecture.md``):

- Pixel scales are arcsec per pixel, the geometric mean of the two axes' scales.
- Arrays are ``(rows, cols)`` = ``(y, x)``; FITS/WCS pixel coordinates are ``(x, y)``, 0-based in
  astropy's ``pixel_to_world`` and 1-based in FITS headers (``CRPIX``). Conversions happen here only.
- napari world coordinates are arcsec offsets in a gnomonic (TAN) plane about a sky ``origin``:
  world axis 0 is the offset to the north, world axis 1 the offset to the west (``-dRA cos Dec``).
"""

from seeinggan.geometry.placement import affine_from_points, finer_grid_placement
from seeinggan.geometry.resample import (
    bin_image,
    pixel_box_kernel,
    resample_to_grid,
    zoom_to_scale,
    zoom_window,
)
from seeinggan.geometry.sky import (
    FIELD_RADIUS_DEG,
    SkyField,
    SkyFields,
    format_sky,
    sky_affine,
    sky_at_world,
    sky_center,
    wcs_from_sky_affine,
)
from seeinggan.geometry.wcs import (
    celestial_wcs,
    make_tan_wcs,
    pixel_scale,
    pixel_scale_from_header,
    upsampled_shape,
    upsampled_wcs,
)

__all__ = [
    "bin_image",
    "FIELD_RADIUS_DEG",
    "SkyField",
    "SkyFields",
    "celestial_wcs",
    "format_sky",
    "make_tan_wcs",
    "pixel_scale",
    "pixel_box_kernel",
    "pixel_scale_from_header",
    "resample_to_grid",
    "sky_affine",
    "sky_at_world",
    "sky_center",
    "upsampled_shape",
    "upsampled_wcs",
    "wcs_from_sky_affine",
    "zoom_to_scale",
    "zoom_window",
    "finer_grid_placement",
    "affine_from_points",
]
