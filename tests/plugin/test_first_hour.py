"""What a new user hit in their first hour with `make run` (sample open, then their own files),
at 1366x768: files opened next to the sample showed nothing new and the Deblur dock still
pointed at the sample; the progress bar and message line were below the Deblur dock's fold."""

import astropy.units as u
import numpy as np
from _dock_helpers import sky_image, tiny_model, wait_idle
from astropy.io import fits

from napari_seeinggan import _layers
from napari_seeinggan.__main__ import PLUGIN, open_viewer

LAPTOP = (1366, 768)


def _write_field_beside_sample(viewer, tmp_path, offset_arcsec=600.0):
    """Ground (0.2"/px) and space (0.05"/px) FITS of a field ``offset_arcsec`` north of the sample."""
    sample = next(layer for layer in viewer.layers if layer.name.startswith("ground"))
    _data, wcs, _scale = _layers.layer_geometry(sample)
    center = wcs.pixel_to_world(*(np.array(sample.data.shape[::-1]) / 2))
    field = center.directional_offset_by(0 * u.deg, offset_arcsec * u.arcsec)
    paths = []
    # One file name in two folders, as `seeinggan simulate` writes them: the open layer is
    # renamed ground/field.fits[0] when space/field.fits is opened.
    for folder, scale, shape in (("ground", 0.2, (40, 40)), ("space", 0.05, (160, 160))):
        data, field_wcs = sky_image(shape, pixel_scale=scale, center=field)
        header = field_wcs.to_header()
        header["SEEING"] = 0.8
        (tmp_path / folder).mkdir()
        fits.PrimaryHDU(data, header=header).writeto(tmp_path / folder / "field.fits")
        paths.append(tmp_path / folder / "field.fits")
    return paths


def _in_view(viewer, layer) -> bool:
    height, width = viewer.canvas.size
    center = np.asarray(viewer.scene.camera.center[-2:])
    half = np.array([height, width]) / (2 * viewer.scene.camera.zoom)
    low, high = np.asarray(layer.extent.world)[:, -2:]
    return bool(np.all(high > center - half) and np.all(low < center + half))


def test_opened_field_is_shown_and_becomes_the_image_to_deblur(make_napari_viewer, tmp_path):
    _layers.reset_session_sky_origin()
    viewer, docks = open_viewer(viewer=make_napari_viewer(), sample=True)
    deblur = docks["Deblur"]
    sample_ground = deblur.image.value
    assert sample_ground.name.startswith("ground (simulated")
    ground_path, space_path = _write_field_beside_sample(viewer, tmp_path)

    [ground] = viewer.open(str(ground_path), plugin=PLUGIN)
    # 600" from the sample: the camera moves to the file just opened (it was left on the sample).
    assert _in_view(viewer, ground)
    zoom = viewer.scene.camera.zoom
    [space] = viewer.open(str(space_path), plugin=PLUGIN)
    assert viewer.scene.camera.zoom == zoom  # the space image overlays the ground: no jump
    # The seeing-limited file is the one to deblur (not the sample, not the finer space image).
    assert ground.name == "ground/field.fits[0]"
    assert deblur.image.value is ground
    assert deblur.seeing.value == 0.8  # prefilled from its header

    # A pick of the user's in the box is kept when more files are opened.
    deblur.image.value = sample_ground
    fits.PrimaryHDU(np.ones((8, 8), np.float32)).writeto(tmp_path / "other.fits")
    viewer.open(str(tmp_path / "other.fits"), plugin=PLUGIN)
    assert deblur.image.value is sample_ground
    _layers.reset_session_sky_origin()


def test_deblur_progress_and_message_are_in_view_on_a_laptop(make_napari_viewer, qtbot, tmp_path):
    _layers.reset_session_sky_origin()
    viewer, docks = open_viewer(viewer=make_napari_viewer(show=True), sample=True)
    viewer.window._qt_window.resize(*LAPTOP)
    qtbot.wait(50)
    deblur = docks["Deblur"]
    deblur.select_model_file(tiny_model(tmp_path))
    deblur.tile.value = 64

    def shown(widget) -> bool:
        """The whole of ``widget`` lies inside the dock's scroll viewport."""
        viewport = deblur.native.viewport()
        top_left = widget.native.mapTo(viewport, widget.native.rect().topLeft())
        return 0 <= top_left.y() and top_left.y() + widget.native.height() <= viewport.height()

    assert deblur.native.viewport().height() < deblur.body.sizeHint().height()  # the dock scrolls
    deblur.run()
    assert shown(deblur.progress) and shown(deblur.cancel_button)
    wait_idle(qtbot, deblur)
    assert deblur.state.status == "done", deblur.state.message
    assert shown(deblur.message) and "added" in deblur.message.value
    _layers.reset_session_sky_origin()


