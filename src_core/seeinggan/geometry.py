"""Pixel scales, WCS for new grids, sky affines for napari, and resampling (one home).

Conventions (see ``docs/architecture.md``):

- Pixel scales are arcsec per pixel, the geometric mean of the two axes' scales.
- Arrays are ``(rows, cols)`` = ``(y, x)``; FITS/WCS pixel coordinates are ``(x, y)``, 0-based in
  astropy's ``pixel_to_world`` and 1-based in FITS headers (``CRPIX``). Conversions happen here only.
- napari world coordinates are arcsec offsets in a gnomonic (TAN) plane about a sky ``origin``:
  world axis 0 is the offset to the north, world axis 1 the offset to the west (``-dRA cos Dec``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_area
from scipy import ndimage

__all__ = [
    "bin_image",
    "FIELD_RADIUS_DEG",
    "SkyField",
    "SkyFields",
    "celestial_wcs",
    "format_sky",
    "make_tan_wcs",
    "pixel_scale",
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

Conserve = Literal["flux", "surface_brightness"]


# --------------------------------------------------------------------------------------------
# WCS basics
# --------------------------------------------------------------------------------------------


def pixel_scale(wcs: WCS) -> float:
    """Pixel scale of a celestial WCS in arcsec per pixel.

    The geometric mean of the two axes' scales (the square root of the pixel area), measured at
    the reference pixel.

    Parameters
    ----------
    wcs : astropy.wcs.WCS
        A WCS with celestial axes (extra axes, e.g. a cube's spectral axis, are ignored).

    Returns
    -------
    float
        Arcsec per pixel.
    """
    cel = wcs.celestial if wcs.naxis != 2 else wcs
    if not cel.has_celestial:
        raise ValueError("pixel_scale needs a celestial WCS (RA/Dec axes); this one has none")
    area_deg2 = proj_plane_pixel_area(cel)
    return float(np.sqrt(area_deg2) * 3600.0)


PIXEL_SCALE_KEYWORDS = ("PIXSCALE", "PIXSCAL1", "SECPIX", "SECPIX1", "PIXSIZE", "PLTSCALE")
"""Header keywords that give a pixel scale in arcsec/px (without a WCS), in order of preference."""

_ANGLE_UNITS_ARCSEC = {"deg": 3600.0, "degree": 3600.0, "degrees": 3600.0, "arcmin": 60.0,
                       "arcsec": 1.0, "mas": 1e-3, "rad": 180.0 / np.pi * 3600.0}


def pixel_scale_from_header(header) -> float | None:
    """A pixel scale (arcsec/px) recorded in a header without a usable celestial WCS.

    In order: `PIXEL_SCALE_KEYWORDS` (arcsec/px), then ``CDELT1``/``CDELT2`` (or ``CD1_1``...)
    when ``CUNIT1`` is an angle or ``CTYPE1`` names a sky longitude (degrees by the FITS
    default). The geometric mean of the two axes when both are given. None when nothing fits.

    Parameters
    ----------
    header : astropy.io.fits.Header or mapping
        Header keywords.

    Returns
    -------
    float or None
    """
    if header is None:
        return None
    from astropy.io.fits.verify import VerifyError

    def number(key):
        try:
            value = float(header[key])
        except (KeyError, TypeError, ValueError, IndexError, VerifyError):  # missing or unparsable
            return None
        return value if math.isfinite(value) and value != 0 else None

    def text(key) -> str:
        try:
            return str(header.get(key, "") or "")
        except VerifyError:  # an unparsable card reads as absent
            return ""

    for key in PIXEL_SCALE_KEYWORDS:
        value = number(key)
        if value is not None and value > 0:
            return value
    unit = text("CUNIT1").strip().lower()
    ctype = text("CTYPE1").strip().upper()
    if unit in _ANGLE_UNITS_ARCSEC:
        to_arcsec = _ANGLE_UNITS_ARCSEC[unit]
    elif ctype[:4] in ("RA--", "GLON", "ELON") or ctype.startswith("RA"):
        to_arcsec = 3600.0
    else:
        return None
    d1, d2 = number("CDELT1"), number("CDELT2")
    if d1 is None:
        d1, d2 = number("CD1_1"), number("CD2_2")
    if d1 is None:
        return None
    step = math.sqrt(abs(d1 * d2)) if d2 is not None else abs(d1)
    return float(step * to_arcsec)


def celestial_wcs(header: fits.Header) -> WCS | None:
    """The 2-D celestial WCS of a FITS header, or None when it has no celestial axes.

    Parameters
    ----------
    header : astropy.io.fits.Header
        An image header (2-D image or cube).

    Returns
    -------
    astropy.wcs.WCS or None
        A 2-D WCS whose pixel axes are the image's (x, y), or None when the header describes no
        RA/Dec axes.

    Raises
    ------
    ValueError
        When the header has WCS keywords that astropy cannot parse (the message says why).
    """
    with warnings.catch_warnings():
        # astropy "fixes" old-style keywords (RADECSYS, DATE-OBS formats) and says so: harmless.
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header)
        except Exception as exc:  # astropy raises several types for broken WCS keywords
            raise ValueError(f"the WCS keywords cannot be parsed: {exc}") from exc
    if not wcs.has_celestial:
        return None
    cel = wcs.celestial
    if cel.naxis != 2 or wcs.wcs.lng < 0 or wcs.wcs.lat < 0:
        return None
    # The celestial axes must be the image's first two pixel axes (x, y) to describe the plane.
    if sorted((wcs.wcs.lng, wcs.wcs.lat)) != [0, 1]:
        return None
    try:
        world = cel.pixel_to_world_values(0.0, 0.0)
        position = cel.pixel_to_world(0.0, 0.0)
    except Exception as exc:
        raise ValueError(f"the celestial WCS cannot be evaluated: {exc}") from exc
    if not isinstance(position, SkyCoord):  # e.g. a frame astropy cannot name: a list back
        raise ValueError("the celestial WCS does not give sky positions (unknown frame)")  # noqa: TRY004 - a bad header value
    if not np.all(np.isfinite(np.asarray(world, dtype=float))):
        raise ValueError("the celestial WCS gives no finite sky position at pixel (0, 0)")
    matrix = cel.pixel_scale_matrix
    if not abs(np.linalg.det(matrix)) > 1e-10 * float(np.sum(matrix**2)):
        raise ValueError("the celestial WCS matrix (CD or PC x CDELT) is singular")
    if header.get("NAXIS1") is not None and header.get("NAXIS2") is not None:
        cel.pixel_shape = (int(header["NAXIS1"]), int(header["NAXIS2"]))
    return cel


def make_tan_wcs(
    *,
    center: SkyCoord,
    pixel_scale: float,
    shape: tuple[int, int],
    rotation_deg: float = 0.0,
) -> WCS:
    """A gnomonic (TAN) WCS with the centre of an array at ``center``.

    Parameters
    ----------
    center : astropy.coordinates.SkyCoord
        Sky position of the array's centre (converted to ICRS).
    pixel_scale : float
        Arcsec per pixel (both axes).
    shape : tuple of int
        Array shape ``(rows, cols)``.
    rotation_deg : float, optional
        Position angle of the image's +y axis, east of north, in degrees (``-CROTA2`` in the
        AIPS convention). 0 gives north up, east left (RA grows to the left), as in DS9.

    Returns
    -------
    astropy.wcs.WCS
        A 2-D celestial WCS with ``pixel_shape`` set.
    """
    if pixel_scale <= 0:
        raise ValueError(f"pixel_scale must be positive, got {pixel_scale}")
    rows, cols = (int(n) for n in shape)
    scale_deg = pixel_scale / 3600.0
    rho = np.deg2rad(rotation_deg)
    # FITS pixels are 1-based: the centre of an n-pixel axis is at (n + 1) / 2.
    # Columns of CD are the (east, north) steps of +x and +y: +y points at position angle rho.
    wcs = _tan_wcs(center, crpix=[(cols + 1) / 2.0, (rows + 1) / 2.0],
                   cd=0.0 + scale_deg * np.array([[-np.cos(rho), np.sin(rho)], [np.sin(rho), np.cos(rho)]]))
    wcs.pixel_shape = (cols, rows)
    return wcs


def _tan_wcs(origin: SkyCoord, *, crpix, cd: np.ndarray) -> WCS:
    """An ICRS gnomonic (TAN) WCS about ``origin`` with 1-based ``crpix`` and ``cd`` (deg/px)."""
    icrs = origin.icrs
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.radesys = "ICRS"
    wcs.wcs.crval = [float(icrs.ra.deg), float(icrs.dec.deg)]
    wcs.wcs.crpix = crpix
    wcs.wcs.cd = cd
    wcs.wcs.set()
    return wcs


def upsampled_shape(shape: tuple[int, ...], factor: float) -> tuple[int, ...]:
    """Shape of a grid ``factor`` times finer: the last two axes become ``round(n * factor)``."""
    if factor <= 0:
        raise ValueError(f"factor must be positive, got {factor}")
    lead = tuple(int(n) for n in shape[:-2])
    return lead + tuple(max(1, round(int(n) * factor)) for n in shape[-2:])


def upsampled_wcs(wcs: WCS, factor: float, shape: tuple[int, ...] | None = None) -> WCS:
    """The WCS of a grid ``factor`` times finer covering the same footprint.

    Pixel edges are aligned: the outer edge of the first input pixel is the outer edge of the
    first output pixel, and for an integer ``factor`` each input pixel is split into
    ``factor x factor`` output pixels. In FITS 1-based terms
    ``crpix_out = (crpix_in - 0.5) * factor + 0.5`` and the CD matrix is divided by ``factor``.
    SIP distortion coefficients are rescaled so that the distortion is kept.

    Parameters
    ----------
    wcs : astropy.wcs.WCS
        A 2-D celestial WCS.
    factor : float
        Ratio of input to output pixel scale (> 1 makes a finer grid; non-integer allowed).
    shape : tuple of int, optional
        Input array shape ``(rows, cols)``; when given, the output's ``pixel_shape`` is set to
        `upsampled_shape`.

    Returns
    -------
    astropy.wcs.WCS
    """
    if factor <= 0:
        raise ValueError(f"factor must be positive, got {factor}")
    out = wcs.deepcopy()
    # Rewrite PC/CDELT/CD as one CD matrix divided by the factor.
    cd = wcs.pixel_scale_matrix
    out.wcs.crpix = (np.asarray(wcs.wcs.crpix, dtype=float) - 0.5) * factor + 0.5
    if out.wcs.has_cd():
        out.wcs.cd = cd / factor
    else:
        out.wcs.cdelt = np.asarray(wcs.wcs.cdelt, dtype=float) / factor
    if wcs.sip is not None:
        out.sip = _scaled_sip(wcs.sip, factor, out.wcs.crpix)
    out.wcs.set()
    if shape is not None:
        rows, cols = upsampled_shape(tuple(shape), factor)
        out.pixel_shape = (cols, rows)
    elif wcs.pixel_shape is not None:
        cols, rows = wcs.pixel_shape
        rows, cols = upsampled_shape((rows, cols), factor)
        out.pixel_shape = (cols, rows)
    return out


def _scaled_sip(sip, factor: float, crpix_out):
    # SIP: x = CD (u + A(u, v)) with u in input pixels. With u = u'/f the output's polynomial has
    # coefficients A'_pq = A_pq f^(1 - p - q); the inverse polynomials scale the same way.
    from astropy.wcs import Sip

    def scale(coeffs):
        if coeffs is None:
            return None
        c = np.array(coeffs, dtype=float)
        p, q = np.indices(c.shape)
        return c * factor ** (1.0 - p - q)

    return Sip(scale(sip.a), scale(sip.b), scale(sip.ap), scale(sip.bp), crpix_out)


# --------------------------------------------------------------------------------------------
# Resampling
# --------------------------------------------------------------------------------------------


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


def _box_kernel(width: float) -> np.ndarray:
    """A normalised 1-D box of (possibly non-integer) ``width`` pixels, centred."""
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
            kernel = _box_kernel(float(width))
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


# --------------------------------------------------------------------------------------------
# napari world coordinates: arcsec offsets in a TAN plane about a sky origin
# --------------------------------------------------------------------------------------------


def _tan_offsets_arcsec(ra_deg, dec_deg, origin: SkyCoord) -> tuple[np.ndarray, np.ndarray]:
    """Gnomonic (north, west) offsets in arcsec of sky positions about ``origin``."""
    o = origin.icrs
    a0, d0 = np.deg2rad(o.ra.deg), np.deg2rad(o.dec.deg)
    a, d = np.deg2rad(np.asarray(ra_deg, float)), np.deg2rad(np.asarray(dec_deg, float))
    cos_c = np.sin(d0) * np.sin(d) + np.cos(d0) * np.cos(d) * np.cos(a - a0)
    if np.any(cos_c <= 0.05):
        raise ValueError(
            "positions more than ~87 degrees from the sky origin cannot be put on its tangent plane"
        )
    east = np.cos(d) * np.sin(a - a0) / cos_c
    north = (np.cos(d0) * np.sin(d) - np.sin(d0) * np.cos(d) * np.cos(a - a0)) / cos_c
    rad2arcsec = 180.0 / np.pi * 3600.0
    return north * rad2arcsec, -east * rad2arcsec


def sky_affine(
    wcs: WCS,
    *,
    origin: SkyCoord,
    shape: tuple[int, int] | None = None,
    offset: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """The 3x3 affine mapping array (row, col) to napari world (north, west) arcsec offsets.

    World coordinates are gnomonic offsets about ``origin``: axis 0 to the north, axis 1 to the
    west (``-dRA cos Dec``). The affine is a least-squares fit over a 5x5 grid of points spanning
    the image (exact when the WCS is a TAN projection with tangent point ``origin``; otherwise
    accurate to far below a pixel for fields of a few arcminutes). Rotations and flips (for
    example east to the right) are carried by the matrix.

    Parameters
    ----------
    wcs : astropy.wcs.WCS
        2-D celestial WCS of the image.
    origin : astropy.coordinates.SkyCoord
        The tangent point of the world plane (napari's world origin).
    shape : tuple of int, optional
        Image ``(rows, cols)``; defaults to ``wcs.pixel_shape``, else a 2x2 pixel patch around
        the reference pixel.
    offset : tuple of float, optional
        World position (arcsec) of the tangent point ``origin``: a field's plane placed away from
        napari's world origin (see `SkyFields`).

    Returns
    -------
    numpy.ndarray
        ``(3, 3)`` homogeneous matrix: ``[world0, world1, 1] = A @ [row, col, 1]``.
    """
    if shape is not None:
        rows, cols = (int(n) for n in shape[-2:])
        r = np.linspace(0, rows - 1, 5)
        c = np.linspace(0, cols - 1, 5)
    elif wcs.pixel_shape is not None:
        cols, rows = wcs.pixel_shape
        r = np.linspace(0, rows - 1, 5)
        c = np.linspace(0, cols - 1, 5)
    else:
        x0, y0 = np.asarray(wcs.wcs.crpix, float) - 1.0
        r = np.array([y0 - 1, y0, y0 + 1])
        c = np.array([x0 - 1, x0, x0 + 1])
    if len(np.unique(r)) < 2:
        r = np.array([r[0] - 0.5, r[0] + 0.5])
    if len(np.unique(c)) < 2:
        c = np.array([c[0] - 0.5, c[0] + 0.5])
    grid_r, grid_c = np.meshgrid(r, c, indexing="ij")
    rr, cc = grid_r.ravel(), grid_c.ravel()
    sky = wcs.pixel_to_world(cc, rr).icrs
    north, west = _tan_offsets_arcsec(sky.ra.deg, sky.dec.deg, origin)
    design = np.column_stack([rr, cc, np.ones_like(rr)])
    coef, *_ = np.linalg.lstsq(design, np.column_stack([north, west]), rcond=None)
    affine = np.eye(3)
    affine[:2, :] = coef.T
    affine[:2, 2] += np.asarray(offset, dtype=float)
    return affine


def wcs_from_sky_affine(
    affine: np.ndarray,
    *,
    origin: SkyCoord,
    shape: tuple[int, int] | None = None,
    offset: tuple[float, float] = (0.0, 0.0),
) -> WCS:
    """The TAN WCS of an image whose (row, col) -> world map is ``affine`` (inverse of `sky_affine`).

    The tangent point (``CRVAL``) is ``origin`` and the reference pixel is wherever the world
    origin falls (possibly outside the image); the map is exact for the affine given.

    Parameters
    ----------
    affine : numpy.ndarray
        ``(3, 3)`` homogeneous matrix (row, col) -> (north, west) arcsec, as from `sky_affine`.
    origin : astropy.coordinates.SkyCoord
        The tangent point of the world plane.
    shape : tuple of int, optional
        Image ``(rows, cols)``, stored as the WCS's ``pixel_shape``.
    offset : tuple of float, optional
        World position (arcsec) of the tangent point, as given to `sky_affine`.

    Returns
    -------
    astropy.wcs.WCS
    """
    a = np.asarray(affine, dtype=float)
    if a.shape != (3, 3):
        raise ValueError(f"need a 3x3 affine, got shape {a.shape}")
    m, t = a[:2, :2], a[:2, 2] - np.asarray(offset, dtype=float)
    # Intermediate world coordinates (xi east, eta north) in degrees against pixel (x=col, y=row).
    cd = np.array([[-m[1, 1], -m[1, 0]], [m[0, 1], m[0, 0]]]) / 3600.0
    shift = np.array([-t[1], t[0]]) / 3600.0
    if abs(np.linalg.det(cd)) < 1e-30:
        raise ValueError("the affine is singular: it does not map pixels onto the sky")
    ref0 = -np.linalg.solve(cd, shift)  # 0-based (x, y) of the tangent point
    wcs = _tan_wcs(origin, crpix=ref0 + 1.0, cd=cd)
    if shape is not None:
        rows, cols = (int(n) for n in shape[-2:])
        wcs.pixel_shape = (cols, rows)
    return wcs


def sky_center(wcs: WCS, shape: tuple[int, int]) -> SkyCoord:
    """Sky position of the centre of an image of ``shape`` ``(rows, cols)`` with ``wcs``."""
    rows, cols = (int(n) for n in shape[-2:])
    position = wcs.pixel_to_world((cols - 1) / 2.0, (rows - 1) / 2.0)
    if not isinstance(position, SkyCoord):  # a corrupt header: the axes are not a sky frame
        raise ValueError("the WCS does not give sky positions (its celestial frame is unknown)")  # noqa: TRY004 - a bad header value
    return position.icrs


def _plane_wcs(origin: SkyCoord) -> WCS:
    """A TAN WCS whose 0-based "pixel" (x, y) is the (west, north) offset in arcsec about origin."""
    # x (west) grows against RA, y (north) with Dec: xi = -x, eta = y (arcsec -> deg).
    return _tan_wcs(origin, crpix=[1.0, 1.0], cd=np.array([[-1.0, 0.0], [0.0, 1.0]]) / 3600.0)


def sky_at_world(
    world: np.ndarray, *, origin: SkyCoord, offset: tuple[float, float] = (0.0, 0.0)
) -> SkyCoord:
    """Sky positions of napari world points (the inverse gnomonic projection of `sky_affine`).

    Parameters
    ----------
    world : array-like
        ``(..., 2)`` world coordinates (axis 0 north, axis 1 west), arcsec.
    origin : astropy.coordinates.SkyCoord
        Tangent point of the plane.
    offset : tuple of float, optional
        World position of the tangent point (see `SkyFields`).

    Returns
    -------
    astropy.coordinates.SkyCoord
        ICRS positions, of the shape of ``world[..., 0]``.
    """
    w = np.asarray(world, dtype=float) - np.asarray(offset, dtype=float)
    ra, dec = _plane_wcs(origin).wcs_pix2world(w[..., 1], w[..., 0], 0)
    return SkyCoord(np.asarray(ra) * u.deg, np.asarray(dec) * u.deg, frame="icrs")


def format_sky(coord: SkyCoord) -> str:
    """One position as DS9 shows it: ``22:00:00.000 -30:00:00.00 (330.000000, -30.000000)``.

    Sexagesimal RA (hours) and Dec (degrees), then decimal degrees, all ICRS.
    """
    icrs = coord.icrs
    ra = icrs.ra.to_string(unit=u.hourangle, sep=":", precision=3, pad=True)
    dec = icrs.dec.to_string(unit=u.deg, sep=":", precision=2, pad=True, alwayssign=True)
    return f"{ra} {dec} ({icrs.ra.deg:.6f}, {icrs.dec.deg:+.6f})"


FIELD_RADIUS_DEG = 1.0
"""An image whose centre lies farther than this from every open field's tangent point starts a
field of its own (a tangent plane is accurate to far below a pixel within a degree)."""


@dataclass
class SkyField:
    """One field of a session.

    A tangent plane about ``origin``, placed at ``offset`` in the shared world (arcsec), and the
    world box its images cover so far.
    """

    origin: SkyCoord
    offset: tuple[float, float]
    low: np.ndarray
    high: np.ndarray
    number: int


class SkyFields:
    """The sky fields of a viewing session: one tangent plane per field, laid side by side.

    napari has one world coordinate system. Images of one field (centres within
    ``radius_deg`` of its tangent point) share that field's plane and overlay; an image far from
    every open field starts a new field whose plane is placed to the right of the fields already
    open (along world axis 1, west), with a gap, so that every field lies near the
    world origin and "reset view" shows data. `reset` forgets every field (when no sky layer is
    left).

    Parameters
    ----------
    radius_deg : float, optional
        How far from a field's tangent point an image's centre may lie to join that field.
    gap : float, optional
        Gap between fields as a fraction of the widest field's width.
    """

    def __init__(self, *, radius_deg: float = FIELD_RADIUS_DEG, gap: float = 0.1):
        self.radius_deg = float(radius_deg)
        self.gap = float(gap)
        self.fields: list[SkyField] = []

    def reset(self) -> None:
        """Forget every field: the next image starts a field at the world origin."""
        self.fields.clear()

    def nearest(self, position: SkyCoord) -> tuple[SkyField | None, float]:
        """The field whose tangent point is nearest ``position``, and the distance in degrees."""
        if not self.fields:
            return None, math.inf
        seps = [float(position.separation(f.origin).deg) for f in self.fields]
        best = int(np.argmin(seps))
        return self.fields[best], seps[best]

    def place(self, wcs: WCS, shape: tuple[int, int]) -> tuple[SkyField, np.ndarray, str | None]:
        """Place an image.

        Its field, its (row, col) -> world affine, and a note for the user when it started a new
        field (None otherwise).

        Parameters
        ----------
        wcs : astropy.wcs.WCS
            2-D celestial WCS of the image.
        shape : tuple of int
            Image ``(rows, cols)``.
        """
        rows, cols = (int(n) for n in shape[-2:])
        centre = sky_center(wcs, (rows, cols))
        field, distance = self.nearest(centre)
        note = None
        if field is None or distance > self.radius_deg:
            local = sky_affine(wcs, origin=centre, shape=(rows, cols))
            low, high = _affine_box(local, rows, cols)
            if not self.fields:
                offset = (0.0, 0.0)
            else:
                right = max(float(f.high[1]) for f in self.fields)
                width = max([float(f.high[1] - f.low[1]) for f in self.fields]
                            + [float(high[1] - low[1])])
                north = float(self.fields[0].offset[0])
                offset = (north, right + self.gap * width - float(low[1]))
            field = SkyField(origin=centre, offset=offset, low=low + offset, high=high + offset,
                             number=len(self.fields) + 1)
            if self.fields:
                note = (f"new sky field {field.number} about {format_sky(centre)}: "
                        f"{distance:.3g} deg from the nearest open field, so it has a tangent "
                        "plane of its own and is shown to the right of the others")
            self.fields.append(field)
        affine = sky_affine(wcs, origin=field.origin, shape=(rows, cols), offset=field.offset)
        low, high = _affine_box(affine, rows, cols)
        field.low = np.minimum(field.low, low)
        field.high = np.maximum(field.high, high)
        return field, affine, note


def _affine_box(affine: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """World bounding box of an image's pixel edges under ``affine``."""
    corners = np.array([[r, c, 1.0] for r in (-0.5, rows - 0.5) for c in (-0.5, cols - 0.5)])
    world = corners @ np.asarray(affine).T
    return world[:, :2].min(axis=0), world[:, :2].max(axis=0)


# --------------------------------------------------------------------------------------------
# Grids without a WCS: placement by pixel arithmetic
# --------------------------------------------------------------------------------------------


def finer_grid_placement(factor: float, *, offset: tuple[float, float] = (0.0, 0.0)
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Scale and translation, in input pixels, of a grid ``factor`` times finer.

    Input pixel ``i`` covers ``[i - 0.5, i + 0.5]``; a grid ``factor`` times finer whose first
    pixel edge lies on the edge of input pixel ``offset`` (row, col) has pixel ``j`` centred at
    ``offset - 0.5 + (j + 0.5) / factor``: ``j * scale + translate`` with the values returned
    (the edges align, as `upsampled_wcs` aligns them on the sky).

    Parameters
    ----------
    factor : float
        Input pixel size over output pixel size (> 0).
    offset : tuple of float, optional
        Input (row, col) of the first input pixel the finer grid covers.

    Returns
    -------
    scale, translate : numpy.ndarray
        Two ``(2,)`` arrays: output pixel (row, col) -> input pixel (row, col).
    """
    if not factor > 0:
        raise ValueError(f"the grid factor must be > 0, got {factor}")
    scale = np.full(2, 1.0 / float(factor))
    translate = np.asarray(offset, dtype=float) - 0.5 + 0.5 / float(factor)
    return scale, translate


def affine_from_points(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 3x3 affine that maps ``source`` points onto ``target`` points (least squares).

    Parameters
    ----------
    source, target : array_like
        ``(n, 2)`` coordinates, ``n >= 3`` and not all on a line (three corners of a pixel
        grid give the exact affine between two grids).

    Returns
    -------
    numpy.ndarray
        ``(3, 3)``, with ``target ~= (matrix @ [x, y, 1])[:2]``.
    """
    source = np.asarray(source, dtype=float)
    target = np.asarray(target, dtype=float)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2 or len(source) < 3:
        raise ValueError(f"need two (n, 2) point arrays with n >= 3, got {source.shape} and {target.shape}")
    design = np.column_stack([source, np.ones(len(source))])
    solution, _residuals, rank, _ = np.linalg.lstsq(design, target, rcond=None)
    if rank < 3:
        raise ValueError("the source points lie on a line: no affine is defined")
    matrix = np.eye(3)
    matrix[:2, :] = solution.T
    return matrix
