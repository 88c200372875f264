"""FITS images <-> napari image layers: sky placement, contrast, and geometry back from a layer.

World coordinates (see ``docs/architecture.md``): arcsec offsets in gnomonic planes, axis 0 to the
north and axis 1 to the west. Each sky field has its own plane (`seeinggan.geometry.SkyFields`,
one per session: `sky_fields`): the first image with a celestial WCS starts field 1 about its
centre; images within a degree of a field's tangent point join it and overlay whatever their pixel
scales; an image far from every open field starts a new field, laid to the right of the others,
with a note. When a viewer has no sky-placed layer left, the fields are forgotten
(`attach_viewer`), so the next image starts again at the world origin. Sky layers carry arcsec
``units`` (the scale bar reads arcsec) and a status line with RA/Dec (sexagesimal and degrees),
the FITS pixel x/y and the value under the cursor.

No science here: placement and sky positions come from `seeinggan.geometry`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from seeinggan import geometry
from seeinggan.io.fits import FitsImage

__all__ = [
    "attach_viewer",
    "image_layer_data",
    "layer_data_from_array",
    "layer_geometry",
    "layer_sky_affine",
    "orient_north_up",
    "reset_session_sky_origin",
    "session_sky_origin",
    "sky_fields",
    "sky_status",
    "zscale_limits",
]

LayerDataTuple = tuple[Any, dict[str, Any], str]

_FIELDS = geometry.SkyFields()


def sky_fields() -> geometry.SkyFields:
    """The session's sky fields (one tangent plane per field)."""
    return _FIELDS


def session_sky_origin() -> SkyCoord | None:
    """The tangent point of the first sky field (None until a celestial image has been placed)."""
    return _FIELDS.fields[0].origin if _FIELDS.fields else None


def reset_session_sky_origin(origin: SkyCoord | None = None) -> None:
    """Forget every sky field (or start field 1 about ``origin``).

    Layers placed before keep their placement.
    """
    _FIELDS.reset()
    if origin is not None:
        zero = np.zeros(2)
        _FIELDS.fields.append(geometry.SkyField(origin=origin.icrs, offset=(0.0, 0.0), low=zero,
                                                high=zero.copy(), number=1))


def zscale_limits(data: np.ndarray) -> tuple[float, float]:
    """First contrast limits for astronomical data: IRAF's zscale on the finite values.

    `seeinggan.display.display_limits` decides: a sample of at most ~100,000 pixels, NaN and inf
    ignored, two finite numbers with ``low < high``.
    """
    from seeinggan.display import display_limits

    return display_limits(data, interval="zscale")


MULTISCALE_PIXELS = 4096 * 4096
"""2-D layers with more pixels than this are shown as a multiscale pyramid (`display_pyramid`)."""


def display_pyramid(data: np.ndarray, *, smallest: int = 512) -> list:
    """Levels for a napari multiscale layer.

    ``data`` itself, then lazy 2x2 block means (dask), each half the size of the one before, down to
    about ``smallest`` pixels on the long side.

    Nothing is computed here: napari reads the level and the tiles it shows. For display only
    (a saved layer writes the full-resolution level).
    """
    import dask.array as da

    levels: list = [data]
    base = da.from_array(data, chunks=(1024, 1024))
    level = base
    while max(level.shape[-2:]) > 2 * smallest:
        level = da.coarsen(np.mean, level, {0: 2, 1: 2}, trim_excess=True)
        levels.append(level)
    return levels


def _full_affine(affine_2d: np.ndarray, ndim: int) -> np.ndarray:
    """Embed a (row, col) 3x3 affine into the ``(ndim + 1)`` square affine of a layer."""
    full = np.eye(ndim + 1)
    full[-3:-1, -3:-1] = affine_2d[:2, :2]
    full[-3:-1, -1] = affine_2d[:2, 2]
    return full


