"""The "Score region" dock: fidelity measures, CW-SSIM, SSIM and PSNR of layers against a reference, in a rectangle.

Pick a reference layer (for example the space image) and test layers (the ground image, a
deblurred one), draw a rectangle on the "score region" shapes layer (the dock adds it, in
rectangle mode): the table shows each test's scores over the rectangle (a column per layer, a
row per measure, so that it fits a laptop dock) and follows the rectangle as it moves. First
the measures texture cannot game: the band error and band power ratio in the band the seeing
removed (0.5/FWHM-2/FWHM; the seeing from a test layer's header, SEEING or FWHM,
else the dock's seeing field) and the Fourier-ring resolution in arcsec; then CW-SSIM, SSIM,
PSNR and the CW-SSIM change in % against the first test (the paper's Table 2).

No science here: the rectangle becomes a box of reference pixels, each test is brought onto it and
scored by `seeinggan.metrics` (`box_from_pixels`, `onto_region`, `score_region`), off the GUI
thread. Test layers are resampled by their WCS (`napari_seeinggan._layers.layer_geometry`) or,
without one, by the layers' transforms.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import napari
import numpy as np
from magicgui.widgets import ComboBox, Container, Label, PushButton, Select, Table
from napari.utils.notifications import show_info, show_warning
from seeinggan.errors import InputError

from napari_seeinggan._layers import chosen_rectangle_world, world_to_pixels
from napari_seeinggan.widgets._common import ScrollableDock, finest_layer, image_layer_choices
from napari_seeinggan.widgets._lifecycle import DockRun, RunsInWorker
from napari_seeinggan.workers import Outcome

SHAPES_NAME = "score region"
UNSTABLE_ROW = "Unstable %"
"""Shown for layers deblurred with maps: % of the source light in the rectangle flagged unstable."""
UNSTABLE_TIP = ("Unstable flux: % of the source light in the rectangle that the uncertainty map flags "
                "unstable (layers deblurred with maps)")
DEBOUNCE_MS = 250
METRIC_LABELS = ("Band err", "Power", 'FRC "', "CW-SSIM", "SSIM", "PSNR", "Change")
"""The table's rows (one column per test layer: a laptop dock is narrow, and layers are few)."""
METRIC_KEYS = ("band_error", "band_power_ratio", "frc_scale_arcsec", "cw_ssim", "ssim", "psnr",
               "cw_ssim_change_percent")
"""The `seeinggan.metrics.score_region` key shown in each row."""
METRIC_FORMATS = ("{:.3f}", "{:.2f}", "{:.3f}", "{:.3f}", "{:.3f}", "{:.2f}", "{:+.1f}%")
"""How each row is shown (the table keeps the full-precision numbers); the unstable row: 1 decimal."""
METRIC_TIPS = (
    "Band error: sum|X-T|^2 / sum|T|^2 over spatial frequencies 0.5/FWHM-2/FWHM (what the seeing "
    "removed). 0 = restored; ~1 = nothing restored; above the ground's = worse than doing nothing",
    "Band power ratio: the test's power over the reference's in that band (1 = as much structure; "
    "above 1 = invented texture or noise)",
    "Fourier-ring resolution (arcsec): 1 / the frequency where the Fourier ring correlation with "
    "the reference falls below 0.5; smaller is better",
    "CW-SSIM (the paper's metric; rewards texture of the right energy anywhere: read it with the "
    "band error)",
    "SSIM",
    "PSNR in dB (data range 1 after the normalisation of docs/metrics.md)",
    "CW-SSIM change in % against the first test layer",
)
DEFAULT_SEEING = 0.9
"""Seeing FWHM (arcsec) of the dock's field, used when no test layer's header gives one."""


@dataclass
class ScoreRequest:
    """Plain data captured on the GUI thread: what a worker needs to score one rectangle."""

    reference_name: str
    reference: np.ndarray
    box: object  # seeinggan.metrics.PixelBox
    reference_wcs: object = None
    tests: list[tuple[str, np.ndarray, object, np.ndarray | None]] = field(default_factory=list)
    # (name, data, wcs or None, pixel map reference (row, col) -> layer (row, col) or None)
    pixel_scale: float | None = None  # arcsec per reference pixel (None: no fidelity measures)
    seeing_fwhm: float | None = None  # arcsec, sets the band of the band error and power ratio
    seeing_source: str = ""
    maps: dict = field(default_factory=dict)
    # test name -> (its uncertainty map, pixel noise): deblurred layers made with "maps"


