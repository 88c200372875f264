"""The whole user story in one test, headless, through the plugin's manifest:

open a simulated ground and space FITS of one field with the plugin's reader; deblur the ground
layer; draw a rectangle; the Score region table says the deblurred layer is closer to the space
image than the ground layer by CW-SSIM; fine-tune a few steps on pairs from the two layers; the
saved model appears in the Deblur dock at once; deblur again with it.

The deblurring model is the shipped default (``seeinggan.models.io.default_model_path()``). Where
this installation has none yet, an untrained tiny model stands in so that every other step of
the story is still played, and the CW-SSIM check fails with a message saying that the shipped
model is missing.
"""

from pathlib import Path

import numpy as np
import pytest
from _dock_helpers import tiny_model, wait_idle

from napari_seeinggan._layers import reset_session_sky_origin

PLUGIN = "napari-seeinggan"


def shipped_model() -> Path | None:
    from seeinggan.models.io import ModelFileError, default_model_path

    try:
        return default_model_path()
    except ModelFileError:
        return None


@pytest.fixture(scope="module")
def field_files(tmp_path_factory):
    from seeinggan.io.fits import write_image
    from seeinggan.simulate import simulate_field

    folder = tmp_path_factory.mktemp("field")
    field = simulate_field(seed=3, space_shape=(384, 384), n_galaxies=6, n_stars=2)
    ground = write_image(folder / "ground.fits", field.ground, header=field.ground_header,
                         wcs=field.ground_wcs)
    space = write_image(folder / "space.fits", field.space, header=field.space_header,
                        wcs=field.space_wcs)
    return ground, space, field


def galaxy_box(layer, galaxy: dict, *, half_arcsec: float = 1.5) -> np.ndarray:
    """World corners of a square centred on a simulated galaxy (its RA/Dec) in ``layer``."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    x, y = layer.metadata["wcs"].world_to_pixel(SkyCoord(galaxy["ra"] * u.deg,
                                                         galaxy["dec"] * u.deg))
    center = np.asarray(layer.data_to_world((float(y), float(x))))[-2:]
    offsets = ((-1, -1), (-1, 1), (1, 1), (1, -1))
    return np.array([center + half_arcsec * np.array(o) for o in offsets])


def test_user_story(make_napari_viewer, qtbot, field_files, tmp_path):
    from seeinggan.models.io import user_models_dir

    from napari_seeinggan.widgets.finetune import NEW_NETWORK

    reset_session_sky_origin()
    ground_path, space_path, field = field_files
    viewer = make_napari_viewer()

    # 1. Open both files through the plugin's reader: they overlay on the sky.
    [ground] = viewer.open(str(ground_path), plugin=PLUGIN)
    [space] = viewer.open(str(space_path), plugin=PLUGIN)
    assert ground.metadata["pixel_scale"] == pytest.approx(0.202, rel=1e-3)
    assert space.metadata["pixel_scale"] == pytest.approx(0.03, rel=1e-3)

    # 2. The three docks, as a user opens them from the Plugins menu.
    _, deblur = viewer.window.add_plugin_dock_widget(PLUGIN, "Deblur")
    _, score = viewer.window.add_plugin_dock_widget(PLUGIN, "Score region")
    _, finetune = viewer.window.add_plugin_dock_widget(PLUGIN, "Fine-tune")

    # 3. Deblur the ground layer with the shipped model (or a stand-in, see the docstring).
    model = shipped_model()
    if model is None:
        deblur.select_model_file(tiny_model(tmp_path, name="untrained-stand-in"))
        deblur.tile.value, deblur.overlap.value = 64, 16
    else:
        [entry] = [c for c in deblur.model.choices
                   if getattr(c, "kind", "") == "shipped" and Path(c.path).stem == "default"]
        deblur.model.value = entry
    viewer.layers.selection.active = ground
    assert deblur.image.value is ground
    deblur.run()
    wait_idle(qtbot, deblur, timeout_ms=300_000)
    assert deblur.state.status == "done", deblur.state.message
    deblurred = viewer.layers[deblur.state.result_layer]
    assert deblurred.name == f"{ground.name} deblurred"

    # 4. Draw a rectangle over the barred spiral and read the Score region table.
    [spiral] = [o for o in field.params["objects"] if o["class"] == "barred-spiral"]
    scores = score_region(viewer, score, qtbot, reference=space, tests=[ground, deblurred],
                          box=galaxy_box(space, spiral))
    cw_ground, cw_deblurred = scores[ground.name], scores[deblurred.name]
    assert 0 < cw_ground < 1 and 0 < cw_deblurred <= 1
    shipped_ok = cw_deblurred > cw_ground
    shipped_message = (
        f"CW-SSIM to the space image: deblurred {cw_deblurred:.4f}, ground {cw_ground:.4f}. "
        + ("The shipped default model is missing (seeinggan/weights/default.safetensors): an "
           "untrained stand-in was used, which cannot beat the ground image."
           if model is None else "The shipped default model does not beat the ground image.")
    )

    # 5. Fine-tune a few steps on pairs from the two layers, starting from the same model.
    assert finetune.ground.value is ground and finetune.space.value is space
    start = [c for c in finetune.start_model.choices
             if getattr(c, "path", None) == deblur.model.value.path]
    finetune.start_model.value = start[0] if start else NEW_NETWORK
    finetune.steps.value = 3
    finetune.batch_size.value = 2
    finetune.crop_size.value = 112
    finetune.report_every.value = 3
    finetune.config_extra = {"val_samples": 2, "threads": 1}
    finetune.train()
    wait_idle(qtbot, finetune, timeout_ms=300_000)
    assert finetune.state.status == "done", finetune.state.message
    assert finetune.state.step == 3 and finetune.state.n_train_pairs >= 2
    finetune.model_name.value = "story-model"
    saved = finetune.save()
    assert saved is not None and saved.parent == user_models_dir()

    # 6. The saved model is listed by the Deblur dock at once; deblur again with it.
    [entry] = [c for c in deblur.model.choices if getattr(c, "label", "") == "story-model"]
    deblur.model.value = entry
    viewer.layers.selection.active = ground
    deblur.run()
    wait_idle(qtbot, deblur, timeout_ms=300_000)
    assert deblur.state.status == "done", deblur.state.message
    again = viewer.layers[deblur.state.result_layer]
    assert again is not deblurred and again.data.shape == deblurred.data.shape
    assert again.metadata["provenance"]["model"] == str(saved)
    assert not np.allclose(again.data, deblurred.data)  # the fine-tuned weights differ

    assert shipped_ok, shipped_message


def score_region(viewer, score, qtbot, *, reference, tests, box) -> dict[str, float]:
    """Draw ``box`` (world corners) on the Score region dock's layer; read CW-SSIM per layer."""
    score.reference.value = reference
    score.tests.value = tests
    score.shapes_layer().add_rectangles([box])  # the table updates by itself
    names = {layer.name for layer in tests}
    qtbot.waitUntil(lambda: {row["name"] for row in score.rows} == names, timeout=300_000)
    return {row["name"]: row["cw_ssim"] for row in score.rows}