def layer_data_from_array(
    data: np.ndarray,
    *,
    wcs: WCS | None,
    name: str,
    metadata: dict[str, Any] | None = None,
    contrast_limits: tuple[float, float] | None = None,
    notes: list[str] | None = None,
) -> LayerDataTuple:
    """A napari image LayerDataTuple for an array with (or without) a celestial WCS.

    With a WCS the layer's ``affine`` places it on the sky about the session origin, so it
    overlays every other image of the field; without one it opens at unit scale.

    Parameters
    ----------
    data : numpy.ndarray
        ``(rows, cols)`` or ``(planes, rows, cols)``.
    wcs : astropy.wcs.WCS or None
        2-D celestial WCS of the last two axes.
    name : str
        Layer name.
    metadata : dict, optional
        Extra metadata (for example ``"header"``, ``"source_path"``); "wcs", "pixel_scale",
        "sky_origin" and "sky_affine" are filled in here.
    contrast_limits : tuple of float, optional
        Default: `zscale_limits` of the data.
    notes : list of str, optional
        Notes kept under metadata["notes"].

    Returns
    -------
    tuple
        ``(data, kwargs, "image")`` for napari.
    """
    ndim = np.ndim(data)
    if ndim not in (2, 3):
        raise ValueError(f"{name}: need a 2-D image or a 3-D cube, got shape {np.shape(data)}")
    meta: dict[str, Any] = dict(metadata or {})
    meta["notes"] = list(notes or meta.get("notes", []))
    shape = np.shape(data)
    multiscale = ndim == 2 and int(np.prod(shape)) > MULTISCALE_PIXELS
    layer_data = display_pyramid(data) if multiscale else data
    kwargs: dict[str, Any] = {
        "name": name,
        "colormap": "gray",
        "contrast_limits": list(contrast_limits or zscale_limits(
            np.asarray(layer_data[-1]) if multiscale else data)),
        "metadata": meta,
    }
    if multiscale:
        kwargs["multiscale"] = True
    if wcs is not None:
        field, affine_2d, note = _FIELDS.place(wcs, shape[-2:])
        meta["wcs"] = wcs
        meta["pixel_scale"] = geometry.pixel_scale(wcs)
        meta["sky_origin"] = field.origin
        meta["sky_offset"] = tuple(float(v) for v in field.offset)
        meta["sky_field"] = field.number
        meta["sky_affine"] = affine_2d
        if note:
            meta["field_note"] = note
        kwargs["affine"] = _full_affine(affine_2d, ndim)
        kwargs["units"] = ("arcsec",) * ndim
    else:
        meta["wcs"] = None
        # Without a WCS, a scale the header records (PIXSCALE, SECPIX, CDELT in degrees...).
        meta["pixel_scale"] = meta.get("pixel_scale") or geometry.pixel_scale_from_header(
            meta.get("header"))
    return layer_data, kwargs, "image"


def image_layer_data(image: FitsImage) -> LayerDataTuple:
    """The napari LayerDataTuple of one `seeinggan.io.fits.FitsImage`.

    Metadata keys: "header", "wcs", "pixel_scale", "source_path", "hdu_index", "notes",
    "sky_origin", "sky_affine" (the (row, col) -> world affine at creation, used to tell whether
    the layer was moved since), "memory_mapped".
    """
    metadata = {
        "header": image.header,
        "source_path": str(image.path),
        "hdu_index": image.hdu_index,
        "memory_mapped": image.memory_mapped,
    }
    return layer_data_from_array(
        image.data, wcs=image.wcs, name=image.name, metadata=metadata, notes=image.notes
    )


def layer_sky_affine(layer) -> np.ndarray:
    """The current 3x3 (row, col) -> world affine of a layer's last two axes.

    Composes the layer's ``affine`` with its ``scale``/``translate``/``rotate``/``shear``, so a
    layer moved or rescaled in napari gives its new placement.
    """
    return placement_sky_affine(layer.ndim, affine=layer.affine, scale=layer.scale,
                                translate=layer.translate, rotate=layer.rotate, shear=layer.shear)


def placement_sky_affine(ndim: int, *, affine=None, scale=None, translate=None, rotate=None,
                         shear=None) -> np.ndarray:
    """The 3x3 (row, col) -> world affine of the last two axes of a layer placed by these attributes.

    The attributes of a napari layer (or of a writer's ``meta``): ``affine`` (an ``Affine`` or a
    matrix; identity when None) composed with ``scale``/``translate``/``rotate``/``shear``.
    """
    from napari.utils.transforms import Affine, CompositeAffine

    composite = CompositeAffine(
        scale=np.ones(ndim) if scale is None else scale,
        translate=np.zeros(ndim) if translate is None else translate,
        rotate=rotate, shear=shear, ndim=ndim,
    )
    if affine is None:
        affine_matrix = np.eye(ndim + 1)
    elif isinstance(affine, Affine):
        affine_matrix = affine.affine_matrix
    else:
        affine_matrix = np.asarray(affine, dtype=float)
    full = np.asarray(affine_matrix) @ np.asarray(composite.affine_matrix)
    out = np.eye(3)
    out[:2, :2] = full[-3:-1, -3:-1]
    out[:2, 2] = full[-3:-1, -1]
    return out


