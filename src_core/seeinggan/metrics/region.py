"""Scoring a region: a box on the reference grid, tests brought onto it, then `score_table`.

Shared by ``seeinggan score`` and the napari "Score region" dock, so both put images on one grid
and score them the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS
from scipy import ndimage

from seeinggan.errors import SeeingGANError
from seeinggan.metrics.compare import score_table
from seeinggan.units import AngleLike, to_arcsec

__all__ = [
    "PixelBox",
    "RegionError",
    "box_from_pixels",
    "box_from_sky",
    "onto_region",
    "score_region",
    "seeing_from_header",
]

def seeing_from_header(header) -> float | None:
    """The seeing FWHM (arcsec) recorded in a FITS header or metadata mapping, or None.

    The keywords and their order are `seeinggan.models.conditions.SEEING_KEYWORDS` (one home);
    metadata mappings of simulated pairs give it as ``seeing_fwhm``.
    """
    from seeinggan.models.conditions import seeing_from_header as keyword_seeing

    if header is None:
        return None
    found = keyword_seeing(header)
    if found is not None:
        return found[0]
    try:
        value = float(header["seeing_fwhm"])
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    return value if math.isfinite(value) and value > 0 else None


class RegionError(SeeingGANError, ValueError):
    """A region that cannot be scored: outside the reference, or a test that does not overlap it."""


@dataclass(frozen=True)
class PixelBox:
    """A box of reference pixels: columns ``x0 <= x < x1``, rows ``y0 <= y < y1`` (0-based)."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def shape(self) -> tuple[int, int]:
        """The ``(rows, cols)`` of the box."""
        return (self.y1 - self.y0, self.x1 - self.x0)

    @property
    def slices(self) -> tuple[slice, slice]:
        """The numpy ``(rows, cols)`` slices of the box."""
        return (slice(self.y0, self.y1), slice(self.x0, self.x1))

    def as_list(self) -> list[int]:
        """The box as ``[x0, y0, x1, y1]``."""
        return [self.x0, self.y0, self.x1, self.y1]


def box_from_pixels(x0: float, y0: float, x1: float, y1: float, *, shape: tuple[int, int]) -> PixelBox:
    """The reference pixels whose centres lie in ``[x0, x1] x [y0, y1]``, clipped to the image.

    Pixel coordinates are 0-based, pixel centres at integers; corners in any order.

    Raises
    ------
    RegionError
        If the box holds no pixel of the image.
    """
    rows, cols = (int(n) for n in shape[-2:])

    def snapped(value: float) -> float:  # corners from coordinate transforms: 39.9999999 is 40
        nearest = round(value)
        return float(nearest) if abs(value - nearest) < 1e-6 else value

    xa, xb = sorted((snapped(float(x0)), snapped(float(x1))))
    ya, yb = sorted((snapped(float(y0)), snapped(float(y1))))
    box = PixelBox(
        max(0, math.ceil(xa)), max(0, math.ceil(ya)), min(cols, math.floor(xb) + 1), min(rows, math.floor(yb) + 1)
    )
    if box.x1 <= box.x0 or box.y1 <= box.y0:
        raise RegionError(
            f"the region x {xa:g}..{xb:g}, y {ya:g}..{yb:g} is outside the reference image "
            f"({cols} x {rows} pixels)"
        )
    return box


def box_from_sky(center: SkyCoord, width_arcsec: AngleLike, *, wcs: WCS, shape: tuple[int, int]) -> PixelBox:
    """A square of side ``width_arcsec`` (arcsec, or an angle Quantity) centred on ``center``, on the reference grid."""
    from seeinggan.geometry import pixel_scale

    width_arcsec = to_arcsec(width_arcsec, name="width_arcsec")
    if not width_arcsec > 0:
        raise RegionError(f"the region width must be positive, got {width_arcsec} arcsec")
    x, y = (float(v) for v in wcs.world_to_pixel(center))
    if not (math.isfinite(x) and math.isfinite(y)):
        raise RegionError(f"the region centre {center.to_string('decimal')} does not project onto the reference")
    half = width_arcsec / pixel_scale(wcs) / 2
    return box_from_pixels(x - half, y - half, x + half, y + half, shape=shape)


def _cutout_wcs(wcs: WCS, box: PixelBox) -> WCS:
    return wcs[box.y0 : box.y1, box.x0 : box.x1]


