"""``python -m napari_seeinggan``: napari with the sample galaxy pair and the SeeingGAN docks.

Used by ``make run``. Opens the plugin's simulated ground/space pair, docks Deblur and Score
region on the right with Fine-tune as a tab beside them, turns the camera so that north is up
and east is left (as in DS9), and shows the window.
"""

from __future__ import annotations

import argparse
import sys

from seeinggan.io.fits import FITS_SUFFIXES

PLUGIN = "napari-seeinggan"
SAMPLE = "galaxy_pair"
DOCKS = ("Deblur", "Score region", "Fine-tune")
FITS_PATTERNS = tuple(f"*{suffix}" for suffix in FITS_SUFFIXES)
"""The FITS names napari.yaml's reader claims (a test holds the manifest to the same list)."""


def prefer_our_fits_reader() -> list[str]:
    """Make this plugin the reader for FITS names the user has not assigned to another reader.

    napari's built-in reader also claims some FITS names, and napari then asks which reader to
    use on every open. A choice the user already made is kept. Returns the patterns set.
    """
    from napari.settings import get_settings

    readers = get_settings().plugins.extension2reader
    unset = [pattern for pattern in FITS_PATTERNS if pattern not in readers]
    if unset:
        get_settings().plugins.extension2reader = {**readers, **dict.fromkeys(unset, PLUGIN)}
    return unset


def open_viewer(*, sample: bool = True, show: bool = True, viewer=None):
    """Open (or fill) a viewer with the sample pair and the three docks.

    Returns
    -------
    viewer : napari.Viewer
    docks : dict[str, QWidget or magicgui widget]
        The dock widgets by display name ("Deblur", "Score region", "Fine-tune").
    """
    import napari

    from napari_seeinggan._layers import orient_north_up

    prefer_our_fits_reader()
    if viewer is None:
        viewer = napari.Viewer(title="SeeingGAN", show=show)
    if sample:
        viewer.open_sample(PLUGIN, SAMPLE)
        # The ground image is the one to deblur: select it so the Deblur dock starts on it.
        from napari_seeinggan.widgets._common import coarsest_layer, layer_pixel_scale

        images = [layer for layer in viewer.layers if layer_pixel_scale(layer)]
        if images:
            viewer.layers.selection.active = coarsest_layer(images)
    from napari.utils.notifications import show_error

    docks = {}
    frames = {}
    for name in DOCKS:
        try:
            frame, widget = viewer.window.add_plugin_dock_widget(PLUGIN, name)
        except Exception as error:  # noqa: BLE001 - one broken dock must not stop the others
            show_error(f"could not open the {name} dock: {error}")
            continue
        docks[name] = widget
        frames[name] = frame
    arrange_docks(viewer, frames)
    orient_north_up(viewer)
    viewer.reset_view()
    return viewer, docks


def arrange_docks(viewer, frames: dict) -> None:
    """Deblur above Score region, both visible; Fine-tune as a tab behind Deblur.

    Each dock scrolls, so the window fits a 1366x768 screen with napari's own panels.
    """
    window = viewer.window._qt_window
    deblur, finetune = frames.get("Deblur"), frames.get("Fine-tune")
    if deblur is not None and finetune is not None:
        window.tabifyDockWidget(deblur, finetune)
        deblur.show()
        deblur.raise_()
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication

    fit_to_screen(window)
    QApplication.processEvents()
    docked = [frame for frame in (deblur, frames.get("Score region")) if frame is not None]
    if docked:
        window.resizeDocks(docked, [380] * len(docked), Qt.Orientation.Horizontal)
    if len(docked) == 2:
        # Deblur's form above, the rest to the Score table.
        height = max(window.height() - 100, 400)
        window.resizeDocks(docked, [min(330, height // 2), height - min(330, height // 2)],
                           Qt.Orientation.Vertical)


def fit_to_screen(window) -> None:
    """The main window fills the screen's available area.

    The canvas gets what the panels and docks leave; on a 1366x768 laptop every pixel counts.
    """
    screen = window.screen() if hasattr(window, "screen") else None
    if screen is None:
        return
    area = screen.availableGeometry()
    window.resize(area.width(), area.height())
    window.move(area.topLeft())


def main(argv: list[str] | None = None) -> int:
    """Open napari with the sample, the docks and ``files``; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m napari_seeinggan",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="FITS files to open as well")
    parser.add_argument("--no-sample", action="store_true",
                        help="do not open the simulated galaxy pair")
    args = parser.parse_args(argv)

    import napari

    viewer, _docks = open_viewer(sample=not args.no_sample)
    for path in args.files:
        viewer.open(path, plugin=PLUGIN)
    napari.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
