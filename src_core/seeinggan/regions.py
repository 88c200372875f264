"""DS9 region files <-> rectangles on an image, with astropy ``regions`` (the field's library).

A region file (``.reg``, DS9 syntax, sky or image coordinates) becomes rectangles given as their
four corners in an image's 0-based pixel coordinates ``(x, y)``; rectangles go back out as sky
rectangles (ICRS) when the image has a celestial WCS, else in image coordinates. Boxes keep
their rotation; polygons with four vertices are taken as they are; other shapes become their
bounding box (a circle: the square around it), with a note.
"""

from __future__ import annotations

import os
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.wcs import WCS

from seeinggan.errors import InputError

__all__ = ["read_rectangles", "write_rectangles"]


def read_rectangles(path: str | os.PathLike, *, wcs: WCS | None = None
                    ) -> tuple[list[np.ndarray], list[str]]:
    """The rectangles of a DS9 region file, as corner arrays in an image's pixels.

    Parameters
    ----------
    path : str or path-like
        A ``.reg`` file (DS9 format).
    wcs : astropy.wcs.WCS, optional
        Celestial WCS of the image; needed for regions in sky coordinates.

    Returns
    -------
    rectangles : list of numpy.ndarray
        Each ``(4, 2)``: the corners' 0-based ``(x, y)``.
    notes : list of str
        What was approximated or skipped.

    Raises
    ------
    seeinggan.errors.InputError
        When the file cannot be read or holds no usable region (the message names the file).
    """
    from regions import PixelRegion, PolygonPixelRegion, RectanglePixelRegion, Regions

    path = Path(path)
    try:
        found = Regions.read(str(path), format="ds9")
    except Exception as error:  # noqa: BLE001 - the library raises several types
        raise InputError(f"{path}: not a DS9 region file ({error})") from None
    rectangles: list[np.ndarray] = []
    notes: list[str] = []
    for region in found:
        if not isinstance(region, PixelRegion):
            if wcs is None:
                notes.append(f"{type(region).__name__} in sky coordinates skipped: the image "
                             "has no celestial WCS")
                continue
            region = region.to_pixel(wcs)
        if isinstance(region, RectanglePixelRegion):
            rectangles.append(np.asarray(region.corners, dtype=float))
        elif isinstance(region, PolygonPixelRegion) and len(region.vertices.x) == 4:
            rectangles.append(np.column_stack([region.vertices.x, region.vertices.y]))
        else:
            box = region.bounding_box
            rectangles.append(np.array([[box.ixmin - 0.5, box.iymin - 0.5],
                                        [box.ixmax - 0.5, box.iymin - 0.5],
                                        [box.ixmax - 0.5, box.iymax - 0.5],
                                        [box.ixmin - 0.5, box.iymax - 0.5]]))
            notes.append(f"{type(region).__name__} taken as its bounding box")
    if not rectangles:
        raise InputError(f"{path}: no rectangle, polygon or other shape usable on this image"
                         + (f" ({'; '.join(notes)})" if notes else ""))
    return rectangles, notes


def write_rectangles(path: str | os.PathLike, rectangles: list[np.ndarray], *,
                     wcs: WCS | None = None) -> Path:
    """Write rectangles (corner arrays in 0-based pixels ``(x, y)``) as a DS9 region file.

    With a celestial ``wcs`` the boxes are written in ICRS sky coordinates (so DS9 draws them on
    any image of the field), else in image coordinates. Each rectangle becomes a box with its
    centre, sides and rotation taken from its corners (in drawing order).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    from regions import PixCoord, RectanglePixelRegion, Regions

    path = Path(path)
    shapes = []
    for corners in rectangles:
        c = np.asarray(corners, dtype=float)[:4]
        centre = c.mean(axis=0)
        side_a, side_b = c[1] - c[0], c[3] - c[0]
        angle = np.degrees(np.arctan2(side_a[1], side_a[0]))
        pixel = RectanglePixelRegion(PixCoord(*centre), width=float(np.hypot(*side_a)),
                                     height=float(np.hypot(*side_b)), angle=angle * u.deg)
        shapes.append(pixel.to_sky(wcs) if wcs is not None else pixel)
    Regions(shapes).write(str(path), format="ds9", overwrite=True)
    return path