def test_deblurred_layer_starts_with_its_galaxies_unsaturated(make_napari_viewer, qtbot, tmp_path):
    """zscale limits (set by the sky noise) saturated every galaxy of the deblurred layer into a
    white blob: the result looked blurrier than the input. Its bright pixels are now below the top."""
    from napari_seeinggan.widgets.deblur import DeblurWidget

    _layers.reset_session_sky_origin()
    viewer = make_napari_viewer()
    data, wcs = sky_image((48, 48), seed=2)
    data += 40 * np.exp(-((np.mgrid[:48, :48] - 20.0) ** 2).sum(axis=0) / 18.0)  # a bright galaxy
    header = wcs.to_header()
    header["SEEING"] = 0.8
    fits.PrimaryHDU(data, header=header).writeto(tmp_path / "ground.fits")
    [ground] = viewer.open(str(tmp_path / "ground.fits"), plugin=PLUGIN)
    dock = DeblurWidget(viewer)
    viewer.window.add_dock_widget(dock, name="Deblur")
    from seeinggan.models.io import default_model_path

    dock.select_model_file(default_model_path())  # the shipped model: a real result
    dock.run()
    wait_idle(qtbot, dock)
    assert dock.state.status == "done", dock.state.message
    out = viewer.layers["ground.fits[0] deblurred"]
    low, high = out.contrast_limits
    saturated = np.mean(out.data >= high)
    assert saturated <= 0.01, saturated  # with zscale limits: 6.9% of the pixels
    assert low < np.median(out.data) < high  # the sky is above black
    np.testing.assert_array_equal(out.data, dock.last_result.data)  # the data are untouched
    _layers.reset_session_sky_origin()


def test_score_table_comes_into_view_when_a_rectangle_is_scored(make_napari_viewer, qtbot):
    """At 1366x768 the Score region table sat below the dock's fold: drawing a rectangle seemed to
    do nothing. The dock scrolls to the table when the scores arrive."""
    _layers.reset_session_sky_origin()
    viewer, docks = open_viewer(viewer=make_napari_viewer(show=True), sample=True)
    viewer.window._qt_window.resize(*LAPTOP)
    qtbot.wait(50)
    score = docks["Score region"]
    space = score.reference.value
    corners = [(40, 40), (40, 215), (215, 215), (215, 40)]
    with qtbot.waitSignal(score.signals.finished, timeout=60_000):
        score.shapes_layer().add_rectangles(np.array([np.asarray(space.data_to_world(c))[-2:] for c in corners]))
    qtbot.waitUntil(lambda: bool(score.rows), timeout=60_000)
    viewport = score.native.viewport()
    top = score.table.native.mapTo(viewport, score.table.native.rect().topLeft()).y()
    assert 0 <= top < viewport.height() - 40, (top, viewport.height())  # its header and a row show
    assert 'Band from seeing 0.9" (header of' in score.status.value
    _layers.reset_session_sky_origin()


def test_score_table_fits_the_dock_width_on_a_laptop(make_napari_viewer, qtbot):
    """At 1366x768 the Score region table (seven measures side by side) scrolled sideways: two of
    seven columns showed. Measures are now rows and layers columns: three layers fit the dock's
    width, every figure whole, the layer names wrapped in the header."""
    from qtpy.QtCore import Qt

    _layers.reset_session_sky_origin()
    viewer, docks = open_viewer(viewer=make_napari_viewer(show=True), sample=True)
    viewer.window._qt_window.resize(*LAPTOP)
    qtbot.wait(50)
    score = docks["Score region"]
    space = score.reference.value
    ground = next(layer for layer in viewer.layers if layer.name.startswith("ground"))
    # A layer named as the Deblur dock names its output (the longest name in a session).
    copy = viewer.add_image(np.asarray(ground.data) * 1.5, name=f"{ground.name} deblurred",
                            affine=ground.affine, metadata=dict(ground.metadata), units=ground.units)
    score.tests.value = [ground, copy, space]
    corners = [(40, 40), (40, 215), (215, 215), (215, 40)]
    with qtbot.waitSignal(score.signals.finished, timeout=60_000):
        score.shapes_layer().add_rectangles(np.array([np.asarray(space.data_to_world(c))[-2:] for c in corners]))
    qtbot.waitUntil(lambda: len(score.rows) == 3, timeout=60_000)
    qtbot.wait(50)
    table = score.table.native
    assert 300 < score.native.viewport().width() < 420, score.native.viewport().width()  # a laptop dock
    assert table.horizontalScrollBar().maximum() == 0  # was 6 with two layers, more with three
    assert score.native.horizontalScrollBar().maximum() == 0
    viewport = score.native.viewport()
    right = table.mapTo(viewport, table.rect().topRight()).x()
    assert right <= viewport.width(), (right, viewport.width())
    assert table.columnCount() == 3 and table.rowCount() == 7
    assert table.verticalScrollBar().maximum() == 0  # every row shows: the dock scrolls, not the table
    metrics = table.fontMetrics()
    for column in range(3):
        for row in range(7):
            text = score.displayed_text(row, column)
            assert text and metrics.horizontalAdvance(text) + 6 <= table.columnWidth(column), (row, column, text)
        name = table.horizontalHeaderItem(column).text()
        assert table.horizontalHeaderItem(column).toolTip() == name
    # The longest name wraps inside its column, its lines inside the header's height.
    column = 1
    wrapped = metrics.boundingRect(0, 0, table.columnWidth(column) - 8, 10_000, int(Qt.TextFlag.TextWordWrap),
                                   copy.name)
    assert wrapped.height() > metrics.lineSpacing()  # two lines or more
    assert wrapped.height() <= table.horizontalHeader().height()
    print("dock", viewport.width(), "columns", [table.columnWidth(c) for c in range(3)],
          "header", table.horizontalHeader().height(), [score.displayed_text(r, 1) for r in range(7)])
    _layers.reset_session_sky_origin()
