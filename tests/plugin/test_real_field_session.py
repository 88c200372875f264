"""The whole real-field session of issue 14, as an astronomer plays it, under Xvfb at 1366x768:
the sample, a field at RA 330 Dec -30 and one without WCS, deblurred (the second with a typed
pixel scale), a stretch preset and a blink with a deblurred output, a region loaded from a .reg
file scored, a brief fine-tune on the sample, a result saved and its header checked, RA/Dec read
from the status bar, and a clean close."""

import numpy as np
import pytest
from _dock_helpers import TINY_NETWORK, sky_image, tiny_model, wait_idle
from astropy.coordinates import SkyCoord
from astropy.io import fits
from seeinggan import geometry
from seeinggan.io.fits import read_image
from seeinggan.regions import write_rectangles

from napari_seeinggan import _layers
from napari_seeinggan.__main__ import open_viewer
from napari_seeinggan.widgets.finetune import NEW_NETWORK

PLUGIN = "napari-seeinggan"


def test_real_field_session(make_napari_viewer, qtbot, tmp_path, notifications):
    _layers.reset_session_sky_origin()
    # 1. The sample, with the three docks, as `make run` opens them.
    viewer, docks = open_viewer(viewer=make_napari_viewer(), sample=True)
    deblur, score, finetune = docks["Deblur"], docks["Score region"], docks["Fine-tune"]
    hint = viewer.window._qt_window.minimumSizeHint()
    assert hint.width() <= 1366 and hint.height() <= 728  # fits a laptop
    sample_space = next(layer for layer in viewer.layers if layer.name.startswith("space"))

    # 2. A field at RA 330, Dec -30 (150 degrees from the sample), and one without WCS.
    far = SkyCoord(330, -30, unit="deg")
    data, wcs = sky_image((40, 40), center=far)
    header = wcs.to_header()
    header.update({"BUNIT": "ADU", "MAGZP": 27.0, "PIXSCALE": 0.202, "SEEING": 0.8})
    fits.PrimaryHDU(data, header=header).writeto(tmp_path / "field.fits")
    bare_data, _ = sky_image((32, 24), seed=3)
    fits.PrimaryHDU(bare_data).writeto(tmp_path / "bare.fits")
    [field] = viewer.open(str(tmp_path / "field.fits"), plugin=PLUGIN)
    [bare] = viewer.open(str(tmp_path / "bare.fits"), plugin=PLUGIN)
    assert any("new sky field 2" in m for m in notifications.messages())

    # 3. Deblur each (a tiny model, small tiles: seconds); the second with a typed pixel scale.
    deblur.select_model_file(tiny_model(tmp_path))
    deblur.tile.value = 64
    for layer, typed in ((field, None), (bare, 0.2)):
        deblur.image.value = layer
        if typed is not None:
            assert not deblur.pixel_scale.native.isHidden()
            deblur.pixel_scale.value = typed
        deblur.run()
        wait_idle(qtbot, deblur)
        assert deblur.state.status == "done", deblur.state.message
    field_out = viewer.layers["field.fits[0] deblurred"]
    bare_out = viewer.layers["bare.fits[0] deblurred"]
    assert bare_out.data.shape == (round(32 * 0.2 / 0.03), round(24 * 0.2 / 0.03))
    # New deblurred layers join the Score tests.
    assert field_out in score.tests.value and bare_out in score.tests.value

    # DS9 habits: a stretch preset on the far field (the data untouched), then a blink with
    # its deblurred output.
    display = deblur.display
    display.layer.value = field
    display.limits.value = "99.5%"
    display.stretch.value = "asinh"
    assert field.contrast_limits == pytest.approx(list(np.percentile(data, [0.25, 99.75])), rel=1e-6)
    assert field.colormap.map(np.array([0.5]))[0][0] == pytest.approx(np.arcsinh(5) / np.arcsinh(10),
                                                                        abs=1e-6)
    np.testing.assert_array_equal(field.data, data)
    assert display.partner.value is field_out
    display.interval.value = 100
    display.blink.value = True
    qtbot.waitUntil(lambda: not field.visible and field_out.visible, timeout=10_000)
    qtbot.waitUntil(lambda: field.visible and not field_out.visible, timeout=10_000)
    display.blink.value = False
    assert field.visible and field_out.visible

    # 4. Score a region loaded from a DS9 .reg file (sky coordinates) on the sample.
    score.tests.value = [layer for layer in viewer.layers
                         if layer.name.startswith("ground (simulated")]
    space_data, space_wcs, _ = _layers.layer_geometry(sample_space)
    rows, cols = np.shape(space_data)
    box = np.array([[cols * 0.25, rows * 0.25], [cols * 0.75, rows * 0.25],
                    [cols * 0.75, rows * 0.75], [cols * 0.25, rows * 0.75]])
    region = write_rectangles(tmp_path / "galaxy.reg", [box], wcs=space_wcs)
    assert score.reference.value is sample_space  # the finest-pixel layer
    with qtbot.waitSignal(score.signals.finished, timeout=120_000):
        score.load_region(region)
    assert len(score.rows) == 1 and 0 < score.rows[0]["cw_ssim"] <= 1, score.status.value

    # 5. Fine-tune briefly on the sample (one galaxy: a grid of stamps).
    finetune.start_model.value = NEW_NETWORK
    finetune.config_extra = dict(TINY_NETWORK)
    finetune.steps.value, finetune.batch_size.value = 2, 2
    finetune.crop_size.value, finetune.stamp_size.value = 128, 128  # the recipe's CW-SSIM needs >= 97
    finetune.report_every.value = finetune.checkpoint_every.value = 1
    finetune.train()
    wait_idle(qtbot, finetune)
    assert finetune.state.status == "done", finetune.state.message
    assert finetune.state.n_train_pairs + finetune.state.n_val_pairs >= 2
    checkpoints = finetune.checkpoint_dir()
    assert checkpoints.is_dir()
    finetune.model_name.value = "session-test"
    saved = finetune.save()
    assert saved is not None and saved.stem == "session-test" and saved.exists()
    assert not checkpoints.exists()  # cleaned up after Save

    # 6. Save a result and check its header.
    out_path = tmp_path / "field_deblurred.fits"
    viewer.layers.selection = {field_out}
    viewer.layers.save(str(out_path), selected=True, plugin=PLUGIN)
    saved = read_image(out_path)
    assert saved.header["BUNIT"] == "ADU" and saved.header["MAGZP"] == 27.0
    # The input's grid keywords do not survive: PIXSCALE is the output's (0.03"/px), SEEING gone.
    assert saved.header.get("PIXSCALE", 0.03) == pytest.approx(0.03, rel=1e-3)
    assert "SEEING" not in saved.header and saved.header.get("SGSEEING") == pytest.approx(0.8)
    assert geometry.pixel_scale(saved.wcs) == pytest.approx(0.03, rel=1e-3)
    assert "deblurred with SeeingGAN" in "\n".join(map(str, saved.header["HISTORY"]))

    # 7. RA/Dec in the status bar at a known pixel of the far field.
    row, col = 10, 30
    viewer.layers.selection.active = field
    viewer.mouse_over_canvas = True
    viewer.cursor.position = tuple(field.data_to_world([row, col]))
    status, _tooltip = viewer._calc_status_from_cursor()
    text = status["coordinates"]
    assert geometry.format_sky(wcs.pixel_to_world(col, row)) in text
    assert text.startswith(("21:59:", "22:00:")) and " -30:0" in text
    assert f"x,y {col + 1}, {row + 1}" in text

    # 8. Closes without error: napari's fixture closes the viewer and fails on leaked
    # widgets or threads; no error was notified during the session.
    assert notifications.messages("error") == []
    _layers.reset_session_sky_origin()
