"""The Deblur dock: pick an image layer and a model, click Deblur, get "<name> deblurred".

The dock gathers plain data from the layer (`napari_seeinggan._layers.layer_geometry`), hands it
to a worker (`napari_seeinggan.workers.deblur_updates`) that runs `seeinggan.infer.Deblurrer` off
the GUI thread, writes the worker's updates into a `DeblurState`, and adds the result as a layer
laid over the input in world coordinates. Failures become napari notifications.
"""

import datetime as _dt
from pathlib import Path

import napari
import numpy as np
from magicgui.widgets import (
    ComboBox,
    Container,
    Label,
    ProgressBar,
    PushButton,
    SpinBox,
)
from napari.utils.notifications import show_error, show_info
from seeinggan.errors import InputError

from napari_seeinggan._errors import install_log_forwarding, report_error
from napari_seeinggan.state import (
    CANCELLED,
    DONE,
    FAILED,
    RUNNING,
    DeblurState,
    ModelEntry,
    model_registry,
)
from napari_seeinggan.widgets._common import (
    assign,
    finish_run,
    image_layer_choices,
    on_destroyed,
    shapes_layer_choices,
)
from napari_seeinggan.workers import (
    DeblurRequest,
    Outcome,
    Status,
    StopFlag,
    TileProgress,
    deblur_updates,
    make_worker,
)

WHOLE_LAYER = "whole layer"
CURRENT_VIEW = "current view"
DRAWN_RECTANGLE = "drawn rectangle"
LOAD_FROM_FILE = "load from file..."


