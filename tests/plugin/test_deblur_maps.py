"""The Deblur dock's "maps" checkbox: uncertainty and consistency layers, hidden, overlaid."""

import numpy as np
import pytest
from _dock_helpers import add_deblur_dock, add_sky_layer, sky_image, wait_idle

from napari_seeinggan._layers import reset_session_sky_origin


@pytest.fixture
def dock(make_napari_viewer, tmp_path):
    reset_session_sky_origin()
    viewer = make_napari_viewer()
    data, wcs = sky_image((40, 40))
    add_sky_layer(viewer, data, wcs, "ground")
    widget = add_deblur_dock(viewer, model_dir=tmp_path)
    return viewer, widget


def test_maps_checkbox_adds_hidden_uncertainty_and_consistency_layers(dock, qtbot):
    viewer, widget = dock
    ground = viewer.layers["ground"]
    widget.maps.value = True
    widget.seeing.value = 0.8
    widget.run()
    wait_idle(qtbot, widget)
    assert widget.state.status == "done", widget.state.message
    result = widget.last_result
    output = viewer.layers["ground deblurred"]
    uncertainty = viewer.layers["ground uncertainty"]
    consistency = viewer.layers["ground consistency"]
    names = [layer.name for layer in viewer.layers]
    # Overlaid on the output (above it in the layer list), hidden until asked for.
    assert names.index("ground uncertainty") > names.index("ground deblurred")
    assert not uncertainty.visible and not consistency.visible and output.visible
    np.testing.assert_array_equal(uncertainty.data, result.maps.uncertainty)
    np.testing.assert_array_equal(consistency.data, result.maps.consistency)
    # Each map on its grid: the uncertainty on the output's (same placement), the chi map on the input's.
    np.testing.assert_allclose(uncertainty.affine.affine_matrix, output.affine.affine_matrix)
    np.testing.assert_allclose(consistency.affine.affine_matrix, ground.affine.affine_matrix, atol=1e-9)
    assert consistency.data.shape == ground.data.shape
    # Colormaps: sequential for the spread, diverging and symmetric for chi.
    assert uncertainty.colormap.name == "inferno" and uncertainty.contrast_limits[0] == 0.0
    assert consistency.colormap.name == "PiYG"
    low, high = consistency.contrast_limits
    assert low == -high and high >= 5.0
    # The summary is shown in the dock and kept with the output layer.
    assert "unstable:" in widget.maps_summary.value and "|chi| > 5" in widget.maps_summary.value
    assert output.metadata["maps"]["uncertainty_layer"] == "ground uncertainty"
    # The support guard's map: on the output's grid, hidden, 0-1; its share in the summary.
    support = viewer.layers["ground support"]
    assert not support.visible and support.data.shape == output.data.shape
    np.testing.assert_allclose(support.affine.affine_matrix, output.affine.affine_matrix)
    np.testing.assert_array_equal(support.data, result.maps.support)
    assert support.contrast_limits == [0.0, 1.0] or tuple(support.contrast_limits) == (0.0, 1.0)
    assert "detail supported on" in widget.maps_summary.value


def test_support_guard_checkbox_gives_the_raw_network_output(dock, qtbot):
    viewer, widget = dock
    assert widget.support_guard.value is True  # on by default
    widget.seeing.value = 0.8
    widget.run()
    wait_idle(qtbot, widget)
    assert widget.state.status == "done", widget.state.message
    guarded = np.array(viewer.layers["ground deblurred"].data)
    assert widget.last_result.metadata["support_guard"]["sigma"] == 5.0
    viewer.layers.remove("ground deblurred")
    widget.support_guard.value = False
    widget.run()
    wait_idle(qtbot, widget)
    assert widget.state.status == "done", widget.state.message
    raw = np.array(viewer.layers["ground deblurred"].data)
    assert widget.last_result.metadata["support_guard"] is None
    assert raw.shape == guarded.shape and not np.allclose(raw, guarded)


def test_maps_need_a_seeing_and_are_off_by_default(dock, qtbot):
    viewer, widget = dock
    assert widget.maps.value is False
    widget.maps.value = True
    assert widget.run() is None  # no seeing in the dock or the layer's header
    assert widget.state.status == "failed" and "seeing" in widget.state.message
    widget.maps.value = False
    widget.run()
    wait_idle(qtbot, widget)
    assert widget.state.status == "done", widget.state.message
    assert "ground deblurred" in viewer.layers
    assert "ground uncertainty" not in viewer.layers and widget.maps_summary.value == ""


def test_score_region_shows_the_unstable_flux_in_the_rectangle(make_napari_viewer, qtbot, tmp_path):
    from seeinggan.infer.maps import unstable_flux_images

    from napari_seeinggan.widgets.deblur import DeblurWidget
    from napari_seeinggan.widgets.score import SHAPES_NAME, UNSTABLE_ROW, ScoreRegionWidget

    reset_session_sky_origin()
    viewer = make_napari_viewer()
    viewer.open_sample("napari-seeinggan", "galaxy_pair")
    ground, space = viewer.layers
    deblur = add_deblur_dock(viewer, model_dir=tmp_path)
    assert isinstance(deblur, DeblurWidget)
    deblur.image.value = ground
    deblur.maps.value = True  # the sample's header gives the seeing
    deblur.run()
    wait_idle(qtbot, deblur)
    assert deblur.state.status == "done", deblur.state.message
    output = viewer.layers[f"{ground.name} deblurred"]
    pixel_noise = deblur.last_result.maps.summary.levels["pixel_noise"]
    # The tiny test model is nearly equivariant: give its uncertainty layer an unstable right half.
    spread = viewer.layers[f"{ground.name} uncertainty"]
    unstable = np.array(spread.data)
    unstable[:, unstable.shape[1] // 2:] = 0.5 * np.abs(output.data[:, unstable.shape[1] // 2:]) + 1.0
    spread.data = unstable
    source_flux, flagged_flux = unstable_flux_images(output.data, unstable, pixel_noise=pixel_noise)
    expected = flagged_flux.sum() / source_flux.sum()

    score = ScoreRegionWidget(viewer)
    viewer.window.add_dock_widget(score, name="Score region")
    score.reference.value = output
    score.tests.value = [output, space]
    rows, cols = output.data.shape
    corners = [(-0.5, -0.5), (-0.5, cols - 0.5), (rows - 0.5, cols - 0.5), (rows - 0.5, -0.5)]
    viewer.layers[SHAPES_NAME].add_rectangles(np.array([np.asarray(output.data_to_world(c))[-2:] for c in corners]))
    with qtbot.waitSignal(score.signals.finished, timeout=60000):
        score.score()
    by_name = {row["name"]: row for row in score.rows}
    # Over the whole output the rectangle holds all of the source light and its flagged part.
    assert 0.2 < expected < 0.8
    assert by_name[output.name]["unstable_flux"] == pytest.approx(expected, abs=1e-6)
    assert "unstable_flux" not in by_name[space.name]  # no maps for the space image
    assert score.table.row_headers[-1] == UNSTABLE_ROW
    column = list(score.table.column_headers).index(output.name)
    shown = score.displayed_text(len(score.table.row_headers) - 1, column)
    assert float(shown) == pytest.approx(round(100 * expected, 1))
