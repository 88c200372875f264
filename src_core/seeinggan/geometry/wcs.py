"""WCS basics: pixel scales (from a WCS or a header), celestial WCS of a header, TAN WCS, finer grids."""

from __future__ import annotations

import math
import warnings

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_area

from seeinggan.io.fits import PIXEL_SCALE_READ_KEYWORDS
from seeinggan.units import AngleLike, to_arcsec

__all__ = [
    "celestial_wcs",
    "make_tan_wcs",
    "pixel_scale",
    "pixel_scale_from_header",
    "upsampled_shape",
    "upsampled_wcs",
]


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


_ANGLE_UNITS_ARCSEC = {"deg": 3600.0, "degree": 3600.0, "degrees": 3600.0, "arcmin": 60.0,
                       "arcsec": 1.0, "mas": 1e-3, "rad": 180.0 / np.pi * 3600.0}


def pixel_scale_from_header(header) -> float | None:
    """A pixel scale (arcsec/px) recorded in a header without a usable celestial WCS.

    In order: `seeinggan.io.fits.PIXEL_SCALE_READ_KEYWORDS` (arcsec/px), then ``CDELT1``/``CDELT2``
    (or ``CD1_1``...) when ``CUNIT1`` is an angle or ``CTYPE1`` names a sky longitude (degrees by
    the FITS default). The geometric mean of the two axes when both are given. None when nothing fits.

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

    for key in PIXEL_SCALE_READ_KEYWORDS:
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
    pixel_scale: AngleLike,
    shape: tuple[int, int],
    rotation_deg: float = 0.0,
) -> WCS:
    """A gnomonic (TAN) WCS with the centre of an array at ``center``.

    Parameters
    ----------
    center : astropy.coordinates.SkyCoord
        Sky position of the array's centre (converted to ICRS).
    pixel_scale : float or astropy Quantity
        Arcsec per pixel (both axes), or an angle (per pixel) Quantity.
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
    pixel_scale = to_arcsec(pixel_scale, name="pixel_scale", per_pixel=True)
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