@dataclass
class ScoreProblem:
    """What a worker returns instead of rows when the region cannot be scored (user-fixable)."""

    message: str


def score_updates(request: ScoreRequest, *, stop) -> Generator[None, None, Outcome]:
    """Score ``request`` in a helper thread (worker generator for the dock's `DockRun`).

    Yields nothing; returns an `napari_seeinggan.workers.Outcome` whose ``value`` is what
    `score_request` returns (rows, or a `ScoreProblem`), or whose ``error`` is a failure.
    """
    from napari_seeinggan.workers import run_in_thread

    return (yield from run_in_thread(lambda _emit: score_request(request), stop=stop, name="score"))


def score_request(request: ScoreRequest) -> list[dict] | ScoreProblem:
    """Bring every test onto the box and score it (runs in a worker thread).

    Problems the user can fix (no overlap, region too small, no signal) come back as a
    `ScoreProblem`; anything else raises.
    """
    try:
        return _score_rows(request)
    except ValueError as error:  # RegionError, RegionTooSmallError, no signal in the reference
        return ScoreProblem(str(error))


def _score_rows(request: ScoreRequest) -> list[dict]:
    from seeinggan.metrics import RegionError, onto_region, score_region

    on_grid = {}
    for name, data, wcs, pixel_map in request.tests:
        try:
            if wcs is not None and request.reference_wcs is not None:
                image = onto_region(data, box=request.box, reference_wcs=request.reference_wcs, wcs=wcs)
            else:
                image = onto_region(data, box=request.box, pixel_map=pixel_map)
        except ValueError as error:
            raise RegionError(f"{name}: does not overlap the rectangle ({error})") from None
        on_grid[name] = image
    rows = score_region(request.reference, on_grid, box=request.box, pixel_scale=request.pixel_scale,
                        seeing_fwhm=request.seeing_fwhm)
    _add_unstable_flux(request, rows)
    return rows


def _add_unstable_flux(request: ScoreRequest, rows: list[dict]) -> None:
    """``row["unstable_flux"]``: the flagged fraction of the source light in the rectangle."""
    from seeinggan.infer.maps import unstable_flux_images
    from seeinggan.metrics import onto_region

    for name, data, wcs, pixel_map in request.tests:
        if name not in request.maps:
            continue
        spread, pixel_noise = request.maps[name]
        sums = []
        for image in unstable_flux_images(data, spread, pixel_noise=pixel_noise):
            if wcs is not None and request.reference_wcs is not None:
                image = onto_region(image, box=request.box, reference_wcs=request.reference_wcs, wcs=wcs)
            else:
                image = onto_region(image, box=request.box, pixel_map=pixel_map)
            sums.append(float(np.nansum(image)))
        for row in rows:
            if row["name"] == name:
                row["unstable_flux"] = sums[1] / sums[0] if sums[0] > 0 else float("nan")


def _signals():
    from qtpy.QtCore import QObject, Signal

    class ScoreSignals(QObject):
        """Qt signals of the dock: a scoring worker started; its result (or error) is shown."""

        started = Signal()
        finished = Signal()

    return ScoreSignals()


