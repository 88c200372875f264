"""The Fine-tune dock: pairs from layers or rectangles, live curves, Stop/Resume, Save, close."""

import threading

import numpy as np
import pytest
from _dock_helpers import TINY_NETWORK, add_sky_layer, wait_idle

from napari_seeinggan._layers import reset_session_sky_origin
from napari_seeinggan.widgets.deblur import DeblurWidget
from napari_seeinggan.widgets.finetune import (
    CRITIC,
    GENERATOR,
    NEW_NETWORK,
    VAL_CW_SSIM,
    FinetuneWidget,
    PairSource,
)


@pytest.fixture(scope="module")
def field():
    from seeinggan.simulate import simulate_field

    return simulate_field(seed=1, space_shape=(384, 384), n_galaxies=6, n_stars=2)


@pytest.fixture
def dock(make_napari_viewer, field):
    reset_session_sky_origin()
    viewer = make_napari_viewer()
    add_sky_layer(viewer, field.ground.astype(np.float32), field.ground_wcs, "ground")
    add_sky_layer(viewer, field.space.astype(np.float32), field.space_wcs, "space")
    widget = FinetuneWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Fine-tune")
    widget.start_model.value = NEW_NETWORK
    widget.config_extra = dict(TINY_NETWORK)
    widget.batch_size.value = 2
    widget.crop_size.value = 64  # validation CW-SSIM needs >= 49 px
    widget.report_every.value = 2
    widget.checkpoint_every.value = 2
    widget.adversarial_weight.value = 0.01
    widget.structural_weight.value = 0.0  # keeps the tiny steps fast; L1 + adversarial
    return viewer, widget


def test_train_from_two_layers_then_save_lists_the_model_in_deblur(dock, qtbot):
    from seeinggan.models.io import load_model, user_models_dir

    viewer, widget = dock
    # The coarser layer is guessed as the ground image, the finer as the space image.
    assert widget.ground.value.name == "ground" and widget.space.value.name == "space"
    deblur = DeblurWidget(viewer)
    viewer.window.add_dock_widget(deblur, name="Deblur")
    widget.steps.value = 6
    widget.train()
    wait_idle(qtbot, widget)
    state = widget.state
    assert state.status == "done", state.message
    assert state.step == 6 and state.total_steps == 6
    assert state.n_train_pairs >= 4 and state.n_val_pairs >= 1  # 8 stamps, 20% validation
    steps, values = widget.log.series[GENERATOR]
    assert steps == [1, 2, 3, 4, 5, 6] and np.all(np.isfinite(values))
    assert len(widget.log.series[CRITIC][0]) == 6
    val_steps, val_values = widget.log.series[VAL_CW_SSIM]
    assert val_steps == [2, 4, 6] and all(-1 <= v <= 1 for v in val_values)
    preview = widget.log.preview
    assert preview["step"] == 6 and preview["output"].shape == preview["target"].shape
    widget.plots.redraw()  # the curves hold the logged points
    assert len(widget.plots.curves[GENERATOR].getData()[0]) == 6
    assert widget.progress.value == 6 and widget.save_button.enabled

    widget.model_name.value = "my-field"
    path = widget.save()
    assert path is not None and path.parent == user_models_dir() and path.exists()
    generator, metadata = load_model(path)
    assert metadata["name"] == "my-field" and metadata["training"]["steps"] == 6
    # The Deblur dock lists it at once, and so does the Fine-tune dock's start-model list.
    assert "my-field" in [getattr(c, "label", c) for c in deblur.model.choices]
    assert "my-field" in [getattr(c, "label", c) for c in widget.start_model.choices]


