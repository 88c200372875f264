"""The Deblur dock: result layer over the input, regions, model list, Cancel, failures shown."""

import numpy as np
import pytest
from _dock_helpers import add_deblur_dock, add_sky_layer, sky_image, tiny_model, wait_idle
from astropy.io import fits
from seeinggan import geometry
from seeinggan.io.fits import read_image

from napari_seeinggan._layers import reset_session_sky_origin
from napari_seeinggan.state import model_registry
from napari_seeinggan.widgets.deblur import (
    LOAD_FROM_FILE,
    REGION_LABELS,
    DeblurRegion,
)


@pytest.fixture
def dock(make_napari_viewer, tmp_path):
    reset_session_sky_origin()
    viewer = make_napari_viewer()
    data, wcs = sky_image((48, 48))
    add_sky_layer(viewer, data, wcs, "ground")
    widget = add_deblur_dock(viewer, model_dir=tmp_path)
    return viewer, widget


def test_result_layer_lies_over_the_input_with_provenance(dock, qtbot, tmp_path):
    from seeinggan.infer import Deblurrer

    viewer, widget = dock
    ground = viewer.layers["ground"]
    assert widget.image.value is ground  # the selected layer is the default input
    widget.run()
    wait_idle(qtbot, widget)
    assert widget.state.status == "done", widget.state.message
    out = viewer.layers["ground deblurred"]

    # 0.202"/px -> 0.03"/px: 48 px become ~323 px covering the same footprint.
    assert out.metadata["pixel_scale"] == pytest.approx(0.03, rel=1e-3)
    assert out.data.shape == widget.last_result.data.shape
    assert abs(out.data.shape[0] - 48 * 0.202 / 0.03) <= 1
    for corner in ((-0.5, -0.5), (-0.5, 47.5), (47.5, 47.5)):
        world_in = np.asarray(ground.data_to_world(corner))
        out_corner = tuple(-0.5 + (c + 0.5) * out.data.shape[0] / 48 for c in corner)
        world_out = np.asarray(out.data_to_world(out_corner))
        np.testing.assert_allclose(world_out, world_in, atol=0.03)  # < 1 output pixel (arcsec)

    # Same numbers as the core called directly with the same settings.
    direct = Deblurrer(widget.model.value.path, device="cpu", tile=64, overlap=16).deblur(
        ground.data, wcs=ground.metadata["wcs"])
    np.testing.assert_allclose(out.data, direct.data, rtol=1e-5, atol=1e-5)

    provenance = out.metadata["provenance"]
    assert provenance["model"].endswith("tiny.safetensors")
    assert provenance["tile"] == 64 and provenance["overlap"] == 16
    assert provenance["region"] == REGION_LABELS[DeblurRegion.WHOLE_LAYER] == "whole layer"
    # the output's WCS is the direct call's: the finer grid over the same footprint
    assert out.metadata["wcs"].wcs.compare(direct.wcs.wcs, tolerance=1e-9)
    history = "\n".join(str(h) for h in out.metadata["header"]["HISTORY"])
    assert "tiny.safetensors" in history and "SeeingGAN" in history

    # Ready for the plugin's FITS writer: the file keeps the finer WCS and the history.
    path = tmp_path / "out.fits"
    viewer.layers.selection = {out}
    viewer.layers.save(str(path), selected=True, plugin="napari-seeinggan")
    with fits.open(path) as hdul:
        assert "tiny.safetensors" in str(hdul[0].header["HISTORY"])
    saved = read_image(path)
    assert geometry.pixel_scale(saved.wcs) == pytest.approx(0.03, rel=1e-3)
    np.testing.assert_allclose(saved.data, out.data, rtol=1e-6)