class ScoreRegionWidget(RunsInWorker, ScrollableDock):
    """Dock that scores image layers against a reference layer inside a drawn rectangle.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose image layers are scored.

    Attributes
    ----------
    rows : list of dict
        The last scores (``name``, ``band_error``, ``band_power_ratio``, ``frc_scale_arcsec``,
        ``texture_rms``, ``cw_ssim``, ``ssim``, ``psnr``, ``cw_ssim_change_percent``,
        ``valid_fraction``), as `seeinggan.metrics.score_region` returns them.
    worker : napari worker or None
        The running (or last) scoring worker.
    signals : QObject
        ``started`` and ``finished`` Qt signals (the table and status line are up to date when
        ``finished`` fires).
    """

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(labels=True)
        self._viewer = viewer
        self.rows: list[dict] = []
        self._pending = False  # the rectangle moved while scoring: score again at the end
        self._shapes_layer = None
        self._request: ScoreRequest | None = None
        self.signals = _signals()
        # The shared run lifecycle, without a progress bar (scoring follows the rectangle live)
        # and without a state object (the status line and the table are the dock's views).
        self._run = DockRun(context="Score region", on_returned=self._on_outcome,
                            on_finished=self._on_finished)

        self.reference = ComboBox(label="reference", choices=self._image_choices,
                                  tooltip="The layer the others are scored against (e.g. the space image)")
        self.tests = Select(label="test layers", choices=self._image_choices,
                            tooltip="Layers to score; the first is the baseline of the CW-SSIM change")
        self.score_button = PushButton(text="Score")
        self.export_button = PushButton(text="Export CSV...", enabled=False)
        self.load_region_button = PushButton(text="Load .reg...",
                                             tooltip="A DS9 region file: its first box becomes "
                                                     "the score rectangle")
        self.save_region_button = PushButton(text="Save .reg...",
                                             tooltip="The rectangle as a DS9 region file (sky "
                                                     "coordinates when the reference has a WCS)")
        self.table = Table(value=_empty_table())
        # magicgui's delegate re-formats every number (2.110e-02, 4642.7000): ours shows fixed decimals.
        self._delegate = _fixed_decimals_delegate(self.table.native)
        self.table.native.setItemDelegate(self._delegate)
        self.status = Label(value="Draw a rectangle on the \"score region\" layer.")
        self.extend([self.reference, self.tests])
        # Full width below the form (added natively, after magicgui's own widgets).
        self.controls = Container(labels=False, widgets=[
            Container(widgets=[self.score_button, self.export_button], layout="horizontal", labels=False),
            Container(widgets=[self.load_region_button, self.save_region_button],
                      layout="horizontal", labels=False),
            self.table, self.status])
        self.body.layout().addWidget(self.controls.native)
        # Height the dock has to spare goes below the table, not between the form's rows.
        self.body.layout().addStretch(1)
        self.tests.native.setMaximumHeight(70)
        _fit_table(self.table.native)
        # A narrower or wider dock re-wraps the layer names: the header takes their height.
        self._refit = _refit_when_resized(self.table.native)
        self.fit_width(self.status)

        from qtpy.QtCore import QTimer

        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.score)

        self.score_button.changed.connect(self._on_score_clicked)
        self.export_button.changed.connect(self._on_export)
        self.load_region_button.changed.connect(self._on_load_region)
        self.save_region_button.changed.connect(self._on_save_region)
        self.reference.changed.connect(self._on_reference_picked)
        self.tests.changed.connect(self._schedule)
        for event in ("inserted", "removed", "reordered"):
            getattr(viewer.layers.events, event).connect(self._on_layers_changed)
        self.native.destroyed.connect(self._timer.stop)
        self.native.destroyed.connect(self._run.teardown)

        from magicgui.widgets import FloatSpinBox

        self.seeing = FloatSpinBox(label='seeing (")', value=DEFAULT_SEEING, min=0.05, max=10.0, step=0.05,
                                   tooltip="Seeing FWHM of the test images (arcsec), for the band error and "
                                           "band power ratio, when no test layer's header has SEEING or FWHM")
        self.insert(2, self.seeing)
        self.seeing.changed.connect(self._schedule)

        self._on_layers_changed(initial=True)

    # --- layers ---------------------------------------------------------------------------------

    def _image_choices(self, _widget=None):
        return image_layer_choices(self._viewer)

    def _on_layers_changed(self, _event=None, *, initial: bool = False):
        """Keep the user's choices; the reference is the finest-pixel layer until the user picks one.

        A new deblurred layer joins the tests.
        """
        previous_reference = None if initial else self.reference.value
        previous_tests = [] if initial else list(self.tests.value)
        previous_choices = [] if initial else list(self.tests.choices)
        with self.reference.changed.blocked():
            self.reference.reset_choices()
        self.tests.reset_choices()
        layers = [layer for _name, layer in self._image_choices()]
        chosen = getattr(self, "_reference_chosen", False)
        with self.reference.changed.blocked():
            if chosen and previous_reference in layers:
                self.reference.value = previous_reference
            elif layers:
                self.reference.value = finest_layer(layers)
        reference = self.reference.value
        kept = [layer for layer in previous_tests if layer in layers and layer is not reference]
        added = [layer for layer in layers if layer not in previous_choices
                 and "deblur" in (layer.metadata or {}) and layer not in kept]
        self.tests.value = (kept + added) or [layer for layer in layers if layer is not reference]
        if reference is not None and self._shapes_layer is None and SHAPES_NAME not in self._viewer.layers:
            # Made once there is a reference, with its units: a unit-less shapes layer beside
            # arcsec sky layers makes napari warn ("Inconsistent units") before the user acts.
            # The user's selection is kept: a rectangle-mode shapes layer made active here would
            # turn the first drag on the image into a rectangle instead of a pan, and the layer
            # controls would show the shapes' settings instead of the image's contrast.
            active = self._viewer.layers.selection.active
            self.shapes_layer()
            if active is not None and active in self._viewer.layers:
                self._viewer.layers.selection.active = active
        if reference is not previous_reference:
            self._schedule()

    def _on_reference_picked(self, _value=None):
        self._reference_chosen = True  # the user's choice: kept from now on
        self._schedule()

    def shapes_layer(self):
        """The "score region" shapes layer: the existing one, or a new one in rectangle mode."""
        layer = self._shapes_layer
        if layer is not None and layer in self._viewer.layers:
            return layer
        existing = [lyr for lyr in self._viewer.layers if isinstance(lyr, napari.layers.Shapes)
                    and lyr.name == SHAPES_NAME]
        if existing:
            layer = existing[0]
        else:
            # Edge width in world units (arcsec on the sky plane): thin against the reference.
            reference = self.reference.value
            extent = np.ptp(np.asarray(reference.extent.world)[:, -2:], axis=0).max() if reference else 100.0
            width = float(extent) / 200
            # The reference's units (arcsec on the sky plane): napari draws with units only when
            # every layer has the same ones (the scale bar then reads arcsec).
            units = tuple(reference.units) if reference is not None else None
            layer = self._viewer.add_shapes(name=SHAPES_NAME, edge_color="yellow", face_color="transparent",
                                            edge_width=width, units=units)
            layer.current_face_color = "transparent"
            layer.current_edge_color = "yellow"
            layer.current_edge_width = width
            layer.mode = "add_rectangle"
        layer.events.data.connect(self._schedule)
        self._shapes_layer = layer
        return layer

    def _schedule(self, _event=None):
        """Score again shortly after the rectangle (or a choice) stops changing (debounced)."""
        self._timer.start()

    # --- scoring --------------------------------------------------------------------------------

    def build_request(self) -> ScoreRequest:
        """Capture the reference, the tests and the rectangle as plain data (GUI thread).

        Raises
        ------
        ValueError
            With a message for the user (no rectangle, no layers, rectangle outside the reference).
        """
        from seeinggan.metrics import box_from_pixels

        from napari_seeinggan._layers import layer_geometry

        reference = self.reference.value
        tests = [layer for layer in self.tests.value if layer in self._viewer.layers]
        if reference is None:
            raise InputError("add an image layer to score against")
        if not tests:
            raise InputError("choose at least one test layer")
        shapes = self.shapes_layer()
        if len(shapes.data) == 0:
            raise InputError(f"draw a rectangle on the \"{SHAPES_NAME}\" layer")
        corners = world_to_pixels(reference, chosen_rectangle_world(shapes))
        (r0, c0), (r1, c1) = corners.min(axis=0), corners.max(axis=0)
        ref_data, ref_wcs, ref_scale = layer_geometry(reference)
        box = box_from_pixels(c0, r0, c1, r1, shape=np.shape(ref_data)[-2:])
        seeing, source = _header_seeing(tests)
        if seeing is None:
            seeing, source = float(self.seeing.value), "the seeing field"
        request = ScoreRequest(reference_name=reference.name, reference=np.asarray(ref_data),
                               box=box, reference_wcs=ref_wcs, pixel_scale=ref_scale, seeing_fwhm=seeing,
                               seeing_source=source)
        for layer in tests:
            data, wcs, _ = layer_geometry(layer)
            pixel_map = None if (wcs is not None and ref_wcs is not None) else _pixel_map(reference, layer)
            request.tests.append((layer.name, np.asarray(data), wcs, pixel_map))
            maps = layer.metadata.get("maps") or {}
            if maps.get("uncertainty_layer") in self._viewer.layers:
                spread = np.asarray(self._viewer.layers[maps["uncertainty_layer"]].data)
                if spread.shape == np.shape(data):
                    request.maps[layer.name] = (spread, maps["summary"]["levels"]["pixel_noise"])
        return request

    def _on_score_clicked(self, _value=None):
        self.score(notify=True)

    def score(self, _event=None, *, notify: bool = False):
        """Score the current rectangle in a worker thread; the table updates when it is done.

        A problem (no rectangle yet...) shows on the dock's status line, and also as a napari
        notification with ``notify`` (the Score button): no toasts before the user acts.
        """
        if self.busy:
            self._pending = True  # score again when the running worker finishes
            return None
        try:
            request = self.build_request()
        except ValueError as error:
            self._report(str(error), notify=notify)
            return None
        rows, cols = request.box.shape
        self.status.value = f"Scoring a {cols} x {rows} pixel region of {request.reference_name}..."
        self._request = request
        worker = self._run.start(score_updates, request)
        self.signals.started.emit()
        return worker

    def _on_outcome(self, outcome: Outcome):
        """Show the worker's end: the rows, a problem the user can fix, or a failure.

        A failure is reported once: a notification (with its traceback when it is a bug) and
        the dock's status line.
        """
        if outcome.error is not None:
            self._clear()
            self.status.value = "scoring failed: " + self._run.fail(outcome.error)
        elif not outcome.cancelled:
            self._on_scored(outcome.value)

    def _on_scored(self, rows: list[dict] | ScoreProblem):
        if isinstance(rows, ScoreProblem):
            self._clear()
            self._report(rows.message)
            return
        self.rows = rows
        # One column per layer, one row per measure: the dock's width holds two or three layers
        # (seven measures side by side scrolled sideways at 1366 px).
        labels = list(METRIC_LABELS)
        data = [[row.get(key, math.nan) for row in rows] for key in METRIC_KEYS]
        if any("unstable_flux" in row for row in rows):  # deblurred with maps: the flagged fraction
            labels.append(UNSTABLE_ROW)
            data.append([round(100 * row.get("unstable_flux", math.nan), 1) for row in rows])
        self.table.value = {"data": data, "index": labels, "columns": [row["name"] for row in rows]}
        _fit_table(self.table.native)
        self.export_button.enabled = bool(rows)
        partial = [row["name"] for row in rows if row["valid_fraction"] < 0.999]
        rows_px, cols_px = self._request.box.shape
        text = (f"Scored {len(rows)} layer(s) against {self._request.reference_name} over "
                f"{cols_px} x {rows_px} reference pixels.")
        if self._request.pixel_scale is None:
            text += " No pixel scale for the reference: band error, power and FRC not measured."
        else:
            text += f' Band from seeing {self._request.seeing_fwhm:.3g}" ({self._request.seeing_source}).'
        if partial:
            text += " Partly outside the rectangle: " + ", ".join(partial) + " (NaN pixels left out)."
        self.status.value = text
        # At 1366x768 the dock is shorter than its form: show the table (it was below the fold,
        # and drawing a rectangle seemed to do nothing).
        self.bring_into_view(self.table)

    def displayed_text(self, row: int, column: int) -> str:
        """The text the table shows in a cell (as drawn, through the table's item delegate)."""
        from qtpy.QtWidgets import QStyleOptionViewItem

        view = self.table.native
        option = QStyleOptionViewItem()
        view.itemDelegate().initStyleOption(option, view.model().index(row, column))
        return option.text

    def _clear(self):
        self.rows = []
        self.table.value = _empty_table()
        _fit_table(self.table.native)
        self.export_button.enabled = False

    def _on_finished(self):
        self.signals.finished.emit()
        if self._pending:
            self._pending = False
            self._timer.start()

    def _report(self, message: str, *, notify: bool = True):
        self.status.value = message
        if notify:
            show_warning(f"Score region: {message}")

    # --- export ---------------------------------------------------------------------------------

    def export_csv(self, path: str | Path) -> Path:
        """Write the table (with the valid fraction of each layer) to ``path`` as CSV."""
        from seeinggan.io.atomic import atomic_open

        path = Path(path)
        # The file dialog already asked before replacing: whole file or nothing, under the name.
        with atomic_open(path, "w", newline="", overwrite=True) as handle:
            writer = csv.writer(handle)
            writer.writerow(["layer", "reference", "cw_ssim", "ssim", "psnr_db",
                             "cw_ssim_change_percent", "valid_fraction", "band_error", "band_power_ratio",
                             "frc_scale_arcsec", "texture_rms", "seeing_fwhm_arcsec"])
            seeing = self._request.seeing_fwhm if self._request is not None else None
            for row in self.rows:
                writer.writerow([row["name"], self.reference.value.name if self.reference.value else "",
                                 row["cw_ssim"], row["ssim"], row["psnr"], row["cw_ssim_change_percent"],
                                 row["valid_fraction"], row.get("band_error"), row.get("band_power_ratio"),
                                 row.get("frc_scale_arcsec"), row.get("texture_rms"), seeing])
        show_info(f"Score region: table saved to {path}")
        return path

    def load_region(self, path: str | Path) -> list[str]:
        """Make the first shape of a DS9 ``.reg`` file the score rectangle (placed on the reference layer).

        Returns the file's notes. Scores at once.
        """
        from napari_seeinggan._layers import world_rectangles_from_file

        reference = self.reference.value
        if reference is None:
            raise ValueError("open an image to place the region on")
        rectangles, notes = world_rectangles_from_file(path, reference)
        shapes = self.shapes_layer()
        shapes.data = []
        shapes.add_rectangles([world_to_pixels(shapes, rectangles[0])])
        if len(rectangles) > 1:
            notes = [*notes, f"{len(rectangles) - 1} more shape(s) in the file not used"]
        self.status.value = f"Region from {Path(path).name}." + (
            " " + "; ".join(notes) if notes else "")
        self._schedule()
        return notes

    def save_region(self, path: str | Path) -> Path:
        """Write the score rectangle as a DS9 ``.reg`` file.

        Sky coordinates of the reference's WCS, else its pixels.
        """
        from napari_seeinggan._layers import write_world_rectangles

        shapes = self.shapes_layer()
        if len(shapes.data) == 0 or self.reference.value is None:
            raise ValueError(f"draw a rectangle on the \"{SHAPES_NAME}\" layer first")
        return write_world_rectangles(path, [chosen_rectangle_world(shapes)], self.reference.value)

    def _on_load_region(self, _event=None):
        from qtpy.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self.native, "Load a DS9 region", "",
                                              "DS9 regions (*.reg)")
        if path:
            try:
                self.load_region(path)
            except (OSError, ValueError) as error:
                self._report(str(error))

    def _on_save_region(self, _event=None):
        from qtpy.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(self.native, "Save the region", "region.reg",
                                              "DS9 regions (*.reg)")
        if path:
            try:
                show_info(f"Score region: rectangle saved to {self.save_region(path)}")
            except (OSError, ValueError) as error:
                self._report(str(error))

    def _on_export(self, _event=None):
        from qtpy.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(self.native, "Export scores", "scores.csv", "CSV (*.csv)")
        if path:
            self.export_csv(path)