def available_devices() -> list[str]:
    """"auto" and the torch devices this machine has ("cpu", and "cuda"/"mps" when present)."""
    import torch

    devices = ["auto", "cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def collapsible(title: str, content: Container):
    """A Qt collapsible section (closed) holding a magicgui container's widget."""
    from superqt import QCollapsible

    section = QCollapsible(title)
    section.addWidget(content.native)
    section.collapse(animate=False)
    return section


class DeblurWidget(Container):
    """Dock that deblurs an image layer with a SeeingGAN model.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose image layers are offered and where the result is added.

    Attributes
    ----------
    state : DeblurState
        Evented status of the dock (what the progress bar and the message line show).
    worker : napari worker or None
        The running (or last) deblur worker.
    """

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(labels=True)
        install_log_forwarding()  # the core's warnings (long run, no signal) as notifications
        self._viewer = viewer
        self.state = DeblurState()
        self.registry = model_registry()
        self.worker = None
        self.last_result = None
        self._stop: StopFlag | None = None
        self._pbar = None
        self._previous_model: ModelEntry | None = None

        self.image = ComboBox(label="image", choices=self._image_layer_choices,
                              tooltip="Image layer to deblur (the selected one by default)")
        self.model = ComboBox(label="model", choices=self._model_choices,
                              tooltip="The shipped model, your saved models, or a model file")
        self.device = ComboBox(label="device", choices=available_devices(), value="auto",
                               tooltip="auto picks cuda, then mps, then cpu")
        self.region = ComboBox(label="region", choices=[WHOLE_LAYER, CURRENT_VIEW,
                                                        DRAWN_RECTANGLE], value=WHOLE_LAYER)
        self.shapes = ComboBox(label="rectangle on", choices=self._shapes_layer_choices,
                               tooltip="Shapes layer whose selected (or last) rectangle is used")
        self.tile = SpinBox(label="tile (px)", min=32, max=4096, step=16, value=256,
                            tooltip="Side of the square tiles the model sees, in output pixels")
        self.overlap = SpinBox(label="overlap (px)", min=0, max=1024, step=8, value=32,
                               tooltip="Overlap between neighbouring tiles, blended smoothly")
        self.advanced = Container(widgets=[self.tile, self.overlap], labels=True)
        self.deblur_button = PushButton(text="Deblur")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(label="tiles", min=0, max=1, value=0)
        self.message = Label(label="", value="")
        self.extend([self.image, self.model, self.device, self.region, self.shapes])
        # magicgui inserts its own widgets before any native one: the sections below are added
        # natively, in order, after the magicgui form.
        self.controls = Container(labels=True, widgets=[
            Container(widgets=[self.deblur_button, self.cancel_button], layout="horizontal",
                      labels=False),
            self.progress, self.message])
        self.native.layout().addWidget(collapsible("advanced", self.advanced))
        self.native.layout().addWidget(self.controls.native)
        self.native.layout().addStretch(1)
        self.shapes.visible = False

        self.deblur_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.region.changed.connect(self._on_region_changed)
        self.model.changed.connect(self._on_model_changed)
        self.registry.changed.connect(self._on_models_changed)
        self.state.events.connect(self._on_state_changed)
        for event in ("inserted", "removed", "reordered"):
            getattr(viewer.layers.events, event).connect(self._on_layers_changed)
        viewer.layers.selection.events.active.connect(self._on_active_layer)
        # Closing napari (or this dock) must stop a running deblur.
        self.native.destroyed.connect(on_destroyed(self))

        self._on_active_layer()
        self._previous_model = self.model.value

    # --- choices ------------------------------------------------------------------------------

    def _image_layer_choices(self, _widget=None):
        return image_layer_choices(self._viewer)

    def _shapes_layer_choices(self, _widget=None):
        return shapes_layer_choices(self._viewer)

    def _model_choices(self, _widget=None):
        choices = [(entry.label, entry) for entry in self.registry.entries()]
        return [*choices, (LOAD_FROM_FILE, LOAD_FROM_FILE)]

    def _on_layers_changed(self, _event=None):
        self.reset_choices()

    def _on_active_layer(self, _event=None):
        self.reset_choices()
        active = self._viewer.layers.selection.active
        if isinstance(active, napari.layers.Image) and active in self.image.choices:
            self.image.value = active

    def _on_models_changed(self):
        current = self.model.value
        self.model.reset_choices()
        if current in self.model.choices and current != LOAD_FROM_FILE:
            self.model.value = current

    def _on_model_changed(self, value):
        if value != LOAD_FROM_FILE:
            self._previous_model = value
            return
        from qtpy.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(
            self.native, "Load a SeeingGAN model", "", "SeeingGAN model (*.safetensors *.json)")
        with self.model.changed.blocked():
            if path:
                self.select_model_file(path)
            elif self._previous_model in self.model.choices:
                self.model.value = self._previous_model

    def select_model_file(self, path: str | Path) -> ModelEntry | None:
        """Offer the model file at ``path`` in the list and select it (what "load from file..." does)."""
        try:
            entry = self.registry.add_file(path)
        except (OSError, ValueError) as error:
            show_error(f"Deblur: cannot use {path} as a model: {error}")
            return None
        self.model.value = entry
        self._previous_model = entry
        return entry

    def _on_region_changed(self, value):
        self.shapes.visible = value == DRAWN_RECTANGLE

    # --- running ------------------------------------------------------------------------------

    def request(self) -> tuple[DeblurRequest, dict]:
        """The `DeblurRequest` for the dock's current settings, and the provenance to record.

        Raises
        ------
        ValueError
            With a message for the user (no layer, no model, an empty region...).
        """
        from napari_seeinggan._layers import layer_geometry

        layer = self.image.value
        if layer is None:
            raise InputError("open or select an image layer to deblur")
        entry = self.model.value
        if not isinstance(entry, ModelEntry):
            raise InputError("choose a model (none is installed yet: load one from a file, or "
                             "train one in the Fine-tune dock)")
        data, wcs, pixel_scale = layer_geometry(layer)
        data = np.asarray(data)
        if data.ndim != 2:
            raise InputError(f"layer {layer.name!r} is {data.ndim}-D; the model deblurs 2-D images")
        rows, cols = self._region_slices(layer, data.shape)
        if rows.stop - rows.start < 2 or cols.stop - cols.start < 2:
            raise InputError(f"the {self.region.value} does not overlap layer {layer.name!r}")
        full = (rows.start, rows.stop, cols.start, cols.stop) == (0, data.shape[0], 0,
                                                                   data.shape[1])
        if not full:
            data = data[rows, cols]
            if wcs is not None:
                wcs = wcs[rows, cols]  # astropy shifts CRPIX: the cut-out keeps its sky position
        request = DeblurRequest(
            data=np.array(data, dtype=np.float32), wcs=wcs, pixel_scale=pixel_scale,
            model=entry.path, device=self.device.value, tile=int(self.tile.value),
            overlap=int(self.overlap.value))
        provenance = {
            "input_layer": layer.name,
            "model": str(entry.path),
            "model_name": entry.label,
            "device": self.device.value,
            "tile": int(self.tile.value),
            "overlap": int(self.overlap.value),
            "region": self.region.value,
            "region_pixels": [int(rows.start), int(rows.stop), int(cols.start), int(cols.stop)],
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        return request, provenance

    def _region_slices(self, layer, shape) -> tuple[slice, slice]:
        """Rows and columns of ``layer`` to deblur, from the region choice."""
        if self.region.value == WHOLE_LAYER:
            return slice(0, shape[0]), slice(0, shape[1])
        if self.region.value == CURRENT_VIEW:
            height, width = self._viewer.canvas.size
            center = np.asarray(self._viewer.scene.camera.center[-2:], dtype=float)
            half = np.array([height, width], dtype=float) / (2 * self._viewer.scene.camera.zoom)
            corners_world = [center + half * np.array(sign) for sign in
                             ((-1, -1), (-1, 1), (1, -1), (1, 1))]
        else:
            shapes = self.shapes.value
            if shapes is None or len(shapes.data) == 0:
                raise InputError("draw a rectangle on a shapes layer first (region: drawn "
                                 "rectangle)")
            chosen = sorted(shapes.selected_data) or [len(shapes.data) - 1]
            vertices = np.asarray(shapes.data[chosen[-1]])[:, -2:]
            corners_world = [np.asarray(shapes.data_to_world(v))[-2:] for v in vertices]
        corners = np.array([np.asarray(layer.world_to_data(c))[-2:] for c in corners_world])
        low = np.clip(np.floor(corners.min(axis=0) + 0.5), 0, shape).astype(int)
        high = np.clip(np.ceil(corners.max(axis=0) + 0.5), 0, shape).astype(int)
        return slice(low[0], high[0]), slice(low[1], high[1])

    def run(self, _=None):
        """Start deblurring with the dock's settings; returns the worker (or None on a problem)."""
        if self.state.status == RUNNING:
            return self.worker
        try:
            request, provenance = self.request()
        except Exception as error:  # noqa: BLE001 - anything wrong with the input is shown
            self._fail(error)
            return None
        self._provenance = provenance
        self._input_layer = self.image.value
        self._input_pixel_scale = request.pixel_scale
        self._stop = StopFlag()
        assign(self.state, {"status": RUNNING, "tiles_done": 0, "tiles_total": 0,
                          "message": f"deblurring {provenance['input_layer']}"})
        from napari.utils import cancelable_progress

        self._pbar = cancelable_progress(total=0, desc=f"Deblurring {provenance['input_layer']}",
                                         cancel_callback=self._stop.set)
        worker = make_worker(deblur_updates, request, stop=self._stop)
        worker.yielded.connect(self._on_update)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)  # napari itself shows it, with the traceback
        worker.finished.connect(self._on_finished)
        self.worker = worker
        worker.start()
        return worker

    def _on_errored(self, error):
        self._fail(error, notify=False)

    def cancel(self, _=None):
        """Ask the running deblur to stop (it stops within one tile)."""
        if self._stop is not None:
            self._stop.set()
            if self.state.status == RUNNING:
                self.state.message = "cancelling..."

    def _on_update(self, update):
        if isinstance(update, TileProgress):
            assign(self.state, {"tiles_done": update.done, "tiles_total": update.total})
            pbar = self._pbar  # (updating a napari progress bar may run the event loop)
            if pbar is not None:
                if pbar.total != update.total:
                    pbar.total = update.total
                pbar.update(update.done - pbar.n)
                if pbar.is_canceled:
                    self.cancel()
        elif isinstance(update, Status):
            self.state.message = update.message

    def _on_returned(self, outcome: Outcome):
        if outcome.cancelled:
            assign(self.state, {"status": CANCELLED, "message": "cancelled"})
            show_info("Deblur cancelled")
        elif outcome.error is not None:
            self._fail(outcome.error)
        else:
            try:
                self._add_result(outcome.value)
            except Exception as error:  # noqa: BLE001
                self._fail(error)

    def _on_finished(self):
        finish_run(self)

    def _fail(self, error, *, notify: bool = True):
        if isinstance(error, BaseException):  # one line if the user can fix it, else a traceback
            text = report_error(error, context="Deblur failed", notify=notify)
        else:
            text = str(error)
            show_error(f"Deblur failed: {text}")
        assign(self.state, {"status": FAILED, "message": text})

    def _add_result(self, result):
        from napari_seeinggan._layers import layer_data_from_array

        name = f"{self._provenance['input_layer']} deblurred"
        metadata = {"deblur": dict(getattr(result, "metadata", {}) or {}),
                    "provenance": dict(self._provenance),
                    "header": provenance_header(self._provenance)}
        data, kwargs, layer_type = layer_data_from_array(result.data, wcs=result.wcs, name=name,
                                                         metadata=metadata)
        kwargs["metadata"]["pixel_scale"] = float(result.pixel_scale)
        if result.wcs is None:
            kwargs.update(_place_without_wcs(self._input_layer, self._provenance,
                                             input_scale=self._input_pixel_scale,
                                             output_scale=float(result.pixel_scale)))
        layer = self._viewer.add_layer(napari.layers.Layer.create(data, kwargs, layer_type))
        if self._input_layer in self.image.choices:
            # napari selects the new layer; the dock stays on the input (the next deblur of
            # the same image should not take the result as its input).
            self.image.value = self._input_layer
        self.last_result = result
        assign(self.state, {"status": DONE, "result_layer": layer.name,
                            "message": f"added {layer.name!r} ({result.data.shape[1]} x "
                                       f"{result.data.shape[0]} px at "
                                       f"{result.pixel_scale:.3g}\"/px)"})

    # --- views --------------------------------------------------------------------------------

    def _on_state_changed(self, _info=None):
        state = self.state
        running = state.status == RUNNING
        self.deblur_button.enabled = not running
        self.cancel_button.enabled = running
        self.progress.max = max(state.tiles_total, 1)
        self.progress.value = min(state.tiles_done, self.progress.max)
        self.message.value = state.message


def provenance_header(provenance: dict):
    """A FITS header whose HISTORY says how the layer was made (kept by the plugin's writer)."""
    import seeinggan
    from astropy.io import fits

    header = fits.Header()
    header["HISTORY"] = (f"Deblurred with SeeingGAN {seeinggan.__version__} on "
                         f"{provenance['date']}")
    header["HISTORY"] = f"model: {Path(provenance['model']).name} ({provenance['model_name']})"
    header["HISTORY"] = f"model path: {provenance['model']}"  # long paths wrap over cards
    header["HISTORY"] = f"input layer: {provenance['input_layer']}"
    rows0, rows1, cols0, cols1 = provenance["region_pixels"]
    header["HISTORY"] = (f"region: {provenance['region']} rows {rows0}:{rows1} "
                         f"cols {cols0}:{cols1} of the input")
    header["HISTORY"] = (f"tile {provenance['tile']} px, overlap {provenance['overlap']} px, "
                         f"device {provenance['device']}")
    return header


def _place_without_wcs(layer, provenance: dict, *, input_scale: float | None,
                       output_scale: float) -> dict:
    """scale/translate that lay a result without WCS over its input layer (no sky placement).

    Input pixel ``i`` covers ``[i - 0.5, i + 0.5]`` in data coordinates; output pixel ``j`` of a
    grid ``factor`` times finer starting at input row/col ``offset`` has its centre at
    ``offset - 0.5 + (j + 0.5) / factor``.
    """
    if not input_scale:
        return {}
    factor = input_scale / output_scale
    offset = np.array(provenance["region_pixels"][::2], dtype=float)
    in_scale = np.asarray(layer.scale[-2:], dtype=float)
    in_translate = np.asarray(layer.translate[-2:], dtype=float)
    return {"scale": in_scale / factor,
            "translate": in_translate + in_scale * (offset - 0.5 + 0.5 / factor),
            "rotate": layer.rotate, "affine": layer.affine}