def onto_region(
    data: np.ndarray,
    *,
    box: PixelBox,
    reference_wcs: WCS | None = None,
    wcs: WCS | None = None,
    pixel_map: np.ndarray | None = None,
) -> np.ndarray:
    """Bring an image onto the reference pixels of ``box``, in flux per reference pixel.

    - ``wcs`` and ``reference_wcs``: `seeinggan.geometry.resample_to_grid` (``conserve="flux"``).
    - ``pixel_map``: a 3 x 3 affine from reference pixel ``(row, col, 1)`` to this image's pixel
      (for images without a WCS, e.g. napari layers placed by their transforms): cubic spline,
      values times the pixel-area ratio; pixels outside the image are NaN.
    - neither, or a ``wcs`` that describes the reference grid itself (`same_grid`): the image is
      on the reference grid already (same shape); it is cut out, not resampled.
    """
    from seeinggan.geometry import resample_to_grid

    data = np.asarray(data)
    if wcs is not None and reference_wcs is not None and not same_grid(wcs, reference_wcs, data.shape):
        return resample_to_grid(data, wcs, _cutout_wcs(reference_wcs, box), box.shape, order=3, conserve="flux")
    if pixel_map is not None:
        return _affine_onto_box(data, np.asarray(pixel_map, dtype=float), box)
    return np.asarray(data[box.slices], dtype=np.float64)


def same_grid(wcs: WCS, reference_wcs: WCS, shape: tuple[int, int], *, tolerance: float = 1e-6) -> bool:
    """True when ``wcs`` puts an image of ``shape`` on the reference grid already.

    Its corners and centre fall on the same reference pixels (to ``tolerance`` px).
    """
    rows, cols = (int(n) for n in shape[-2:])
    x = np.array([0, cols - 1, 0, cols - 1, (cols - 1) / 2])
    y = np.array([0, 0, rows - 1, rows - 1, (rows - 1) / 2])
    try:
        rx, ry = reference_wcs.world_to_pixel(wcs.pixel_to_world(x, y))
    except Exception:  # noqa: BLE001 - not comparable: resample instead
        return False
    return bool(np.all(np.abs(np.asarray(rx) - x) < tolerance) and np.all(np.abs(np.asarray(ry) - y) < tolerance))


def _affine_onto_box(data: np.ndarray, pixel_map: np.ndarray, box: PixelBox) -> np.ndarray:
    matrix = pixel_map[:2, :2]
    # Box pixel (r, c) is reference pixel (r + y0, c + x0).
    offset = pixel_map[:2, 2] + matrix @ np.array([box.y0, box.x0], dtype=float)
    values = np.asarray(data, dtype=np.float64)
    bad = ~np.isfinite(values)
    filled = np.where(bad, 0.0, values)
    out = ndimage.affine_transform(filled, matrix, offset, output_shape=box.shape, order=3, mode="constant",
                                   cval=np.nan)
    # NaN where the stencil touches a bad or outside pixel (bilinear support of the mask).
    touched = ndimage.affine_transform(
        bad.astype(float), matrix, offset, output_shape=box.shape, order=1, mode="constant", cval=1.0
    )
    out[touched > 0] = np.nan
    return out * abs(np.linalg.det(matrix))


def score_region(
    reference: np.ndarray,
    tests: Mapping[str, np.ndarray],
    *,
    box: PixelBox,
    mask: np.ndarray | None = None,
    pixel_scale: AngleLike | None = None,
    seeing_fwhm: AngleLike | None = None,
) -> list[dict]:
    """`score_table` of tests already on the box's grid against ``reference[box]``.

    With ``pixel_scale`` (arcsec per reference pixel; a float or an astropy Quantity, as
    ``seeing_fwhm``) the rows also hold the fidelity measures
    (band error and band power ratio need ``seeing_fwhm``, the seeing of the restored image; see
    `seeinggan.metrics.compare.score_table`).

    Each row also gets ``valid_fraction``: the fraction of the box where the test has data.

    Raises
    ------
    RegionError
        If a test has no finite pixel in the box (does not overlap it).
    RegionTooSmallError
        If the box is too small for CW-SSIM.
    """
    cut = np.asarray(reference[box.slices], dtype=np.float64)
    if not np.isfinite(cut).any():
        raise RegionError("the reference has no data in the region")
    fractions = {}
    for name, image in tests.items():
        if image.shape != cut.shape:
            raise RegionError(f"{name}: shape {image.shape} is not the region's {cut.shape}")
        fraction = float(np.isfinite(image).mean())
        if fraction == 0:
            raise RegionError(f"{name}: does not overlap the region")
        fractions[name] = fraction
    rows = score_table(cut, tests, mask=mask, pixel_scale=pixel_scale, seeing_fwhm=seeing_fwhm)
    for row in rows:
        row["valid_fraction"] = fractions[str(row["name"])]
    return rows