def _header_seeing(layers) -> tuple[float | None, str]:
    """The seeing FWHM (arcsec) in the first of ``layers`` whose header has SEEING or FWHM, and its source.

    The header is ``metadata["header"]``.
    """
    from seeinggan.metrics import seeing_from_header

    for layer in layers:
        seeing = seeing_from_header((layer.metadata or {}).get("header"))
        if seeing is not None:
            return seeing, f"header of {layer.name}"
    return None, ""


def _empty_table() -> dict:
    """The table before any score: the measures' names, no layer columns."""
    return {"data": [[] for _ in METRIC_LABELS], "index": list(METRIC_LABELS), "columns": []}


def _fit_table(table) -> None:
    """Tooltips, and a table that fits the dock's width and shows every row.

    The measures' short names label the rows (their explanations in the row tooltips); each
    layer's column shares the width left (a layer name wraps at its spaces, else elides in the
    middle; the full name in the column's tooltip). The table is as tall as its rows, so the dock
    scrolls, not the table.
    """
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QAbstractItemView, QHeaderView

    tips = {label: tip for label, tip in zip(METRIC_LABELS, METRIC_TIPS, strict=True)}
    tips[UNSTABLE_ROW] = UNSTABLE_TIP
    for row in range(table.rowCount()):
        item = table.verticalHeaderItem(row)
        if item is not None:
            item.setToolTip(tips.get(item.text(), ""))
    for column in range(table.columnCount()):
        item = table.horizontalHeaderItem(column)
        if item is not None:
            item.setToolTip(item.text())
    columns = table.horizontalHeader()
    columns.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    columns.setDefaultAlignment(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap)
    columns.setTextElideMode(Qt.TextElideMode.ElideNone)  # Qt elides to one line, before wrapping
    metrics = table.fontMetrics()
    # Room for the widest figure ("+1234.5%"); past that many layers the table scrolls sideways.
    columns.setMinimumSectionSize(metrics.horizontalAdvance("+1234.5%") + 12)
    rows = table.verticalHeader()
    rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    rows.setDefaultSectionSize(metrics.height() + 8)
    table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    _fit_table_height(table)