def chosen_rectangle_world(shapes) -> np.ndarray:
    """World corners (last two axes) of a shapes layer's selected shape, else of its last one."""
    chosen = sorted(shapes.selected_data) or [len(shapes.data) - 1]
    vertices = np.asarray(shapes.data[chosen[-1]])
    return np.array([np.asarray(shapes.data_to_world(v))[-2:] for v in vertices])


def world_to_pixels(layer, points_world) -> np.ndarray:
    """World points -> ``layer``'s data coordinates, (row, col) of its last two axes."""
    return np.array([np.asarray(layer.world_to_data(np.asarray(p)))[-2:] for p in points_world])


def layer_geometry(layer) -> tuple[np.ndarray, WCS | None, float | None]:
    """Data, celestial WCS and pixel scale (arcsec/px) of any napari image layer.

    - A layer with ``metadata["wcs"]`` that has not been moved since it was placed: that WCS
      (exact, distortion included).
    - A layer that was moved, or one without a WCS but placed on the session's sky plane
      (``metadata["sky_origin"]``): a TAN WCS rebuilt from its current affine
      (`seeinggan.geometry.wcs_from_sky_affine`).
    - A layer with no sky placement at all (a plain array, a FITS file without WCS): WCS None,
      pixel scale from ``metadata["pixel_scale"]`` if given, else None.

    Returns
    -------
    tuple
        ``(data, wcs, pixel_scale)``; ``data`` is the layer's data unchanged (for a multiscale
        layer, the full-resolution level).
    """
    data = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
    meta = layer.metadata or {}
    wcs = meta.get("wcs")
    origin = meta.get("sky_origin")
    current = layer_sky_affine(layer)
    placed = meta.get("sky_affine")
    if isinstance(wcs, WCS) and placed is not None and np.allclose(
        current, placed, rtol=1e-9, atol=1e-9
    ):
        return data, wcs, geometry.pixel_scale(wcs)
    if isinstance(origin, SkyCoord):
        new_wcs = geometry.wcs_from_sky_affine(current, origin=origin, shape=np.shape(data)[-2:],
                                               offset=meta.get("sky_offset", (0.0, 0.0)))
        return data, new_wcs, geometry.pixel_scale(new_wcs)
    if isinstance(wcs, WCS):
        # A WCS given without placement metadata (for example by a script): trust it.
        return data, wcs, geometry.pixel_scale(wcs)
    scale = meta.get("pixel_scale")
    return data, None, float(scale) if scale is not None else None


def header_for_layer(meta: dict[str, Any]) -> fits.Header | None:
    """The FITS header kept in a layer's metadata, if any."""
    header = meta.get("header")
    return header if isinstance(header, fits.Header) else None


def orient_north_up(viewer) -> None:
    """Turn the camera so that north (world axis 0) points up and east left, as in DS9."""
    viewer.scene.camera.orientation = ("towards", "up", "right")


# ---------------------------------------------------------------------------------------------
# The viewer side: forget the fields when no sky layer is left; RA/Dec in the status bar


def sky_status(layer, world_position) -> str | None:
    """The status text of a sky-placed layer at a world position, or None for other layers.

    ``RA Dec (ra_deg, dec_deg)  x,y X, Y`` with FITS 1-based pixel coordinates of the layer (the
    pixel whose centre is nearest), as DS9 shows them.
    """
    meta = getattr(layer, "metadata", None) or {}
    origin = meta.get("sky_origin")
    if not isinstance(origin, SkyCoord) or world_position is None:
        return None
    world = np.asarray(world_position, dtype=float)[-2:]
    sky = geometry.sky_at_world(world, origin=origin, offset=meta.get("sky_offset", (0.0, 0.0)))
    row, col = np.asarray(layer.world_to_data(np.asarray(world_position, dtype=float)))[-2:]
    return f"{geometry.format_sky(sky)}  x,y {int(np.floor(col + 0.5)) + 1}, " \
           f"{int(np.floor(row + 0.5)) + 1}"


def _with_sky_status(layer) -> None:
    """Make ``layer.get_status`` lead with RA/Dec and the FITS pixel.

    The status bar of napari calls it, in its status thread, with the cursor's world position.
    """
    if getattr(layer, "_seeinggan_status", False):
        return
    plain = layer.get_status

    def get_status(position=None, **kwargs):
        status = plain(position, **kwargs)
        if position is None or not kwargs.get("world", False):
            return status
        try:
            text = sky_status(layer, position)
        except Exception:  # noqa: BLE001 - a status line must never raise in napari's thread
            text = None
        if text:
            value = status.get("value", "")
            status["coords"] = text
            status["coordinates"] = f"{text}: {value}" if value != "" else text
        return status

    layer.get_status = get_status
    layer._seeinggan_status = True


