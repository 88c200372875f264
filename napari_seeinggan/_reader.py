"""npe2 reader: FITS images with their WCS, placed on the sky so that images of one field overlay.

napari 0.9 turns an exception raised by the reader function into a ``ReaderPluginError`` whose
message ends with ``Original error from plugin "napari-seeinggan": FitsReadError: <ours>`` and
shows it (notification, or the reader-choice dialog when another reader can open the file);
napari keeps running. Our message names the file and the problem.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence

from seeinggan.io.fits import FitsReadError, is_fits_path, read_images

from napari_seeinggan._layers import LayerDataTuple, attach_current_viewer, image_layer_data

__all__ = ["get_reader", "read_fits"]

PathOrPaths = str | os.PathLike | Sequence[str | os.PathLike]


def get_reader(path: PathOrPaths) -> Callable[[PathOrPaths], list[LayerDataTuple]] | None:
    """Return `read_fits` when every path is a FITS file name, else None (another reader's turn)."""
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if not paths or not all(is_fits_path(p) for p in paths):
        return None
    if any(os.path.isdir(p) for p in paths):
        return None
    return read_fits


def _tell_user(message: str) -> None:
    """A note the user should see: a napari warning notification (a Python warning elsewhere)."""
    try:
        from napari.utils.notifications import show_warning
    except ImportError:  # pragma: no cover - napari is a dependency of the plugin
        warnings.warn(message, stacklevel=3)
        return
    show_warning(message)


def read_fits(path: PathOrPaths) -> list[LayerDataTuple]:
    """Read FITS file(s): one image layer per image HDU with data.

    Layers are named ``file[EXTNAME]`` (``file[N]`` without EXTNAME), carry the header, WCS and
    pixel scale in their metadata, and are placed on the session's sky plane (or at unit scale,
    with a note, when the file has no celestial WCS).

    Raises
    ------
    seeinggan.io.fits.FitsReadError
        For a file napari should not open, with the file and the problem named.
    """
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    attach_current_viewer()  # RA/Dec status; sky fields forgotten when no sky layer is left
    taken = _open_layer_names()
    layers: list[LayerDataTuple] = []
    for p in paths:
        images = read_images(p)
        for image in images:
            try:
                layer = image_layer_data(image)
            except ValueError as error:  # a WCS astropy parses but the sky plane cannot use
                if image.wcs is None:
                    raise FitsReadError(f"{image.name}: cannot be shown: {error}") from error
                image.wcs, image.pixel_scale = None, None
                image.notes.append(f"WCS ignored: {error}")
                layer = image_layer_data(image)
            layer[1]["name"] = unique_name(layer[1]["name"], p, taken, paths)
            taken.add(layer[1]["name"])
            layers.append(layer)
            for note in image.notes:
                _tell_user(f"{image.name}: {note}")
            field_note = layer[1]["metadata"].get("field_note")
            if field_note:
                _tell_user(f"{image.name}: {field_note}")
    if not layers:  # read_images raises first; kept so napari never gets an empty list silently
        raise FitsReadError(f"{paths}: no image data")
    return layers


def _open_layer_names() -> set[str]:
    try:
        import napari

        viewer = napari.current_viewer()
        return {layer.name for layer in viewer.layers} if viewer is not None else set()
    except Exception:  # noqa: BLE001 - no viewer
        return set()


def unique_name(name: str, path, taken: set[str], paths) -> str:
    """``folder/name`` when another open layer or file being opened has the same file name, else ``name``.

    For example ``ground/sim_00001.fits[0]`` beside ``space/sim_00001.fits[0]``.
    """
    from pathlib import Path

    here = Path(path)
    clash = name in taken or any(Path(other).name == here.name and Path(other) != here
                                 for other in paths)
    return f"{here.parent.name}/{name}" if clash and here.parent.name else name
