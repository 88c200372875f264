"""The Deblur dock: pick an image layer and a model, click Deblur, get "<name> deblurred".

The dock gathers plain data from the layer (`napari_seeinggan._layers.layer_geometry`), hands it
to a worker (`napari_seeinggan.workers.deblur_updates`) that runs `seeinggan.infer.Deblurrer` off
the GUI thread, writes the worker's updates into a `DeblurState`, and adds the result as a layer
laid over the input in world coordinates. Failures become napari notifications.
"""

import datetime as _dt
from enum import Enum
from pathlib import Path

import napari
import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSpinBox,
    Label,
    ProgressBar,
    PushButton,
    SpinBox,
)
from napari.utils.notifications import show_error, show_info
from seeinggan.devices import available_devices
from seeinggan.errors import InputError

from napari_seeinggan._errors import install_log_forwarding
from napari_seeinggan._layers import chosen_rectangle_world, world_to_pixels
from napari_seeinggan._model_purpose import show_model_purpose
from napari_seeinggan.state import (
    CANCELLED,
    DONE,
    MODEL_LIST_EXTRA_LABELS,
    RUNNING,
    DeblurState,
    ModelChoice,
    ModelListExtra,
    model_registry,
)
from napari_seeinggan.widgets._common import (
    ScrollableDock,
    coarsest_layer,
    image_layer_choices,
    on_destroyed,
    shapes_layer_choices,
)
from napari_seeinggan.widgets._lifecycle import DockRun, RunsInWorker
from napari_seeinggan.workers import (
    DeblurRequest,
    Outcome,
    TileProgress,
    deblur_updates,
    warm_up_training_imports,
)


class DeblurRegion(Enum):
    """What part of the layer to deblur (keys; `REGION_LABELS` holds what the dock shows)."""

    WHOLE_LAYER = "whole_layer"
    CURRENT_VIEW = "current_view"
    DRAWN_RECTANGLE = "drawn_rectangle"


REGION_LABELS = {
    DeblurRegion.WHOLE_LAYER: "whole layer",
    DeblurRegion.CURRENT_VIEW: "current view",
    DeblurRegion.DRAWN_RECTANGLE: "drawn rectangle",
}
LOAD_FROM_FILE = ModelListExtra.LOAD_FROM_FILE
"""The model-list choice that opens a file dialog."""
AUTO_OVERLAP = -8
"""The overlap box's "auto", one step below 0 (`seeinggan.infer.Deblurrer`'s ``overlap="auto"``)."""


def collapsible(title: str, content: Container):
    """A Qt collapsible section (closed) holding a magicgui container's widget."""
    from superqt import QCollapsible

    section = QCollapsible(title)
    section.addWidget(content.native)
    section.collapse(animate=False)
    return section


