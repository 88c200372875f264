"""napari world coordinates: arcsec offsets in a TAN plane about a sky origin, and sky fields.

World axis 0 is the offset to the north, world axis 1 the offset to the west (``-dRA cos Dec``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS

from seeinggan.geometry.wcs import _tan_wcs

__all__ = [
    "FIELD_RADIUS_DEG",
    "SkyField",
    "SkyFields",
    "format_sky",
    "sky_affine",
    "sky_at_world",
    "sky_center",
    "wcs_from_sky_affine",
]


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


