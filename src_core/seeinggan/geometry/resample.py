"""Resampling onto another pixel grid: whole images, windows, binning; flux or surface brightness kept.

Cubic spline (`scipy.ndimage.affine_transform`) on the linearised pixel-to-pixel map, NaN-aware,
in row blocks so memory stays bounded.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from astropy.wcs import WCS
from scipy import ndimage

from seeinggan.geometry.wcs import upsampled_shape

__all__ = [
    "Conserve",
    "ZOOM_WINDOW_MARGIN",
    "bin_image",
    "pixel_box_kernel",
    "resample_to_grid",
    "zoom_to_scale",
    "zoom_window",
]

Conserve = Literal["flux", "surface_brightness"]


def zoom_to_scale(
    data: np.ndarray,
    *,
    factor: float,
    order: int = 3,
    conserve: Conserve = "flux",
) -> np.ndarray:
    """Resample an image onto a grid ``factor`` times finer (or coarser), edges aligned.

    The output has shape `upsampled_shape` ``(round(rows * factor), round(cols * factor))`` and
    matches the grid of `upsampled_wcs` with the same ``factor``: output pixel ``j`` (0-based)
    samples input position ``(j + 0.5) / factor - 0.5``.

    Parameters
    ----------
    data : numpy.ndarray
        2-D image, or a stack ``(..., rows, cols)`` resampled plane by plane.
    factor : float
        Input pixel scale over output pixel scale (for example ``0.202 / 0.03``).
    order : int, optional
        Spline order (3 = cubic; 1 = bilinear; 0 = nearest).
    conserve : {"flux", "surface_brightness"}, optional
        ``"flux"`` divides values by ``factor**2`` so that totals are kept (counts per pixel);
        ``"surface_brightness"`` keeps values.

    Returns
    -------
    numpy.ndarray
        float32 (float64 if ``data`` is float64). NaN input pixels stay NaN in the output over
        at most the spline's support; see `resample_to_grid`.
    """
    if factor <= 0:
        raise ValueError(f"factor must be positive, got {factor}")
    rows, cols = upsampled_shape(data.shape, factor)[-2:]
    out_shape = (rows, cols)
    matrix = np.diag([1.0 / factor, 1.0 / factor])
    offset = np.full(2, 0.5 / factor - 0.5)
    return _resample_affine(data, matrix, offset, out_shape, order=order, conserve=conserve)


ZOOM_WINDOW_MARGIN = 16
"""Input pixels read beyond a window on each side by `zoom_window`.

