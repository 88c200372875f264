"""The window fits a 1366x768 laptop screen with napari's own panels and the three docks; Deblur
and Score region are visible at first launch; no toast before the user acts (issue 14)."""

import numpy as np

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


def test_first_drag_on_the_image_pans(make_napari_viewer):
    """At first launch the ground image stays the selected layer (the Score dock's "score region"
    shapes layer, in rectangle mode, is made but not selected): a first drag pans instead of
    drawing a rectangle, and the layer controls show the image's contrast."""
    import napari

    _layers.reset_session_sky_origin()
    viewer, _docks = open_viewer(viewer=make_napari_viewer(), sample=True)
    active = viewer.layers.selection.active
    assert isinstance(active, napari.layers.Image), active
    assert active.name.startswith("ground")
    assert "score region" in viewer.layers and viewer.layers["score region"].mode == "add_rectangle"
    _layers.reset_session_sky_origin()


LONG_LINE = ("added 'ground deblurred' (256 x 256 px, 0.05\"/px) from 'ground' with the shipped "
             "model in 123.4 s; unstable: 85.6% of source flux (spread over 8 flips/rotations) "
             "/a/long/unbreakable/path/to/a/user/model/with/a/very/long/name.safetensors")
DOCK_CONTENT_MAX_WIDTH = 420
"""Widest a dock's content may ask to be (px) on a 1366 px screen: it must never scroll sideways."""


def test_docks_content_fits_their_width_with_long_status_lines(make_napari_viewer, qtbot):
    """Long status and summary lines word-wrap; long combo items do not widen a dock (issue: the
    Deblur dock's summary and its Cancel button were cut on the right at 1366x768)."""
    _layers.reset_session_sky_origin()
    viewer, docks = open_viewer(viewer=make_napari_viewer(show=True), sample=False)
    viewer.window._qt_window.resize(*LAPTOP)
    lines = {"Deblur": ("message", "maps_summary"), "Fine-tune": ("message",),
             "Score region": ("status",)}
    viewer.add_image(np.zeros((8, 8), np.float32), name="a layer with a very long name " * 4)
    for name, dock in docks.items():
        dock.reset_choices()
        for attr in lines[name]:
            getattr(dock, attr).value = LONG_LINE
    qtbot.wait(50)
    for name, dock in docks.items():
        content = dock.body.minimumSizeHint().width()
        assert content < DOCK_CONTENT_MAX_WIDTH, (name, content)
        # What the scroll area shows is as wide as the content: nothing cut on the right.
        assert dock.body.width() <= dock.native.viewport().width(), name
    deblur = docks["Deblur"]
    assert deblur.maps_summary.native.wordWrap() and deblur.message.native.wordWrap()
    cancel = deblur.cancel_button.native
    right = cancel.mapTo(deblur.native.viewport(), cancel.rect().topRight()).x()
    assert right < deblur.native.viewport().width(), right
    _layers.reset_session_sky_origin()