def _refit_when_resized(table):
    """Fit the table's height again whenever its header changes width (the columns stretch with it).

    Returns the event filter (parented to ``table``).
    """
    from qtpy.QtCore import QEvent, QObject, QTimer

    def refit_if_alive() -> None:
        try:
            _fit_table_height(table)
        except RuntimeError:  # the table went (napari closed) before the timer fired
            pass

    class Refit(QObject):
        def eventFilter(self, watched, event):  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.Resize:
                # After the header has stretched its sections to the new width.
                QTimer.singleShot(0, refit_if_alive)
            return False

    refit = Refit(table)
    table.horizontalHeader().installEventFilter(refit)
    table.horizontalHeader().sectionResized.connect(lambda *_: _fit_table_height(table))
    return refit


HEADER_LINES = 4
"""Most lines a layer's name takes in the table's header (past them it is cut; the tooltip has it)."""


def _fit_table_height(table) -> None:
    """The header as tall as the layer names wrapped to their columns' widths; the table as tall as its rows."""
    from qtpy.QtCore import QRect, Qt

    columns = table.horizontalHeader()
    metrics = columns.fontMetrics()
    lines = 1
    for column in range(table.columnCount()):
        item = table.horizontalHeaderItem(column)
        width = max(columns.sectionSize(column) - 8, 1)
        if item is not None:
            wrapped = metrics.boundingRect(QRect(0, 0, width, 10_000), int(Qt.TextFlag.TextWordWrap), item.text())
            lines = max(lines, min(HEADER_LINES, round(wrapped.height() / metrics.lineSpacing())))
    header_height = lines * metrics.lineSpacing() + 10 if table.columnCount() else 0
    columns.setFixedHeight(header_height)
    rows = table.verticalHeader()
    table.setFixedHeight(header_height + rows.defaultSectionSize() * table.rowCount() + 2 * table.frameWidth())