def test_stop_then_resume_continues_from_the_step_it_stopped(dock, qtbot, notifications):
    viewer, widget = dock
    widget.steps.value = 10
    widget.state.events.step.connect(lambda step: step >= 3 and widget.stop())
    widget.train()
    wait_idle(qtbot, widget)
    assert widget.state.status == "cancelled", widget.state.message
    stopped_at = widget.state.step
    assert 3 <= stopped_at <= 4  # stops after the step in progress
    assert widget.trainer.step == stopped_at
    checkpoint = widget.last_checkpoint
    assert checkpoint is not None and checkpoint.exists()  # the Stop checkpoint
    assert any("stopped" in m for m in notifications.messages())
    assert widget.resume_button.enabled and widget.save_button.enabled

    widget.state.events.step.disconnect()
    widget.resume()
    wait_idle(qtbot, widget)
    assert widget.state.status == "done", widget.state.message
    steps = widget.log.series[GENERATOR][0]
    assert steps == list(range(1, 11))  # no step repeated, none lost


def test_pairs_from_rectangles_on_the_space_layer(dock, qtbot):
    viewer, widget = dock
    space = viewer.layers["space"]
    boxes = []
    for (r0, c0) in ((40, 40), (200, 150)):
        corners = [space.data_to_world(p) for p in
                   ((r0, c0), (r0, c0 + 96), (r0 + 96, c0 + 96), (r0 + 96, c0))]
        boxes.append(np.array(corners))
    shapes = viewer.add_shapes(boxes, shape_type="rectangle", name="training boxes")
    widget.source.value = PairSource.RECTANGLES
    widget.shapes.value = shapes
    widget.val_fraction.value = 0.5
    widget.steps.value = 2
    widget.train()
    wait_idle(qtbot, widget)
    assert widget.state.status == "done", widget.state.message
    assert (widget.state.n_train_pairs, widget.state.n_val_pairs) == (1, 1)


def test_rectangles_from_a_ds9_file_land_on_their_sky_position(dock, tmp_path):
    from seeinggan.regions import write_rectangles

    viewer, widget = dock
    space = viewer.layers["space"]
    widget.source.value = PairSource.FOLDER
    assert widget.load_regions_button.native.isHidden()  # offered with rectangles only
    widget.source.value = PairSource.RECTANGLES
    assert not widget.load_regions_button.native.isHidden()
    # A box of 96 x 64 space pixels at rows 40-136, cols 200-264, written in ICRS.
    x0, y0, x1, y1 = 200.0, 40.0, 264.0, 136.0
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    path = write_rectangles(tmp_path / "boxes.reg", [corners], wcs=widget.space.value.metadata["wcs"])
    widget.load_regions(path)
    shapes = viewer.layers["training regions"]
    assert widget.shapes.value is shapes
    (region,) = widget._regions()  # the corners again, in space-frame (row, col) pixels
    assert region[:, 0].min() == pytest.approx(y0, abs=0.01) and region[:, 0].max() == pytest.approx(y1, abs=0.01)
    assert region[:, 1].min() == pytest.approx(x0, abs=0.01) and region[:, 1].max() == pytest.approx(x1, abs=0.01)
    assert space.name == widget.space.value.name


def test_layer_without_wcs_is_refused_with_a_notification(dock, qtbot, notifications):
    viewer, widget = dock
    viewer.add_image(np.ones((64, 64), dtype=np.float32), name="plain")
    widget.ground.value = viewer.layers["plain"]
    assert widget.train() is None
    assert widget.state.status == "failed"
    message = notifications.messages("error")[-1]
    assert message.startswith("Fine-tuning failed") and "'plain' has no celestial WCS" in message


def test_closing_napari_stops_training_cleanly(dock, qtbot):
    viewer, widget = dock
    widget.steps.value = 100_000
    widget.train()
    qtbot.waitUntil(lambda: widget.state.step >= 2, timeout=60_000)
    folder = widget.checkpoint_dir()  # known before the dock goes away
    worker = widget.worker
    viewer.close()
    # The close waited for the run to stop: no thread of it is left running Python (a script
    # that closed napari mid fine-tune and exited at once aborted 2 times in 3).
    assert not worker.is_running
    assert not [t for t in threading.enumerate() if t.name == "napari-seeinggan fine-tune"]
    from seeinggan.train import latest_checkpoint, load_checkpoint

    latest = latest_checkpoint(folder)
    assert latest is not None, "closing should stop training with a checkpoint"
    # Stopped a few steps after the close, not after 100,000.
    assert 2 <= load_checkpoint(latest)["step"] <= 20