def test_drawn_rectangle_deblurs_only_that_region(dock, qtbot):
    viewer, widget = dock
    ground = viewer.layers["ground"]
    # A rectangle over ground rows 10..30, cols 5..25, drawn in world coordinates.
    corners = [ground.data_to_world(p) for p in ((10, 5), (10, 25), (30, 25), (30, 5))]
    shapes = viewer.add_shapes([np.array(corners)], shape_type="rectangle", name="box")
    viewer.layers.selection.active = ground
    widget.region.value = DeblurRegion.DRAWN_RECTANGLE
    widget.shapes.value = shapes
    assert not widget.shapes.native.isHidden()  # shown with the "drawn rectangle" choice
    widget.run()
    wait_idle(qtbot, widget)
    assert widget.state.status == "done", widget.state.message
    out = viewer.layers["ground deblurred"]
    rows0, rows1, cols0, cols1 = out.metadata["provenance"]["region_pixels"]
    assert (rows0, cols0) == (10, 5) and rows1 - rows0 in (20, 21) and cols1 - cols0 in (20, 21)
    # The cut-out's first pixel edge sits on the input's pixel edge at (rows0, cols0).
    world_in = np.asarray(ground.data_to_world((rows0 - 0.5, cols0 - 0.5)))
    world_out = np.asarray(out.data_to_world((-0.5, -0.5)))
    np.testing.assert_allclose(world_out, world_in, atol=0.03)


def test_model_list_shows_saved_models_at_once(dock, tmp_path):
    from seeinggan.models.io import user_models_dir

    viewer, widget = dock
    before = [getattr(c, "label", c) for c in widget.model.choices]
    assert before[-1] == LOAD_FROM_FILE and "tiny (file)" in before
    saved = tiny_model(user_models_dir(), name="my-galaxies", seed=1)
    model_registry().notify_saved(saved)  # what the Fine-tune dock does after saving
    after = [getattr(c, "label", c) for c in widget.model.choices]
    assert "my-galaxies" in after
    assert after[-1] == LOAD_FROM_FILE  # it came after "load from file..."
    assert widget.model.value.label == "tiny (file)"  # the current choice is kept


def test_cancel_stops_within_a_tile(dock, qtbot, notifications):
    viewer, widget = dock
    data, wcs = sky_image((160, 160), seed=3)
    add_sky_layer(viewer, data, wcs, "big")
    widget.image.value = viewer.layers["big"]
    widget.tile.value = 32
    widget.overlap.value = 0
    tiles_seen = []
    widget.state.events.tiles_done.connect(lambda value: tiles_seen.append(value))
    # Cancel as soon as the first tiles are done (from the GUI thread, like the button).
    widget.state.events.tiles_done.connect(lambda value: value >= 1 and widget.cancel())
    widget.run()
    wait_idle(qtbot, widget)
    assert widget.state.status == "cancelled"
    assert "big deblurred" not in viewer.layers
    total = widget.state.tiles_total
    assert total > 100  # 160 px at 0.202" -> 1078 px at 0.03": hundreds of 32-px tiles
    # The GUI hears of progress through queued worker yields, so it may ask to stop a few
    # batches (batch_size 4) after the first; the core stops at the next batch boundary.
    assert max(tiles_seen) <= 4 * 4, (max(tiles_seen), total)
    assert any("cancelled" in m.lower() for m in notifications.messages())
    assert widget.deblur_button.enabled and not widget.cancel_button.enabled


def test_layer_without_wcs_or_pixel_scale_fails_with_a_notification(dock, qtbot, notifications):
    viewer, widget = dock
    viewer.add_image(np.ones((32, 32), dtype=np.float32), name="plain")
    widget.image.value = viewer.layers["plain"]
    widget.run()
    wait_idle(qtbot, widget)
    assert widget.state.status == "failed"
    errors = notifications.messages("error")
    assert errors, notifications.messages()
    assert "pixel scale" in errors[-1] and errors[-1].startswith("Deblur failed")
    assert "plain deblurred" not in viewer.layers


def test_no_model_chosen_is_explained(dock, qtbot, notifications):
    viewer, widget = dock
    with widget.model.changed.blocked():
        widget.model.value = LOAD_FROM_FILE
    widget.run()
    assert widget.state.status == "failed"
    assert "choose a model" in notifications.messages("error")[-1]


def test_bad_model_file_is_refused_with_its_name(dock, tmp_path, notifications):
    viewer, widget = dock
    bogus = tmp_path / "bogus.json"
    bogus.write_text("{}")
    assert widget.select_model_file(bogus) is None
    assert "bogus.json" in notifications.messages("error")[-1]


def test_devices_offered_are_the_cores(dock):
    from seeinggan.devices import available_devices, resolve_device

    _viewer, widget = dock
    assert list(widget.device.choices) == available_devices()
    assert widget.device.value == "auto"
    for name in widget.device.choices:  # every choice is one the Deblurrer accepts
        resolve_device(name)