The cubic spline's prefilter is a recursive filter whose influence decays as 0.268 per pixel, so
16 pixels (plus the 12 of edge padding) leave differences from the whole-frame result near float32
rounding (0.268**16 ~ 7e-10)."""


def zoom_window(
    data: np.ndarray,
    *,
    factor: float,
    rows: tuple[int, int],
    cols: tuple[int, int],
    order: int = 3,
    conserve: Conserve = "flux",
    margin: int = ZOOM_WINDOW_MARGIN,
) -> np.ndarray:
    """The block ``[rows[0]:rows[1], cols[0]:cols[1]]`` of ``zoom_to_scale(data, factor=factor)``.

    Only the input pixels under the block plus ``margin`` on each side are read and resampled,
    so a frame of any size can be resampled piece by piece in bounded memory (``data`` may be a
    memory map). Pieces agree with the whole-frame result to float rounding: the grid, the NaN
    mask and the edge handling are those of `zoom_to_scale`.

    Parameters
    ----------
    data : numpy.ndarray
        2-D image (any byte order, float or integer).
    factor : float
        Input pixel scale over output pixel scale, as in `zoom_to_scale`.
    rows, cols : tuple of int
        Half-open ranges of output rows and columns; must lie within
        ``upsampled_shape(data.shape, factor)``.
    order, conserve
        As in `zoom_to_scale`.
    margin : int, optional
        Extra input pixels read around the window (see `ZOOM_WINDOW_MARGIN`).

    Returns
    -------
    numpy.ndarray
        float32 block of shape ``(rows[1] - rows[0], cols[1] - cols[0])``.
    """
    if factor <= 0:
        raise ValueError(f"factor must be positive, got {factor}")
    if data.ndim != 2:
        raise ValueError(f"zoom_window takes a 2-D image, got shape {data.shape}")
    full = upsampled_shape(data.shape, factor)
    (r0, r1), (c0, c1) = (int(v) for v in rows), (int(v) for v in cols)
    if not (0 <= r0 < r1 <= full[0] and 0 <= c0 < c1 <= full[1]):
        raise ValueError(f"window rows {rows}, cols {cols} outside the output grid {full}")
    scale = 1.0 / factor
    # Output pixel j samples input position (j + 0.5) / factor - 0.5 (see zoom_to_scale).
    lo_r = int(np.floor((r0 + 0.5) * scale - 0.5)) - margin
    hi_r = int(np.ceil((r1 - 0.5) * scale - 0.5)) + margin + 1
    lo_c = int(np.floor((c0 + 0.5) * scale - 0.5)) - margin
    hi_c = int(np.ceil((c1 - 0.5) * scale - 0.5)) + margin + 1
    # A box kernel (downsampling) reaches half a destination pixel further.
    reach = int(np.ceil(scale / 2.0)) + 1 if scale > 1.0 else 0
    lo_r, lo_c = max(0, lo_r - reach), max(0, lo_c - reach)
    hi_r, hi_c = min(data.shape[0], hi_r + reach), min(data.shape[1], hi_c + reach)
    window = np.asarray(data[lo_r:hi_r, lo_c:hi_c], dtype=np.float32)
    matrix = np.diag([scale, scale])
    offset = np.array([(r0 + 0.5) * scale - 0.5 - lo_r, (c0 + 0.5) * scale - 0.5 - lo_c])
    # Where the window is cut inside the frame, its edge lies >= margin input pixels beyond the
    # block, so `_resample_affine`'s outside-the-footprint test only ever fires at real edges.
    return _resample_affine(window, matrix, offset, (r1 - r0, c1 - c0), order=order, conserve=conserve).astype(
        np.float32, copy=False
    )


def bin_image(data: np.ndarray, factor: int, *, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Sum ``factor x factor`` blocks of pixels: a grid ``factor`` times coarser, totals kept.

    The grid is that of ``upsampled_wcs(wcs, 1 / factor)`` (edges aligned): output pixel ``j``
    covers input pixels ``j * factor .. (j + 1) * factor - 1``. The output has
    ``upsampled_shape(data.shape, 1 / factor)`` (rounded) unless ``shape`` says otherwise; a last
    block cut by the edge of the image counts as the mean of its pixels times ``factor`` (per
    axis), and input pixels beyond the last whole block that the rounding drops are left out.
    A block with a NaN pixel is NaN.

    Parameters
    ----------
    data : numpy.ndarray
        2-D image in flux units per pixel.
    factor : int
        Block side in pixels (>= 1).
    shape : tuple of int, optional
        Output ``(rows, cols)``; each at most one more than ``n // factor``.

    Returns
    -------
    numpy.ndarray
        float32 (float64 for float64 input).
    """
    k = int(factor)
    if k < 1 or k != factor:
        raise ValueError(f"bin_image needs a whole number of pixels per block, got {factor}")
    array = np.asarray(data)
    out_dtype = np.float64 if array.dtype == np.float64 else np.float32
    out_shape = upsampled_shape(array.shape, 1.0 / k) if shape is None else shape
    result = np.asarray(array, dtype=np.float64)
    for axis, n_out in enumerate(out_shape):
        n = result.shape[axis]
        whole = min(n // k, int(n_out))
        if int(n_out) > whole + 1 or (int(n_out) > whole and n - whole * k == 0):
            raise ValueError(f"cannot bin {n} pixels by {k} into {n_out}")
        moved = np.moveaxis(result, axis, 0)
        summed = moved[: whole * k].reshape(whole, k, *moved.shape[1:]).sum(axis=1)
        if int(n_out) > whole:
            partial = moved[whole * k :].mean(axis=0, keepdims=True) * k
            summed = np.concatenate([summed, partial], axis=0)
        result = np.moveaxis(summed, 0, axis)
    return result.astype(out_dtype, copy=False)


def resample_to_grid(
    data: np.ndarray,
    src_wcs: WCS,
    dst_wcs: WCS,
    dst_shape: tuple[int, int],
    *,
    order: int = 3,
    conserve: Conserve = "flux",
) -> np.ndarray:
    """Put an image onto another pixel grid described by a WCS.

    The pixel-to-pixel map ``dst -> sky -> src`` is linearised at the centre of the destination
    grid (exact for two TAN grids with the same tangent point, and accurate to far below a pixel
    for the few-arcminute fields this package handles) and applied with a spline of ``order``.

    When a destination pixel is larger than a source pixel along a source axis, the source is
    first averaged over a box of the destination pixel's width along that axis (the detector's
    own pixel integration), so downsampling does not alias and totals are kept.

    NaN handling: NaN/inf source pixels are filled from their nearest finite neighbour before
    interpolation (so no ringing), and every destination pixel whose interpolation stencil
    touches one is set to NaN: a NaN grows by less than the spline's support (2 source pixels for
    a cubic, plus the box half-width when downsampling). Destination pixels whose centre falls
    outside the source footprint are NaN.

    Parameters
    ----------
    data : numpy.ndarray
        2-D source image, or a stack ``(..., rows, cols)`` resampled plane by plane.
    src_wcs, dst_wcs : astropy.wcs.WCS
        2-D celestial WCSs of the source and destination grids.
    dst_shape : tuple of int
        Destination ``(rows, cols)``.
    order : int, optional
        Spline order (3 = cubic).
    conserve : {"flux", "surface_brightness"}, optional
        ``"flux"`` multiplies values by the destination/source pixel-area ratio so that totals are
        kept (counts per pixel); ``"surface_brightness"`` keeps values.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., *dst_shape)``, float32 (float64 if ``data`` is float64).
    """
    rows, cols = (int(n) for n in dst_shape[-2:])
    # Linearise dst pixel (x, y) -> src pixel (x, y) at the destination centre with central
    # differences of one pixel (the map is smooth on this scale).
    cx, cy = (cols - 1) / 2.0, (rows - 1) / 2.0
    px = np.array([cx, cx + 1, cx - 1, cx, cx])
    py = np.array([cy, cy, cy, cy + 1, cy - 1])
    # High-level coordinates, so that grids in different frames (ICRS, FK5, galactic) agree.
    sky = dst_wcs.pixel_to_world(px, py)
    sx, sy = src_wcs.world_to_pixel(sky)
    sx, sy = np.asarray(sx), np.asarray(sy)
    if not (np.all(np.isfinite(sx)) and np.all(np.isfinite(sy))):
        raise ValueError("the destination grid's centre does not project onto the source grid")
    jac_xy = np.array(
        [[(sx[1] - sx[2]) / 2, (sx[3] - sx[4]) / 2], [(sy[1] - sy[2]) / 2, (sy[3] - sy[4]) / 2]]
    )
    # In (row, col) order: src_rc = M @ dst_rc + offset.
    matrix = np.array([[jac_xy[1, 1], jac_xy[1, 0]], [jac_xy[0, 1], jac_xy[0, 0]]])
    centre_src = np.array([sy[0], sx[0]])
    offset = centre_src - matrix @ np.array([cy, cx])
    return _resample_affine(data, matrix, offset, (rows, cols), order=order, conserve=conserve)


def pixel_box_kernel(width: float) -> np.ndarray:
    """A normalised 1-D box of (possibly non-integer) ``width`` pixels, centred.

    The integration over a coarser pixel: weights are the overlaps of each pixel with the box
    (fractional at both ends), summing to 1. Used before downsampling here, and for the ground
    pixel on the space grid (`seeinggan.evaluate.ground_psf_on_space_grid`).
    """
    half = width / 2.0
    n = int(np.ceil(half - 0.5))
    k = np.arange(-n, n + 1, dtype=float)
    # Overlap of pixel [k - 0.5, k + 0.5] with [-half, half].
    weights = np.clip(np.minimum(k + 0.5, half) - np.maximum(k - 0.5, -half), 0.0, None)
    return weights / weights.sum()


_RESAMPLE_BLOCK_PIXELS = 1 << 18
"""Output pixels per scipy call in `_resample_affine` (~10-20 ms each with a cubic spline)."""


def _resample_affine(
    data: np.ndarray,
    matrix: np.ndarray,
    offset: np.ndarray,
    out_shape: tuple[int, int],
    *,
    order: int,
    conserve: Conserve,
) -> np.ndarray:
    """Resample the last two axes with ``src_rc = matrix @ dst_rc + offset`` (the shared core)."""
    if conserve not in ("flux", "surface_brightness"):
        raise ValueError(f"conserve must be 'flux' or 'surface_brightness', got {conserve!r}")
    data = np.asarray(data)
    if data.ndim < 2:
        raise ValueError(f"need an image of at least 2 dimensions, got shape {data.shape}")
    if data.ndim > 2:
        planes = [
            _resample_affine(p, matrix, offset, out_shape, order=order, conserve=conserve)
            for p in data.reshape((-1, *data.shape[-2:]))
        ]
        return np.stack(planes).reshape((*data.shape[:-2], *out_shape))

    out_dtype = np.float64 if data.dtype == np.float64 else np.float32
    work = np.asarray(data, dtype=np.float64)
    bad = ~np.isfinite(work)
    any_bad = bool(bad.any())
    if any_bad:
        if bad.all():
            return np.full(out_shape, np.nan, dtype=out_dtype)
        # Fill from the nearest finite pixel: a smooth fill keeps the spline from ringing.
        idx = ndimage.distance_transform_edt(bad, return_distances=False, return_indices=True)
        work = work[tuple(idx)]

    # Pixel integration before downsampling: a box of the destination pixel's extent along each
    # source axis (row norm of the map), only where that extent exceeds one source pixel.
    extents = np.linalg.norm(matrix, axis=1)
    grow = [0, 0]
    for axis, width in enumerate(extents):
        if width > 1.0 + 1e-6:
            kernel = pixel_box_kernel(float(width))
            work = ndimage.convolve1d(work, kernel, axis=axis, mode="nearest")
            grow[axis] = len(kernel) // 2

    # The spline coefficients once (as scipy's own prefilter does: 12 edge pixels of padding),
    # then the output a block of rows at a time: scipy holds the GIL for a whole call, and
    # short calls keep a GUI thread beside this one responsive while large images resample.
    npad = 12 if order > 1 else 0
    if order > 1:
        work = ndimage.spline_filter(np.pad(work, npad, mode="edge"), order, output=np.float64, mode="nearest")
    out = np.empty(out_shape, dtype=out_dtype)
    rows_per_call = max(1, _RESAMPLE_BLOCK_PIXELS // max(1, out_shape[1]))
    for start in range(0, out_shape[0], rows_per_call):
        stop = min(out_shape[0], start + rows_per_call)
        ndimage.affine_transform(
            work, matrix, offset=offset + matrix[:, 0] * start + npad, output_shape=(stop - start, out_shape[1]),
            order=order, mode="nearest", prefilter=False, output=out[start:stop],
        )

    # Destination pixels whose centre lies outside the source footprint (broadcast, no meshgrid).
    rr = np.arange(out_shape[0], dtype=np.float64)[:, None]
    cc = np.arange(out_shape[1], dtype=np.float64)[None, :]
    src_r = matrix[0, 0] * rr + matrix[0, 1] * cc + offset[0]
    outside = (src_r < -0.5) | (src_r > data.shape[0] - 0.5)
    del src_r
    src_c = matrix[1, 0] * rr + matrix[1, 1] * cc + offset[1]
    outside |= (src_c < -0.5) | (src_c > data.shape[1] - 0.5)
    del src_c

    if any_bad:
        # A B-spline of order k reaches source pixels closer than (k + 1) / 2 to a point (a cubic:
        # < 2 pixels). Grow the mask by that reach less one pixel (plus the box half-width) and
        # flag every point closer than one pixel to the grown mask (bilinear weight > 0).
        reach = int(np.ceil((order + 1) / 2.0)) - 1 if order > 0 else 0
        structure = np.ones((2 * (reach + grow[0]) + 1, 2 * (reach + grow[1]) + 1), dtype=bool)
        grown = ndimage.binary_dilation(bad, structure=structure) if structure.size > 1 else bad
        touched = ndimage.affine_transform(
            grown.astype(np.float32), matrix, offset=offset, output_shape=out_shape,
            order=1 if order > 0 else 0, mode="constant", cval=0.0, prefilter=False,
        )
        # 1e-3 of a pixel of slack: a cubic's weight there is ~(1e-3)**3 / 6, immaterial, and
        # it keeps round-off in the linearised map from flagging a whole extra row.
        out[touched > 1e-3] = np.nan

    out[outside] = np.nan
    if conserve == "flux":
        out *= abs(float(np.linalg.det(matrix)))
    return out.astype(out_dtype, copy=False)


