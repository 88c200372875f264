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
    with a note, when the file has no celestial WCS). When two files of the same name are open,
    both layers are named after their folder (``ground/sim_00001.fits[0]``, ``space/...``).

    Raises
    ------
    seeinggan.io.fits.FitsReadError
        For a file napari should not open, with the file and the problem named.
    """
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    attach_current_viewer()  # RA/Dec status; sky fields forgotten when no sky layer is left
    open_layers = _open_layers()
    taken = {layer.name for layer in open_layers}
    open_sources = [source for layer in open_layers
                    if (source := (getattr(layer, "metadata", None) or {}).get("source_path"))]
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
            plain = layer[1]["name"]
            layer[1]["name"] = unique_name(plain, p, taken, [*paths, *open_sources])
            if plain in taken:
                # The open layer of the same name gets its folder too (both say where they are).
                taken |= _prefix_open_layer(open_layers, plain, p)
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


def _open_layers() -> list:
    try:
        import napari

        viewer = napari.current_viewer()
        return list(viewer.layers) if viewer is not None else []
    except Exception:  # noqa: BLE001 - no viewer
        return []


def _prefix_open_layer(open_layers, name: str, path) -> set[str]:
    """Rename the open layer called ``name`` to ``folder/name``; returns the new name(s).

    Only a layer read from another file of the same name than ``path``.
    """
    from pathlib import Path

    renamed = set()
    for layer in open_layers:
        source = (getattr(layer, "metadata", None) or {}).get("source_path")
        if layer.name != name or not source or Path(source) == Path(path):
            continue
        folder = Path(source).parent.name
        if folder:
            layer.name = f"{folder}/{name}"
            renamed.add(layer.name)
    return renamed


def unique_name(name: str, path, taken: set[str], paths) -> str:
    """``folder/name`` when another open layer or file being opened has the same file name, else ``name``.

    For example ``ground/sim_00001.fits[0]`` beside ``space/sim_00001.fits[0]``. (`read_fits`
    also gives the open layer of that name its folder, so both names say where they come from.)
    """
    from pathlib import Path

    here = Path(path)
    clash = name in taken or any(Path(other).name == here.name and Path(other) != here
                                 for other in paths)
    return f"{here.parent.name}/{name}" if clash and here.parent.name else name
