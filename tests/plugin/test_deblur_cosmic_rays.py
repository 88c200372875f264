"""The Deblur dock's "clean cosmic rays" checkbox: hits cleaned before the network sees them."""

import napari
from _dock_helpers import add_deblur_dock, sky_image, wait_idle
from astropy.io import fits

from napari_seeinggan._layers import layer_data_from_array, reset_session_sky_origin

HITS = [(8, 10), (30, 12), (20, 40)]


def _exposure(viewer, *, gain):
    data, wcs = sky_image((48, 48))
    for row, col in HITS:
        data[row, col] += 80.0  # noise 1: 80-sigma single-pixel hits
    header = fits.Header({"GAIN": gain}) if gain else fits.Header()
    layer = napari.layers.Layer.create(*layer_data_from_array(data, wcs=wcs, name="exposure",
                                                              metadata={"header": header}))
    return viewer.add_layer(layer)


def test_checkbox_cleans_the_hits_using_the_header_gain(make_napari_viewer, qtbot, tmp_path):
    reset_session_sky_origin()
    viewer = make_napari_viewer()
    _exposure(viewer, gain=2.0)
    widget = add_deblur_dock(viewer, model_dir=tmp_path)
    assert widget.clean_cosmic_rays.value is False  # stacks need nothing: off by default
    widget.clean_cosmic_rays.value = True
    widget.run()
    wait_idle(qtbot, widget)
    assert widget.state.status == "done", widget.state.message
    assert len(HITS) <= widget.last_result.metadata["cosmic_rays"] <= 3 * len(HITS)
    assert "cleaned of cosmic rays" in widget.last_result.metadata["history"]


def test_without_a_gain_the_dock_says_so_in_one_line(make_napari_viewer, qtbot, tmp_path):
    reset_session_sky_origin()
    viewer = make_napari_viewer()
    _exposure(viewer, gain=None)
    widget = add_deblur_dock(viewer, model_dir=tmp_path)
    widget.clean_cosmic_rays.value = True
    assert widget.run() is None
    assert widget.state.status == "failed"
    assert "needs the gain of 'exposure'" in widget.state.message and "\n" not in widget.state.message
    assert "exposure deblurred" not in viewer.layers
