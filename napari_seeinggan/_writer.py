"""npe2 single-layer writer: an image layer to FITS, its WCS following the layer's placement."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS
from seeinggan import geometry
from seeinggan.io.fits import FitsWriteError, write_image

from napari_seeinggan._layers import header_for_layer, placement_sky_affine

__all__ = ["write_fits"]


def write_fits(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Save one image layer as FITS.

    The header comes from ``meta["metadata"]["header"]``; the WCS is the layer's original one when
    the layer has not been moved, else a TAN WCS rebuilt from its current affine/scale/translate
    (so a moved layer saves its new position). A ``HISTORY seeinggan <version>: ...`` line says
    what was saved. An existing file is never replaced.

    Parameters
    ----------
    path : str
        Output file.
    data : array-like
        The layer's data (2-D image or 3-D cube).
    meta : dict
        The layer's attributes (``layer.as_layer_data_tuple()[1]``).

    Returns
    -------
    list of str
        ``[path]``.
    """
    name = meta.get("name", "layer")
    if isinstance(data, list):  # multiscale: the full-resolution level
        data = data[0]
    array = np.asarray(data)
    if array.ndim not in (2, 3) or array.dtype.kind not in "iufb" or meta.get("rgb"):
        raise FitsWriteError(
            f"{path}: layer {name!r} is not a 2-D image or 3-D cube of numbers "
            f"(shape {array.shape}, type {array.dtype}); only image layers can be saved as FITS"
        )
    if os.path.exists(path):
        raise FitsWriteError(
            f"{path}: file exists; napari-seeinggan does not overwrite files. Choose a new name."
        )
    layer_meta = meta.get("metadata") or {}
    header = header_for_layer(layer_meta)
    wcs = layer_meta.get("wcs")
    origin = layer_meta.get("sky_origin")
    placed = layer_meta.get("sky_affine")
    current = placement_sky_affine(array.ndim, **{key: meta.get(key) for key in
                                                  ("affine", "scale", "translate", "rotate", "shear")})
    moved = placed is not None and not np.allclose(current, placed, rtol=1e-9, atol=1e-9)
    if isinstance(origin, SkyCoord) and (moved or not isinstance(wcs, WCS)):
        wcs = geometry.wcs_from_sky_affine(current, origin=origin, shape=array.shape[-2:],
                                           offset=layer_meta.get("sky_offset", (0.0, 0.0)))
        history = [f"layer {name!r} saved; WCS rebuilt from its position in napari"]
    elif isinstance(wcs, WCS):
        history = [f"layer {name!r} saved"]
    else:
        wcs = None
        history = [f"layer {name!r} saved (no celestial WCS)"]
    written = write_image(path, array, header=header, wcs=wcs, history=history)
    return [os.fspath(written)]
