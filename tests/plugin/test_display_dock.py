"""The Deblur dock's display section: DS9 stretch presets (a colormap following astropy's curve,
contrast limits from the interval, data untouched) and a blink between a layer and its deblurred
output (a QTimer, stopped cleanly)."""

import numpy as np
import pytest
from _dock_helpers import add_deblur_dock, add_sky_layer, sky_image, wait_idle
from astropy.visualization import AsinhStretch, LogStretch, ZScaleInterval

from napari_seeinggan import _layers


def test_stretch_presets_change_the_display_not_the_data(make_napari_viewer, tmp_path):
    _layers.reset_session_sky_origin()
    viewer = make_napari_viewer()
    data, wcs = sky_image((64, 64))
    layer = add_sky_layer(viewer, data, wcs, "ground")
    original = data.copy()
    dock = add_deblur_dock(viewer, model_dir=tmp_path)
    display = dock.display
    assert display.layer.value is layer  # the selected layer

    display.limits.value = "min-max"
    display.stretch.value = "log"  # applies at once
    low, high = layer.contrast_limits
    assert (low, high) == pytest.approx((float(data.min()), float(data.max())))
    # The midpoint of the limits shows at the grey level astropy's LogStretch gives it.
    grey = layer.colormap.map(np.array([0.5]))[0]
    assert grey[:3] == pytest.approx([float(LogStretch()(np.array([0.5]))[0])] * 3, abs=1e-6)
    assert grey[0] == pytest.approx(0.8998, abs=1e-4)
    # A pixel a quarter of the way up: the log curve, not the linear ramp.
    quarter = layer.colormap.map(np.array([0.25]))[0][0]
    assert quarter == pytest.approx(np.log(251) / np.log(1001), abs=1e-6)
    assert layer.gamma == 1.0
    np.testing.assert_array_equal(layer.data, original)  # flux units kept

    display.stretch.value = "asinh"
    display.limits.value = "zscale"
    assert layer.contrast_limits == pytest.approx(list(ZScaleInterval().get_limits(data)), rel=1e-6)
    assert layer.colormap.map(np.array([0.5]))[0][0] == pytest.approx(
        float(AsinhStretch()(np.array([0.5]))[0]), abs=1e-6)
    display.limits.value = "99.5%"
    assert layer.contrast_limits == pytest.approx(list(np.percentile(data, [0.25, 99.75])), rel=1e-6)
    assert layer.metadata["display"] == {"stretch": "asinh", "interval": "99.5%",
                                         "limits": pytest.approx(list(layer.contrast_limits)),
                                         "base_colormap": "gray"}
    display.stretch.value = "linear"
    assert layer.colormap.map(np.array([0.3]))[0][0] == pytest.approx(0.3, abs=1e-6)
    np.testing.assert_array_equal(layer.data, original)
    _layers.reset_session_sky_origin()


def test_blink_alternates_a_layer_and_its_deblurred_output(make_napari_viewer, qtbot, tmp_path):
    _layers.reset_session_sky_origin()
    viewer = make_napari_viewer()
    data, wcs = sky_image((40, 40))
    ground = add_sky_layer(viewer, data, wcs, "ground")
    dock = add_deblur_dock(viewer, model_dir=tmp_path)
    dock.run()
    wait_idle(qtbot, dock)
    assert dock.state.status == "done", dock.state.message
    output = viewer.layers["ground deblurred"]
    display = dock.display
    display.layer.value = ground
    assert display.partner.value is output  # its deblurred output, found by provenance

    display.interval.value = 100
    seen = []
    output.events.visible.connect(lambda event: seen.append(bool(output.visible)))
    display.blink.value = True
    assert display.blinker.running and display.blinker.timer.interval() == 100
    assert ground.visible and not output.visible  # the layer first, alone
    qtbot.waitUntil(lambda: seen.count(True) >= 2 and seen.count(False) >= 2, timeout=5000)
    assert ground.visible != output.visible  # never both, never neither

    display.blink.value = False  # stopping restores both
    assert not display.blinker.running and not display.blinker.timer.isActive()
    assert ground.visible and output.visible

    display.blink.value = True
    viewer.layers.remove(output)  # removing either layer stops the blink
    assert not display.blinker.running and not display.blinker.timer.isActive()
    assert display.blink.value is False and ground.visible
    display.blink.value = True  # nothing to blink with: a warning, the box unticks
    assert display.blink.value is False and not display.blinker.running

    # Closing the dock mid-blink stops the timer and leaves both layers visible.
    other = add_sky_layer(viewer, data * 2, wcs, "ground x2")
    assert display.layer.value is other  # the display follows the selected layer
    display.layer.value = ground
    display.partner.value = other
    display.blink.value = True
    blinker = display.blinker
    qtbot.waitUntil(lambda: not other.visible, timeout=5000)
    viewer.window.remove_dock_widget(dock.native)
    qtbot.waitUntil(lambda: not blinker.running, timeout=5000)
    assert ground.visible and other.visible
    _layers.reset_session_sky_origin()