def _on_inserted(event) -> None:
    layer = event.value
    if isinstance((getattr(layer, "metadata", None) or {}).get("sky_origin"), SkyCoord):
        _with_sky_status(layer)


def _forget_fields_if_no_sky_layer(layers) -> None:
    if not any(isinstance((getattr(lyr, "metadata", None) or {}).get("sky_origin"), SkyCoord)
               for lyr in layers):
        _FIELDS.reset()


def attach_viewer(viewer) -> None:
    """Hook a viewer (once): sky layers get the RA/Dec status line.

    The sky fields are forgotten when the viewer has no sky layer left. Called by the reader, the
    sample and the docks (so it is in place whichever the user opens first).
    """
    if viewer is None or getattr(viewer, "_seeinggan_attached", False):
        return
    layers = viewer.layers
    viewer.layers.events.inserted.connect(_on_inserted)
    viewer.layers.events.inserted.connect(lambda event: show_if_out_of_view(viewer, event.value))
    viewer.layers.events.removed.connect(lambda _event: _forget_fields_if_no_sky_layer(layers))
    for layer in viewer.layers:
        _on_inserted(type("Event", (), {"value": layer})())
    try:
        viewer._seeinggan_attached = True
    except Exception:  # noqa: BLE001 - an evented model refusing attributes: attach once more
        pass


def show_if_out_of_view(viewer, layer) -> bool:
    """Bring a layer opened from a file into view when none of it is on the canvas.

    Images of one field are placed at their true sky offsets, so a file can land hundreds of
    arcsec from what the canvas shows: without this the user opens a file and sees nothing
    change (napari only fits the view to the first layer). The camera is centred on the layer
    and zoomed to fit it, as DS9 shows a newly loaded frame. Returns whether the camera moved.
    """
    if not (getattr(layer, "metadata", None) or {}).get("source_path"):
        return False  # a result or a sample: added where the user is already looking
    if not any(other is not layer for other in viewer.layers):
        return False  # the first layer: napari fits the view itself
    try:
        height, width = (float(size) for size in viewer.canvas.size[-2:])
    except (AttributeError, TypeError, ValueError):
        return False
    extent = np.asarray(layer.extent.world, dtype=float)[:, -2:]
    center = np.asarray(viewer.scene.camera.center[-2:], dtype=float)
    half = np.array([height, width]) / (2 * viewer.scene.camera.zoom)
    if np.all(extent[1] > center - half) and np.all(extent[0] < center + half):
        return False  # some of it is on the canvas already
    size = np.maximum(extent[1] - extent[0], 1e-12)
    viewer.scene.camera.center = tuple((extent[0] + extent[1]) / 2)
    viewer.scene.camera.zoom = 0.95 * float(np.min(np.array([height, width]) / size))
    return True


def attach_current_viewer() -> None:
    """`attach_viewer` for napari's current viewer, if there is one."""
    try:
        import napari

        attach_viewer(napari.current_viewer())
    except Exception:  # noqa: BLE001 - no viewer (a script, a test without Qt)
        pass


# ---------------------------------------------------------------------------------------------
# DS9 regions <-> rectangles in world coordinates (the sky arithmetic is seeinggan.regions')


def world_rectangles_from_file(path, layer) -> tuple[list[np.ndarray], list[str]]:
    """The rectangles of a DS9 ``.reg`` file as ``(4, 2)`` world-coordinate corners, and notes.

    They are placed on ``layer``: its WCS for sky regions, its pixels for image regions.
    """
    from seeinggan.regions import read_rectangles

    _data, wcs, _scale = layer_geometry(layer)
    rectangles, notes = read_rectangles(path, wcs=wcs)
    world = [np.array([np.asarray(layer.data_to_world([y, x]))[-2:] for x, y in corners])
             for corners in rectangles]
    return world, notes


def write_world_rectangles(path, rectangles_world: list[np.ndarray], layer):
    """Write world-coordinate rectangles as a DS9 ``.reg`` file through ``layer``'s WCS.

    Sky coordinates, or the layer's pixels when it has no WCS.
    """
    from seeinggan.regions import write_rectangles

    _data, wcs, _scale = layer_geometry(layer)
    pixels = []
    for corners in rectangles_world:
        rc = world_to_pixels(layer, corners)
        pixels.append(rc[:, ::-1])  # (row, col) -> (x, y)
    return write_rectangles(path, pixels, wcs=wcs)