def _pixel_map(reference, layer) -> np.ndarray:
    """Affine (3 x 3) from reference data (row, col) to ``layer`` data (row, col), for layers without a WCS.

    It goes through world coordinates (the layers' transforms): three pixel corners are mapped by
    napari, and `seeinggan.geometry.affine_from_points` fits the affine.
    """
    from seeinggan.geometry import affine_from_points

    points = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    mapped = np.array([np.asarray(layer.world_to_data(reference.data_to_world(p)))[-2:] for p in points])
    return affine_from_points(points, mapped)


def cell_text(row: int, value) -> str:
    """How the table shows ``value`` in measure row ``row`` (`METRIC_FORMATS`).

    Band error, FRC scale, CW-SSIM and SSIM with 3 decimals, band power and PSNR with 2, the change
    with 1 and a % sign (the unstable flux: 1 decimal); inf and NaN as words (identical images:
    PSNR inf).
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "" if value is None else str(value)
    if not math.isfinite(number):
        return str(number)
    return METRIC_FORMATS[row].format(number) if row < len(METRIC_FORMATS) else f"{number:g}"


def _fixed_decimals_delegate(parent):
    from qtpy.QtWidgets import QStyledItemDelegate

    class FixedDecimals(QStyledItemDelegate):
        """Draws each cell's number (magicgui keeps it in role 255) with its row's format."""

        def initStyleOption(self, option, index):
            super().initStyleOption(option, index)
            value = index.data(255)
            option.text = cell_text(index.row(), index.data() if value is None else value)

    return FixedDecimals(parent)
