"""``docs/maps.png``: a deblurred galaxy beside its uncertainty, consistency and support maps (README, docs/maps.md).

Run under a laptop-sized virtual screen (napari needs one; ``offscreen`` renders black)::

    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1366x768x24" .venv/bin/python scripts/screenshot_maps.py

It simulates one galaxy pair (seed ``--seed``, the held-out set's generator), writes the ground
image to FITS (its header carries SEEING, PSFBETA, GAIN, SKYNOISE), opens it through the plugin's
reader, deblurs it in the Deblur dock with "maps" ticked (the shipped model), and shows five
panels in napari's grid mode: the ground image, the deblurred image, the uncertainty map, the
consistency (chi) map and the support guard's map, with the dock's summary line. Kept apart from
``scripts/screenshots.py`` (the docks' tour) so each can be rerun alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from screenshots import pump, wait  # the docks' tour beside this script (scripts/ is on sys.path)

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "maps.png")
    parser.add_argument("--seed", type=int, default=1000, help="seed of the simulated set")
    parser.add_argument("--index", type=int, default=7, help="which pair of that set (7: a merger)")
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY"):
        print("needs a display: run under xvfb-run with QT_QPA_PLATFORM=xcb", file=sys.stderr)
        return 1
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    work = Path(tempfile.mkdtemp(prefix="seeinggan-maps-shot-"))
    os.environ.setdefault("SEEINGGAN_USER_MODELS_DIR", str(work / "models"))

    import napari
    import numpy as np
    from qtpy.QtWidgets import QApplication
    from seeinggan.simulate import write_pairs

    from napari_seeinggan.__main__ import PLUGIN, prefer_our_fits_reader

    folder = write_pairs(work / "pairs", n=args.index + 1, seed=args.seed)
    ground_path = sorted((folder / "ground").iterdir())[args.index]
    prefer_our_fits_reader()
    viewer = napari.Viewer(title="SeeingGAN", show=True)
    _dock, deblur = viewer.window.add_plugin_dock_widget(PLUGIN, "Deblur")  # the one dock at work
    app = QApplication.instance()
    viewer.window._qt_window.resize(1366, 740)
    [ground] = viewer.open(str(ground_path), plugin="napari-seeinggan")
    ground.name = "ground"
    viewer.layers.selection.active = ground
    deblur.image.value = ground
    shipped = [c for c in deblur.model.choices if getattr(c, "kind", "") == "shipped"]
    if shipped:
        deblur.model.value = shipped[0]
    deblur.maps.value = True
    deblur.run()
    wait(app, lambda: deblur.state.status != "running" and deblur._pbar is None, 1800, "deblurring")
    if deblur.state.status != "done":
        raise RuntimeError(f"deblur failed: {deblur.state.message}")
    out = viewer.layers["ground deblurred"]
    uncertainty = viewer.layers["ground uncertainty"]
    consistency = viewer.layers["ground consistency"]
    support = viewer.layers["ground support"]
    out.contrast_limits = (0.0, float(np.nanpercentile(out.data, 99.8)))
    out.gamma = 0.6
    for layer in (uncertainty, consistency, support):
        layer.visible = True
        layer.blending = "translucent"
        layer.opacity = 1.0
    for layer in list(viewer.layers):
        if layer not in (ground, out, uncertainty, consistency, support):
            viewer.layers.remove(layer)  # a hidden layer still takes a grid panel
    # Grid mode: one panel per layer, in layer-list order (ground, deblurred, uncertainty, chi, support).
    viewer.grid.enabled = True
    viewer.grid.shape = (2, 3)
    viewer.grid.stride = 1
    viewer.reset_view()
    pump(app, 2.0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(args.out), canvas_only=False, flash=False)
    print("wrote", args.out, "|", deblur.maps_summary.value)
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src_core"))
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
