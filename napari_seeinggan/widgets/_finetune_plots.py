"""The Fine-tune dock's live plots: loss and validation curves and preview stamps (pyqtgraph).

`LossPlots` listens to a `napari_seeinggan.state.TrainingLog` and redraws from it; the dock only
writes the log.
"""

import numpy as np

from napari_seeinggan.state import TrainingLog

GENERATOR = "generator"
CRITIC = "critic"
VAL_CW_SSIM = "val_cw_ssim"
VAL_CW_SSIM_INPUT = "val_cw_ssim_input"
CURVE_COLORS = {GENERATOR: (80, 160, 255), CRITIC: (255, 140, 60), VAL_CW_SSIM: (90, 220, 120),
                VAL_CW_SSIM_INPUT: (170, 170, 170)}


class LossPlots:
    """Live loss curves and preview stamps (pyqtgraph), fed by a `TrainingLog`.

    Redraws at most five times a second, whatever the step rate, so that drawing never
    competes with the event loop.
    """

    def __init__(self, log: TrainingLog):
        import pyqtgraph as pg
        from qtpy import QtCore
        from qtpy.QtCore import QTimer

        self.log = log
        self.widget = pg.GraphicsLayoutWidget()
        self.widget.setMinimumHeight(300)  # compact: the dock scrolls on small screens
        self.losses = self.widget.addPlot(row=0, col=0, colspan=3, title="losses")
        self.losses.addLegend(offset=(-5, 5))
        self.losses.setLabel("bottom", "step")
        self.quality = self.widget.addPlot(row=1, col=0, colspan=3, title="validation CW-SSIM")
        self.quality.addLegend(offset=(-5, 5))
        self.quality.setLabel("bottom", "step")
        self.curves = {
            GENERATOR: self.losses.plot(name="generator", pen=pg.mkPen(CURVE_COLORS[GENERATOR],
                                                                       width=2)),
            CRITIC: self.losses.plot(name="critic", pen=pg.mkPen(CURVE_COLORS[CRITIC], width=2)),
            VAL_CW_SSIM: self.quality.plot(name="model", pen=pg.mkPen(CURVE_COLORS[VAL_CW_SSIM],
                                                                      width=2),
                                           symbol="o", symbolSize=5,
                                           symbolBrush=CURVE_COLORS[VAL_CW_SSIM]),
            VAL_CW_SSIM_INPUT: self.quality.plot(
                name="input (ground)", pen=pg.mkPen(CURVE_COLORS[VAL_CW_SSIM_INPUT], width=1,
                                                    style=QtCore.Qt.PenStyle.DashLine)),
        }
        self.images = {}
        for col, key in enumerate(("input", "output", "target")):
            view = self.widget.addViewBox(row=2, col=col, lockAspect=True, invertY=True)
            view.setMouseEnabled(False, False)
            image = pg.ImageItem()
            view.addItem(image)
            label = pg.TextItem(key, color=(220, 220, 220), anchor=(0, 0))
            view.addItem(label)
            self.images[key] = (image, label, view)
        self.widget.ci.layout.setRowStretchFactor(0, 3)
        self.widget.ci.layout.setRowStretchFactor(1, 2)
        self.widget.ci.layout.setRowStretchFactor(2, 3)
        self.widget.ci.layout.setRowMinimumHeight(2, 80)
        self._dirty = False
        self.timer = QTimer(self.widget)
        self.timer.setInterval(200)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()
        log.point_added.connect(self._mark_dirty)
        log.preview_changed.connect(self._mark_dirty)
        log.cleared.connect(self._mark_dirty)

    def _mark_dirty(self, *_):
        self._dirty = True

    def redraw(self):
        """Redraw the curves whose data changed since the last redraw."""
        if not self._dirty:
            return
        self._dirty = False
        for name, curve in self.curves.items():
            steps, values = self.log.series.get(name, ([], []))
            curve.setData(np.asarray(steps, dtype=float), np.asarray(values, dtype=float))
        preview = self.log.preview or {}
        low = high = None
        if preview.get("target") is not None or preview.get("output") is not None:
            # One display range for all three stamps, so brightness compares across them.
            reference = preview.get("target")
            reference = preview["output"] if reference is None else reference
            finite = np.asarray(reference, dtype=float)
            finite = finite[np.isfinite(finite)]
            if finite.size:
                low, high = np.percentile(finite, [1, 99.7])
        for key, (image, label, view) in self.images.items():
            data = preview.get(key)
            if data is None:
                image.clear()
                continue
            data = np.asarray(data, dtype=np.float32)
            levels = (low, high if high is not None and high > low else low + 1) \
                if low is not None else None
            # pyqtgraph images are (x, y): transpose so rows stay rows.
            image.setImage(data.T, levels=levels, autoLevels=levels is None)
            label.setText(f"{key} (step {preview.get('step', 0)})" if key == "output" else key)
            view.autoRange(padding=0)
