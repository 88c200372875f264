"""Screenshots of the Fine-tune and Deblur docks at work, for the README and docs/.

0. ``docs/napari-sample-pair.png``: the window ``make run`` opens (sample pair and docks).

Run under a virtual screen (napari needs one; ``offscreen`` renders a black canvas)::

    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1366x768x24" .venv/bin/python scripts/screenshots.py

It simulates a field (ground 0.202"/px + space 0.03"/px), writes both to FITS and opens them
through the plugin's reader, then:

1. ``docs/finetune-dock.png``: the Fine-tune dock mid-run (pairs from the two layers, live loss
   curves, validation CW-SSIM, preview stamps), started from the shipped model when installed;
   the result is saved as a named model.
2. ``docs/deblur-dock.png``: the Deblur dock after deblurring the ground layer (with the shipped
   model, or else the model just fine-tuned), the Score region dock scoring a rectangle loaded
   from a DS9 ``.reg`` file, zoomed on a galaxy.
3. ``docs/score-region.png``: the same, the Score region dock given the height (its table, the
   region file's note, the seeing its band came from).
4. ``docs/stretch-preset.png``: the deblurred layer of the whole field under a DS9 stretch preset
   (asinh between the 99.5% limits), the Deblur dock scrolled to its display section.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def wait(app, condition, timeout: float, what: str) -> None:
    end = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > end:
            raise TimeoutError(f"gave up waiting for {what}")
        app.processEvents()
        time.sleep(0.02)


def pump(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--steps", type=int, default=120, help="fine-tuning steps")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--only-sample", action="store_true",
                        help="only the window that `make run` opens")
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY"):
        print("needs a display: run under xvfb-run with QT_QPA_PLATFORM=xcb", file=sys.stderr)
        return 1
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    work = Path(tempfile.mkdtemp(prefix="seeinggan-shots-"))
    # Screenshots must not add models to the user's real folder.
    os.environ.setdefault("SEEINGGAN_USER_MODELS_DIR", str(work / "models"))

    import numpy as np
    from qtpy.QtWidgets import QApplication
    from seeinggan.io.fits import write_image
    from seeinggan.models.io import ModelFileError, default_model_path
    from seeinggan.simulate import simulate_field

    from napari_seeinggan.__main__ import PLUGIN, open_viewer
    from napari_seeinggan.widgets.finetune import NEW_NETWORK

    # --- 0. What `make run` shows: the sample pair and the docks
    args.out.mkdir(parents=True, exist_ok=True)
    viewer, _docks = open_viewer(sample=True, show=True)
    app = QApplication.instance()
    viewer.window._qt_window.resize(1366, 768)  # a laptop screen
    viewer.reset_view()
    pump(app, 2.0)
    viewer.screenshot(str(args.out / "napari-sample-pair.png"), canvas_only=False, flash=False)
    print("wrote", args.out / "napari-sample-pair.png")
    viewer.close()
    if args.only_sample:
        return 0

    field = simulate_field(seed=args.seed, space_shape=(512, 512), n_galaxies=8, n_stars=2)
    ground_path = write_image(work / "ground.fits", field.ground, header=field.ground_header,
                              wcs=field.ground_wcs)
    space_path = write_image(work / "space.fits", field.space, header=field.space_header,
                             wcs=field.space_wcs)
    try:
        shipped = default_model_path()
    except ModelFileError:
        shipped = None

    viewer, docks = open_viewer(sample=False, show=True)
    app = QApplication.instance()
    viewer.window._qt_window.resize(1366, 768)  # a laptop screen
    [ground] = viewer.open(str(ground_path), plugin=PLUGIN)
    [space] = viewer.open(str(space_path), plugin=PLUGIN)
    viewer.reset_view()
    deblur, finetune = docks["Deblur"], docks["Fine-tune"]
    score = docks.get("Score region")

    # --- 1. Fine-tune at work
    raise_dock(finetune)  # the Fine-tune tab in front
    finetune.reset_choices()
    finetune.ground.value, finetune.space.value = ground, space
    start = [c for c in finetune.start_model.choices if getattr(c, "kind", "") == "shipped"]
    finetune.start_model.value = start[0] if start else NEW_NETWORK
    finetune.steps.value = args.steps
    finetune.batch_size.value = 4
    finetune.report_every.value = 10
    finetune.checkpoint_every.value = 20
    finetune.model_name.value = "my-field"
    finetune.train()
    # The Fine-tune dock given the height, and scrolled so that its live plots are in view
    # (the form is above them).
    from qtpy.QtCore import Qt

    window = viewer.window._qt_window
    if score is not None:
        window.resizeDocks([dock_frame(finetune), dock_frame(score)],
                           [max(window.height() - 200, 400), 100], Qt.Orientation.Vertical)
    wait(app, lambda: finetune.state.step >= int(args.steps * 0.7), 1800, "fine-tuning")
    finetune.native.verticalScrollBar().setValue(finetune.controls.native.y())
    pump(app, 0.5)
    args.out.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(args.out / "finetune-dock.png"), canvas_only=False, flash=False)
    print("wrote", args.out / "finetune-dock.png")
    # The figures the picture shows, for its caption.
    print("  ", finetune.message.value,
          {name: [(step, round(value, 3)) for step, value in zip(*series, strict=True)]
           for name, series in finetune.log.series.items() if name.startswith("val")})
    wait(app, lambda: finetune.state.status != "running" and finetune._pbar is None, 1800,
         "the end of fine-tuning")
    saved = finetune.save()
    close_toasts(viewer)

    # --- 2. Deblur (and score) at work
    model = [c for c in deblur.model.choices if getattr(c, "kind", "") == "shipped"] if shipped \
        else [c for c in deblur.model.choices if getattr(c, "path", None) == saved]
    deblur.model.value = model[0]
    viewer.layers.selection.active = ground
    deblur.run()
    wait(app, lambda: deblur.state.status != "running" and deblur._pbar is None, 1800,
         "deblurring")
    if deblur.state.status != "done":
        raise RuntimeError(f"deblur failed: {deblur.state.message}")
    out = viewer.layers[deblur.state.result_layer]
    # The deblurred layer over the ground layer, with the space image's black level and a white
    # level that shows the galaxies' inner structure; zoomed on the brightest galaxy.
    out.contrast_limits = (space.contrast_limits[0], float(np.nanpercentile(out.data, 99.8)))
    out.gamma = 0.6
    space.visible = False
    row, col = np.unravel_index(np.nanargmax(space.data), space.data.shape)
    center = np.asarray(space.data_to_world((row, col)))[-2:]
    viewer.scene.camera.center = tuple(center)
    viewer.scene.camera.zoom = 60.0  # screen pixels per arcsec: a ~9" wide view
    raise_dock(deblur)  # the Deblur tab in front of Fine-tune, above Score region
    if score is not None:
        window.resizeDocks([dock_frame(deblur), dock_frame(score)], [330, max(window.height() - 430, 300)],
                           Qt.Orientation.Vertical)
        raise_dock(score)
        score.reference.value = space
        score.tests.value = [ground, out]
        load_score_region(score, space, center, work / "galaxy.reg")
        wait(app, lambda: len(score.rows) == 2, 600, "the score table")
    pump(app, 2.0)
    viewer.screenshot(str(args.out / "deblur-dock.png"), canvas_only=False, flash=False)
    print("wrote", args.out / "deblur-dock.png")
    if score is not None:  # the figures the picture shows, for its caption
        for row in score.rows:
            print("  ", row["name"], {key: round(value, 3) for key, value in row.items()
                                      if isinstance(value, float)})
        print("  ", score.status.value)

    # --- 3. The Score region dock with the room to show its table and notes
    if score is not None:
        frames = [dock_frame(deblur), dock_frame(score)]
        window.resizeDocks(frames, [120, max(window.height() - 220, 400)], Qt.Orientation.Vertical)
        close_toasts(viewer)
        pump(app, 1.0)
        viewer.screenshot(str(args.out / "score-region.png"), canvas_only=False, flash=False)
        print("wrote", args.out / "score-region.png")
        window.resizeDocks(frames, [max(window.height() - 300, 400), 200], Qt.Orientation.Vertical)

    # --- 4. A DS9 stretch preset on the deblurred layer of the whole field
    display = deblur.display
    raise_dock(deblur)  # the Deblur tab in front of Fine-tune
    deblur.display_section.expand(animate=False)
    display.layer.value = out
    display.limits.value = "99.5%"
    display.stretch.value = "asinh"
    out.gamma = 1.0
    viewer.layers.selection.active = out
    viewer.reset_view()
    if score is not None:  # the Deblur dock given the height, scrolled down to its display section
        window.resizeDocks([dock_frame(deblur), dock_frame(score)],
                           [max(window.height() - 230, 400), 130], Qt.Orientation.Vertical)
    pump(app, 1.0)
    deblur.native.verticalScrollBar().setValue(deblur.native.verticalScrollBar().maximum())
    deblur.native.horizontalScrollBar().setValue(0)
    close_toasts(viewer)
    pump(app, 2.0)
    viewer.screenshot(str(args.out / "stretch-preset.png"), canvas_only=False, flash=False)
    print("wrote", args.out / "stretch-preset.png")
    viewer.close()
    return 0


def close_toasts(viewer) -> None:
    """Close napari's notification toasts (they would cover the canvas in the pictures)."""
    from napari._qt.dialogs.qt_notification import NapariQtNotification

    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()