class DeblurWidget(RunsInWorker, ScrollableDock):
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
        self.warm_up = warm_up_training_imports()  # seeinggan.infer's imports off the GUI thread, before Deblur
        self._viewer = viewer
        self.state = DeblurState()
        self.registry = model_registry()
        self.last_result = None
        self._run = DockRun(state=self.state, context="Deblur failed", on_update=self._on_update,
                            on_returned=self._on_returned)
        self._previous_model: ModelChoice | None = None

        self.image = ComboBox(label="image", choices=self._image_layer_choices,
                              tooltip="Image layer to deblur (the selected one by default)")
        self.model = ComboBox(label="model", choices=self._model_choices,
                              tooltip="The shipped model, your saved models, or a model file")
        self.device = ComboBox(label="device", choices=available_devices(), value="auto",
                               tooltip="auto picks cuda, then mps, then cpu")
        self.region = ComboBox(label="region", choices=[(label, key) for key, label in REGION_LABELS.items()],
                               value=DeblurRegion.WHOLE_LAYER)
        self.shapes = ComboBox(label="rectangle on", choices=self._shapes_layer_choices,
                               tooltip="Shapes layer whose selected (or last) rectangle is used")
        self.pixel_scale = FloatSpinBox(
            label='pixel scale ("/px)', min=0.0, max=10.0, step=0.001, value=0.0,
            tooltip="The image's pixel scale in arcsec per pixel; needed when the layer has no "
                    "celestial WCS (prefilled from PIXSCALE, SECPIX or CDELT when the header has "
                    "them). 0: not set")
        self.pixel_scale.native.setDecimals(4)
        self.seeing = FloatSpinBox(
            label='seeing FWHM (")', min=0.0, max=10.0, step=0.05, value=0.0,
            tooltip="Seeing of the image, arcsec (prefilled from SEEING or FWHM in the header); "
                    "models conditioned on seeing use it. 0: unknown")
        self.seeing.native.setDecimals(2)
        self.tile = SpinBox(label="tile (px)", min=32, max=4096, step=16, value=256,
                            tooltip="Side of the square tiles the model sees, in output pixels")
        self.overlap = SpinBox(label="overlap (px)", min=AUTO_OVERLAP, max=1024, step=8,
                               value=AUTO_OVERLAP,
                               tooltip="Overlap between neighbouring tiles, blended smoothly. "
                                       "auto: from the network's receptive field (no seams)")
        self.overlap.native.setSpecialValueText("auto")
        self.advanced = Container(widgets=[self.tile, self.overlap], labels=True)
        self.deblur_button = PushButton(text="Deblur")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(label="tiles", min=0, max=1, value=0)
        self.message = Label(label="", value="")
        self.extend([self.image, self.pixel_scale, self.seeing, self.model, self.device,
                     self.region, self.shapes])
        # Trust maps (issue 10): uncertainty over the 8 flips/rotations, chi against the input.
        # (The consistency map uses the seeing box above, prefilled from SEEING or FWHM.)
        self.maps = CheckBox(text="maps: uncertainty and consistency", value=False,
                             tooltip="Also make '<name> uncertainty' (spread over 8 flips/rotations; "
                                     "8x slower) and '<name> consistency' (chi against the input) layers")
        self.clean_cosmic_rays = CheckBox(
            text="clean cosmic rays (single exposure)", value=False,
            tooltip="Clean cosmic rays and hot pixels first (L.A.Cosmic), which the model would restore "
                    "as compact sources; needs GAIN in the layer's header. Leave off for stacks.")
        self.support_guard = CheckBox(
            text="restore detail only where the data show it", value=True,
            tooltip="Support guard: keep the model's fine detail only where the input has significant "
                    "(5 sigma) structure near the seeing scale; elsewhere spread it over the seeing "
                    "(flux kept). Off: the network's raw output, which can paint texture on smooth, "
                    "faint galaxies.")
        self.extend([self.maps, self.clean_cosmic_rays, self.support_guard])
        self.maps_summary = Label(value="")
        # magicgui inserts its own widgets before any native one: the sections below are added
        # natively, in order, after the magicgui form.
        self.controls = Container(labels=True, widgets=[
            Container(widgets=[self.deblur_button, self.cancel_button], layout="horizontal",
                      labels=False),
            self.progress, self.message])
        self.controls.append(self.maps_summary)
        self.body.layout().addWidget(collapsible("advanced", self.advanced))
        self.body.layout().addWidget(self.controls.native)
        # DS9 habits: stretch presets with limits, and a blink with the deblurred output.
        from napari_seeinggan.widgets.display import DisplayControls

        self.display = DisplayControls(viewer)
        self.display.stop_blink_when_removed(self.native)
        self.display_section = collapsible("display: stretch, blink", self.display)
        self.body.layout().addWidget(self.display_section)
        self.body.layout().addStretch(1)
        self.fit_width(self.message, self.maps_summary)
        self.shapes.visible = False

        self.deblur_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.region.changed.connect(self._on_region_changed)
        self.image.changed.connect(self._on_image_changed)
        self._user_picked_image = False  # set when the user picks in the image box
        self._setting_image = False
        self.image.changed.connect(self._on_image_picked)
        self.model.changed.connect(self._on_model_changed)
        self.registry.changed.connect(self._on_models_changed)
        self.state.changed.connect(self._on_state_changed)
        for event in ("inserted", "removed", "reordered"):
            getattr(viewer.layers.events, event).connect(self._on_layers_changed)
        viewer.layers.events.inserted.connect(self._on_layer_inserted)
        viewer.layers.selection.events.active.connect(self._on_active_layer)
        # Closing napari (or this dock) must stop a running deblur.
        self.native.destroyed.connect(on_destroyed(self))

        self._on_active_layer()
        self._on_image_changed(self.image.value)
        self._previous_model = self.model.value
        show_model_purpose(self.model)

    # --- choices ------------------------------------------------------------------------------

    def _image_layer_choices(self, _widget=None):
        return image_layer_choices(self._viewer)

    def _shapes_layer_choices(self, _widget=None):
        return shapes_layer_choices(self._viewer)

    def _model_choices(self, _widget=None):
        choices = [(entry.label, entry) for entry in self.registry.entries()]
        return [*choices, (MODEL_LIST_EXTRA_LABELS[LOAD_FROM_FILE], LOAD_FROM_FILE)]

    def _on_layers_changed(self, _event=None):
        self.reset_choices()

    def _on_active_layer(self, _event=None):
        """The image box keeps its choice when the selection changes (looking at a layer is not choosing it).

        Without a valid choice it takes the coarsest-pixel image that is not a deblurred result (the
        seeing-limited one), else the selected image.
        """
        self.reset_choices()
        current = self.image.value
        if getattr(self, "_image_chosen", False) and current in self.image.choices:
            return
        candidates = [layer for layer in self.image.choices
                      if "deblur" not in (layer.metadata or {})]
        active = self._viewer.layers.selection.active
        choice = coarsest_layer(candidates) if candidates else None
        if choice is None and isinstance(active, napari.layers.Image) \
                and active in self.image.choices:
            choice = active
        if choice is not None:
            self._set_image(choice)
            self._image_chosen = True

    def _set_image(self, layer) -> None:
        """Choose ``layer`` in the image box for the user (not a pick of theirs)."""
        self._setting_image = True
        try:
            self.image.value = layer
        finally:
            self._setting_image = False

    def reset_choices(self, *args):
        """Refresh every box's choices; the image box keeps its layer, even renamed.

        (A layer renamed ``folder/name`` when a file of the same name is opened made the box
        fall back to its first choice, the sample.) Changes made here are not the user's pick.
        """
        setting, self._setting_image = getattr(self, "_setting_image", False), True
        try:
            previous = self.image.value if hasattr(self, "image") else None
            super().reset_choices(*args)
            self._rebuild_model_list()
            if previous is not None and self.image.value is not previous \
                    and any(choice is previous for choice in self.image.choices):
                self.image.value = previous
        finally:
            self._setting_image = setting

    def _rebuild_model_list(self) -> None:
        """The model list in `_model_choices`' order, "load from file..." last, choice kept.

        magicgui keeps the items a combo box already has and appends new ones, so a model
        saved in the Fine-tune dock (or a file loaded) came after "load from file...".
        """
        if not hasattr(self, "model"):
            return
        wanted = [label for label, _entry in self._model_choices()]
        shown = [self.model.native.itemText(i) for i in range(self.model.native.count())]
        if shown == wanted:
            return
        current = self.model.value
        with self.model.changed.blocked():
            self.model.native.clear()
            self.model.reset_choices()
            if current is not None and current in self.model.choices:
                self.model.value = current

    def _on_image_picked(self, _value=None):
        if not self._setting_image:
            self._user_picked_image = True

    def _on_layer_inserted(self, event) -> None:
        """An image just opened becomes the one to deblur, unless the user picked one in the box.

        Without this the box stayed on the sample after *File > Open*, and *Deblur* ran on the
        sample instead of the user's file. A finer image opened after a coarser one (the space
        image of the field just opened) does not take the place of the seeing-limited one.
        """
        layer = getattr(event, "value", None)
        meta = getattr(layer, "metadata", None) or {}
        if self._user_picked_image or not isinstance(layer, napari.layers.Image) \
                or "deblur" in meta or "maps" in meta:
            return
        self.reset_choices()
        if layer not in self.image.choices:
            return
        current = self.image.value
        current_meta = getattr(current, "metadata", None) or {}
        new_scale, current_scale = meta.get("pixel_scale"), current_meta.get("pixel_scale")
        from_sample = current is not None and not current_meta.get("source_path")
        finer = bool(new_scale and current_scale and new_scale < current_scale)
        if current is None or from_sample or not finer:
            self._set_image(layer)
            self._image_chosen = True

    def _on_models_changed(self):
        current = self.model.value
        self._rebuild_model_list()
        if current in self.model.choices and current != LOAD_FROM_FILE:
            self.model.value = current
        show_model_purpose(self.model)

    def _on_model_changed(self, value):
        show_model_purpose(self.model)
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

    def select_model_file(self, path: str | Path) -> ModelChoice | None:
        """Offer the model file at ``path`` in the list and select it (what "load from file..." does)."""
        try:
            entry = self.registry.add_file(path)
        except (OSError, ValueError) as error:
            show_error(f"Deblur: cannot use {path} as a model: {error}")
            return None
        self.model.value = entry
        self._previous_model = entry
        return entry

    def _on_image_changed(self, layer):
        """Show the pixel-scale box when the layer has no celestial WCS.

        Prefill both boxes from what the layer knows (its WCS, header keywords, simulation
        metadata).
        """
        from seeinggan.metrics.region import seeing_from_header

        from napari_seeinggan._layers import layer_geometry

        if layer is None:
            self.pixel_scale.visible = False
            return
        try:
            _data, wcs, scale = layer_geometry(layer)
        except Exception:  # noqa: BLE001 - a layer without geometry: the box asks for it
            wcs, scale = None, None
        self.pixel_scale.visible = wcs is None
        self.pixel_scale.value = float(scale) if (wcs is None and scale) else 0.0
        meta = layer.metadata or {}
        seeing = seeing_from_header(meta.get("header")) or seeing_from_header(
            meta.get("simulation"))
        self.seeing.value = float(seeing) if seeing else 0.0

    def _on_region_changed(self, value):
        self.shapes.visible = value == DeblurRegion.DRAWN_RECTANGLE

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
        if not isinstance(entry, ModelChoice):
            raise InputError("choose a model (none is installed yet: load one from a file, or "
                             "train one in the Fine-tune dock)")
        data, wcs, pixel_scale = layer_geometry(layer)
        if wcs is None:
            pixel_scale = float(self.pixel_scale.value) or None
            if pixel_scale is None:
                raise InputError(f"layer {layer.name!r} has no celestial WCS: type its pixel "
                                 "scale (arcsec per pixel) in the 'pixel scale' box")
        data = np.asarray(data)
        if data.ndim != 2:
            raise InputError(f"layer {layer.name!r} is {data.ndim}-D; the model deblurs 2-D images")
        rows, cols = self._region_slices(layer, data.shape)
        if rows.stop - rows.start < 2 or cols.stop - cols.start < 2:
            raise InputError(f"the {REGION_LABELS[self.region.value]} does not overlap layer {layer.name!r}")
        full = (rows.start, rows.stop, cols.start, cols.stop) == (0, data.shape[0], 0,
                                                                   data.shape[1])
        noise_reference = None
        if not full:
            # A region may be filled by the galaxy: sky and noise come from the whole layer
            # (measured by the worker, off the GUI thread).
            noise_reference = data
            data = data[rows, cols]
            if wcs is not None:
                wcs = wcs[rows, cols]  # astropy shifts CRPIX: the cut-out keeps its sky position
        from seeinggan.models.conditions import seeing_from_header

        found = seeing_from_header((layer.metadata or {}).get("header"))
        request = DeblurRequest(
            data=data, wcs=wcs, pixel_scale=pixel_scale,  # a view: the worker makes the float32 copy
            model=entry.path, device=self.device.value, tile=int(self.tile.value),
            overlap=self.overlap_setting(), noise_reference=noise_reference,
            seeing=float(self.seeing.value) if self.seeing.value > 0 else (found[0] if found else None),
            support_guard=bool(self.support_guard.value))
        if self.maps.value:
            request.maps, request.maps_options = True, self._maps_options(layer)
        if self.clean_cosmic_rays.value:
            request.clean_cosmic_rays, request.gain = True, self._gain(layer)
        provenance = {
            "input_layer": layer.name,
            "model": str(entry.path),
            "model_name": entry.label,
            "device": self.device.value,
            "tile": int(self.tile.value),
            "overlap": self.overlap_setting(),
            "pixel_scale": pixel_scale,
            "seeing": float(self.seeing.value) or None,
            "region": REGION_LABELS[self.region.value],
            "region_pixels": [int(rows.start), int(rows.stop), int(cols.start), int(cols.stop)],
            "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }
        return request, provenance

    def overlap_setting(self) -> int | str:
        """The overlap the dock asks for: pixels, or "auto"."""
        value = int(self.overlap.value)
        return "auto" if value == AUTO_OVERLAP else value

    def _gain(self, layer) -> float:
        """The layer header's GAIN (e-/count), which cosmic-ray cleaning needs."""
        from seeinggan.io.fits import header_gain

        from napari_seeinggan._layers import header_for_layer

        gain = header_gain(header_for_layer(layer.metadata))
        if gain is None:
            raise ValueError(f"cleaning cosmic rays needs the gain of {layer.name!r}: its header has no GAIN "
                             "(e-/count)")
        return gain

    def _maps_options(self, layer) -> dict:
        """Seeing (the dock's, else the layer header's), PSF, gain and noise for the maps."""
        from seeinggan.infer.maps import psf_settings_from_header

        from napari_seeinggan._layers import header_for_layer

        options = psf_settings_from_header(header_for_layer(layer.metadata))
        if self.seeing.value > 0:
            options["seeing"] = float(self.seeing.value)
        if options["seeing"] is None:
            raise ValueError(f"the consistency map needs the seeing of {layer.name!r}: set "
                             "seeing (\") in the dock (its header has no SEEING or FWHM)")
        return options

    def _region_slices(self, layer, shape) -> tuple[slice, slice]:
        """Rows and columns of ``layer`` to deblur, from the region choice."""
        if self.region.value == DeblurRegion.WHOLE_LAYER:
            return slice(0, shape[0]), slice(0, shape[1])
        if self.region.value == DeblurRegion.CURRENT_VIEW:
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
            corners_world = chosen_rectangle_world(shapes)
        corners = world_to_pixels(layer, corners_world)
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
            self._run.fail(error)
            return None
        self._provenance = provenance
        self._input_layer = self.image.value
        self._input_pixel_scale = request.pixel_scale
        self.state.update(status=RUNNING, tiles_done=0, tiles_total=0, maps_summary="",
                          message=f"deblurring {provenance['input_layer']}")
        worker = self._run.start(deblur_updates, request,
                                 description=f"Deblurring {provenance['input_layer']}")
        # The dock is taller than its share of a laptop screen: show the bar and message line.
        self.bring_into_view(self.controls)
        return worker

    def cancel(self, _=None):
        """Ask the running deblur to stop (it stops within one tile)."""
        if self._run.cancel() and self.state.status == RUNNING:
            self.state.message = "cancelling..."

    def _on_update(self, update):
        self.state.apply(update)
        if isinstance(update, TileProgress):
            self._run.advance(update.done, update.total)

    def _on_returned(self, outcome: Outcome):
        if outcome.cancelled:
            self.state.update(status=CANCELLED, message="cancelled")
            show_info("Deblur cancelled")
        elif outcome.error is not None:
            self._run.fail(outcome.error)
        else:
            self._add_result(outcome.value)  # a failure here is reported by the DockRun

    def _add_result(self, result):
        from napari_seeinggan._layers import layer_data_from_array

        settings = (getattr(result, "metadata", None) or {}).get("settings") or {}
        if self._provenance.get("overlap") == "auto" and settings.get("overlap"):
            self._provenance["overlap"] = int(settings["overlap"][0])  # what "auto" gave
        name = f"{self._provenance['input_layer']} deblurred"
        from seeinggan.infer.header import deblur_history, deblurred_header

        from napari_seeinggan._layers import header_for_layer

        input_header = header_for_layer(getattr(self._input_layer, "metadata", None) or {})
        # What Save writes, as the command line does: the input's cards (BUNIT, MAGZP...) minus
        # those of its old grid and PSF, the new WCS, the SG* provenance cards and HISTORY.
        header = deblurred_header(input_header, getattr(result, "metadata", None) or {}, wcs=result.wcs,
                                  history=deblur_history(self._provenance))
        metadata = {"deblur": dict(getattr(result, "metadata", {}) or {}),
                    "provenance": dict(self._provenance),
                    "header": header}
        data, kwargs, layer_type = layer_data_from_array(result.data, wcs=result.wcs, name=name,
                                                         metadata=metadata)
        kwargs["metadata"]["pixel_scale"] = float(result.pixel_scale)
        kwargs.update(result_display(data[-1] if kwargs.get("multiscale") else data))
        if result.wcs is None:
            kwargs.update(_place_without_wcs(self._input_layer, self._provenance,
                                             input_scale=self._input_pixel_scale,
                                             output_scale=float(result.pixel_scale)))
        layer = self._viewer.add_layer(napari.layers.Layer.create(data, kwargs, layer_type))
        if getattr(result, "maps", None) is not None:
            self._add_maps(result, layer, metadata)
        if self._input_layer in self.image.choices:
            # napari selects the new layer; the dock stays on the input (the next deblur of
            # the same image should not take the result as its input).
            self._set_image(self._input_layer)
        self.last_result = result
        self.state.update(status=DONE, result_layer=layer.name,
                          message=f"added {layer.name!r} ({result.data.shape[1]} x "
                                  f"{result.data.shape[0]} px at {result.pixel_scale:.3g}\"/px)")
        self.bring_into_view(self.controls)

    # --- views --------------------------------------------------------------------------------

    def _add_maps(self, result, output_layer, metadata: dict) -> None:
        """``<name> uncertainty`` and ``<name> consistency`` over the output, hidden (issue 10)."""
        for layer in maps_layers(result, output_layer, self._input_layer, self._provenance,
                                 input_pixel_scale=self._input_pixel_scale):
            self._viewer.add_layer(layer)
        summary = result.maps.summary.one_line()
        output_layer.metadata["maps"] = {
            "uncertainty_layer": f"{self._provenance['input_layer']} uncertainty",
            "consistency_layer": f"{self._provenance['input_layer']} consistency",
            "summary": result.maps.summary.to_dict()}
        self.state.maps_summary = summary

    def _on_state_changed(self, _info=None):
        state = self.state
        running = state.status == RUNNING
        self.deblur_button.enabled = not running
        self.cancel_button.enabled = running
        if running and state.tiles_total == 0:
            self.progress.max = 0  # a moving (busy) bar while resampling, before the tiles
        else:
            self.progress.max = max(state.tiles_total, 1)
            self.progress.value = min(state.tiles_done, self.progress.max)
        self.message.value = state.message
        self.maps_summary.value = state.maps_summary


def result_display(data) -> dict:
    """First contrast limits and gamma of a deblurred layer: the restored structure in view.

    The reader's zscale limits follow the sky noise; on the finer output grid (flux per pixel
    ~45 times lower, noise smoothed) they saturated every galaxy into a white blob, and the result
    looked blurrier than its input. Here: the sky floor from zscale, the top at the 99.5% level
    (`seeinggan.display.display_limits`, a sample of the pixels), and a square-root-like gamma, as
    for the sample pair. Only the display: the data are untouched (the Deblur dock's display
    section sets other limits and stretches).
    """
    from seeinggan.display import display_limits

    low = display_limits(data, interval="zscale")[0]
    high = display_limits(data, interval="99.5%")[1]
    return {"contrast_limits": [low, high if high > low else low + 1.0], "gamma": 0.5}


CHI_LIMIT = 10.0
"""The consistency layer's contrast limits are +-CHI_LIMIT sigma: white = consistent, full colour
= twice the 5-sigma flag, the same on every image."""


def maps_layers(result, output_layer, input_layer, provenance: dict, *,
                input_pixel_scale: float | None) -> list:
    """The uncertainty, consistency and support layers of a `DeblurResult` with maps (hidden, overlaid).

    The uncertainty map lies on the output's grid (placed like the output layer), the chi map on
    the input's (placed by its WCS, else like the deblurred region of the input layer).
    """
    from napari_seeinggan._layers import layer_data_from_array

    maps = result.maps
    base = provenance["input_layer"]
    layers = []
    summary = maps.summary.to_dict()

    def on_output_grid(image, wcs, role: str, **display):
        """A hidden map layer on the output's grid (placed like the output layer without a WCS)."""
        data, kwargs, kind = layer_data_from_array(
            image, wcs=wcs, name=f"{base} {role}",
            metadata={"maps": {"role": role, "output_layer": output_layer.name, "summary": summary}})
        if wcs is None:
            kwargs.update({key: getattr(output_layer, key) for key in ("scale", "translate", "rotate", "affine")})
        kwargs.update(visible=False, **display)
        kwargs["metadata"]["pixel_scale"] = float(result.pixel_scale)
        return napari.layers.Layer.create(data, kwargs, kind)

    if maps.uncertainty is not None:
        finite = np.asarray(maps.uncertainty)[np.isfinite(maps.uncertainty)]
        high = float(np.percentile(finite, 99.5)) if finite.size else 1.0
        layers.append(on_output_grid(maps.uncertainty, maps.uncertainty_wcs, "uncertainty", colormap="inferno",
                                     blending="additive", contrast_limits=(0.0, high if high > 0 else 1.0)))
    if maps.consistency is not None:
        data, kwargs, kind = layer_data_from_array(
            maps.consistency, wcs=maps.consistency_wcs, name=f"{base} consistency",
            metadata={"maps": {"role": "consistency", "output_layer": output_layer.name, "summary": summary}})
        if maps.consistency_wcs is None:
            offset = np.array(provenance["region_pixels"][::2], dtype=float)
            scale = np.asarray(input_layer.scale[-2:], dtype=float)
            kwargs.update(scale=scale, translate=np.asarray(input_layer.translate[-2:], dtype=float) + scale * offset,
                          rotate=input_layer.rotate, affine=input_layer.affine)
        kwargs.update(colormap="PiYG", blending="translucent", opacity=0.7, visible=False,
                      contrast_limits=(-CHI_LIMIT, CHI_LIMIT))
        if input_pixel_scale:
            kwargs["metadata"]["pixel_scale"] = float(input_pixel_scale)
        layers.append(napari.layers.Layer.create(data, kwargs, kind))
    if maps.support is not None:
        # green where the restored detail is kept; transparent where it was spread over the seeing
        layers.append(on_output_grid(maps.support, maps.support_wcs, "support", colormap="green",
                                     blending="additive", opacity=0.5, contrast_limits=(0.0, 1.0)))
    return layers


def _place_without_wcs(layer, provenance: dict, *, input_scale: float | None,
                       output_scale: float) -> dict:
    """scale/translate that lay a result without WCS over its input layer (no sky placement).

    The finer grid's placement in input pixels is `seeinggan.geometry.finer_grid_placement`'s;
    here it is composed with the input layer's own scale and translation.
    """
    from seeinggan.geometry import finer_grid_placement

    if not input_scale:
        return {}
    offset = np.array(provenance["region_pixels"][::2], dtype=float)
    scale, translate = finer_grid_placement(input_scale / output_scale, offset=offset)
    in_scale = np.asarray(layer.scale[-2:], dtype=float)
    in_translate = np.asarray(layer.translate[-2:], dtype=float)
    return {"scale": in_scale * scale, "translate": in_translate + in_scale * translate,
            "rotate": layer.rotate, "affine": layer.affine}
