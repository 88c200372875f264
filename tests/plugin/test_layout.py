"""The window fits a 1366x768 laptop screen with napari's own panels and the three docks; Deblur
and Score region are visible at first launch; no toast before the user acts (issue 14)."""

from napari_seeinggan import _layers
from napari_seeinggan.__main__ import open_viewer

LAPTOP = (1366, 768)
WINDOW_FRAME = (0, 40)
"""Room for a window manager's title bar."""


def test_window_fits_a_laptop_and_shows_deblur_and_score(make_napari_viewer, notifications):
    _layers.reset_session_sky_origin()
    viewer, docks = open_viewer(viewer=make_napari_viewer(), sample=True)
    assert set(docks) == {"Deblur", "Score region", "Fine-tune"}
    window = viewer.window._qt_window
    hint = window.minimumSizeHint()
    assert hint.width() <= LAPTOP[0] - WINDOW_FRAME[0], hint
    assert hint.height() <= LAPTOP[1] - WINDOW_FRAME[1], hint
    frames = {name: dock.native.parent() for name, dock in docks.items()}  # the QDockWidgets
    # Fine-tune is a tab behind Deblur; Score region has no tab in front of it.
    assert window.tabifiedDockWidgets(frames["Deblur"]) == [frames["Fine-tune"]]
    assert window.tabifiedDockWidgets(frames["Score region"]) == []
    # Every dock scrolls: its own minimum height no longer drives the window's.
    for name, dock in docks.items():
        assert type(dock.native).__name__ == "QScrollArea", name
        assert dock.native.minimumSizeHint().height() < 200, name
    # Nothing was notified: the user has not acted yet.
    assert notifications.messages() == []
    _layers.reset_session_sky_origin()