def dock_frame(widget):
    """The QDockWidget holding ``widget``."""
    from qtpy.QtWidgets import QDockWidget

    parent = widget.native
    while parent is not None and not isinstance(parent, QDockWidget):
        parent = parent.parentWidget()
    return parent


def load_score_region(score, space, center, path, half_arcsec: float = 2.0) -> None:
    """Write a DS9 box around ``center`` (world) in sky coordinates and load it in the dock."""
    import numpy as np
    from seeinggan.regions import write_rectangles

    from napari_seeinggan._layers import layer_geometry

    corners_world = [center + half_arcsec * np.array(o) for o in ((-1, -1), (-1, 1), (1, 1), (1, -1))]
    pixels = np.array([np.asarray(space.world_to_data(c))[-2:][::-1] for c in corners_world])
    write_rectangles(path, [pixels], wcs=layer_geometry(space)[1])
    score.load_region(path)
    shapes = score.shapes_layer()
    shapes.edge_width = 0.04  # arcsec: a thin outline at this zoom
    score._viewer.layers.move(score._viewer.layers.index(shapes), len(score._viewer.layers))


def raise_dock(widget) -> None:
    """Bring the dock (a tab) holding ``widget`` to the front."""
    from qtpy.QtWidgets import QDockWidget

    parent = widget.native
    while parent is not None and not isinstance(parent, QDockWidget):
        parent = parent.parentWidget()
    if parent is not None:
        parent.raise_()


if __name__ == "__main__":
    sys.exit(main())
