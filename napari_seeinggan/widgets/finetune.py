"""The Fine-tune dock.

Train a SeeingGAN generator on pairs from the open field, watch it learn, save it as a named model
that the Deblur dock lists at once.

Pairs come from two layers of one field (a ground and a space image, paired by WCS with
`seeinggan.data.pairs_from_frames`), from rectangles drawn on a shapes layer
(`seeinggan.data.pairs_from_regions`) or from a folder of pairs (`seeinggan.data.folder_pairs`).
A worker (`napari_seeinggan.workers.finetune_updates`) runs `seeinggan.train.Trainer` off the GUI
thread; its typed updates land in a `FinetuneState` and a `TrainingLog`, which the progress bar,
the live loss curves and the preview stamps (`_finetune_plots.LossPlots`, pyqtgraph) listen to.
Saving (name check, replace question, checkpoint clean-up) is `_finetune_save`; this module holds
the form and the run's lifecycle.
"""

import datetime as _dt
from enum import Enum
from pathlib import Path

import napari
import numpy as np
from magicgui.widgets import (
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Label,
    LineEdit,
    ProgressBar,
    PushButton,
    SpinBox,
)
from napari.utils.notifications import show_error, show_info
from seeinggan.devices import available_devices
from seeinggan.errors import InputError

from napari_seeinggan._errors import install_log_forwarding
from napari_seeinggan._layers import world_to_pixels
from napari_seeinggan._model_purpose import show_model_purpose
from napari_seeinggan.state import (
    CANCELLED,
    DONE,
    MODEL_LIST_EXTRA_LABELS,
    RUNNING,
    FinetuneState,
    ModelChoice,
    ModelListExtra,
    TrainingLog,
    model_registry,
)
from napari_seeinggan.widgets._common import (
    ScrollableDock,
    coarsest_layer,
    finest_layer,
    image_layer_choices,
    layer_pixel_scale,
    on_destroyed,
    shapes_layer_choices,
)
from napari_seeinggan.widgets._finetune_plots import (
    CRITIC,
    GENERATOR,
    VAL_CW_SSIM,
    VAL_CW_SSIM_INPUT,
    LossPlots,
)
from napari_seeinggan.widgets._finetune_save import (
    ask_replace,
    remove_session_checkpoints,
    save_trained_model,
)
from napari_seeinggan.widgets._lifecycle import DockRun, RunsInWorker
from napari_seeinggan.widgets.deblur import collapsible
from napari_seeinggan.workers import (
    FinetuneRequest,
    Outcome,
    finetune_updates,
    warm_up_training_imports,
)


class PairSource(Enum):
    """Where the dock takes its pairs from (keys; `PAIR_SOURCE_LABELS` holds what the dock shows)."""

    LAYERS = "layers"
    RECTANGLES = "rectangles"
    FOLDER = "folder"


PAIR_SOURCE_LABELS = {
    PairSource.LAYERS: "two layers (paired by WCS)",
    PairSource.RECTANGLES: "rectangles on a shapes layer",
    PairSource.FOLDER: "folder of pairs",
}
NEW_NETWORK = ModelListExtra.NEW_NETWORK
"""The start-model choice that trains a new network from scratch."""


class FinetuneWidget(RunsInWorker, ScrollableDock):
    """Dock that fine-tunes a generator on pairs from the open field.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose layers provide the pairs.

    Attributes
    ----------
    state : FinetuneState
        Evented status (step, pairs, message, whether Resume is possible).
    log : TrainingLog
        Loss curves and the latest preview stamp.
    trainer : seeinggan.train.Trainer or None
        The trainer of the current session (kept after Stop, for Save and Resume).
    """

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(labels=True)
        install_log_forwarding()  # the core's warnings (long run, no signal) as notifications
        self._viewer = viewer
        self.state = FinetuneState()
        self.log = TrainingLog()
        self.registry = model_registry()
        self.trainer = None
        self.last_checkpoint: Path | None = None
        self._run = DockRun(state=self.state, context="Fine-tuning failed",
                            on_update=self._on_update, on_returned=self._on_returned,
                            failure_fields=self._failure_fields)

        # --- pairs
        self.source = ComboBox(label="pairs from", value=PairSource.LAYERS,
                               choices=[(label, key) for key, label in PAIR_SOURCE_LABELS.items()])
        self.ground = ComboBox(label="ground layer", choices=self._image_choices,
                               tooltip="The seeing-limited image (for example Subaru)")
        self.space = ComboBox(label="space layer", choices=self._image_choices,
                              tooltip="The space image of the same field (for example HST)")
        self.shapes = ComboBox(label="rectangles on", choices=self._shapes_choices,
                               tooltip="Shapes layer whose rectangles become training pairs")
        self.load_regions_button = PushButton(
            text="Load .reg...", tooltip="Rectangles from a DS9 region file (sky or image coordinates) "
                                         "onto a \"training regions\" layer")
        self.folder = FileEdit(label="pairs folder", mode="d",
                               tooltip="A folder with ground/NAME.fits and space/NAME.fits")
        # --- training
        self.start_model = ComboBox(label="start model", choices=self._model_choices,
                                    tooltip="The model to fine-tune (or a new network)")
        recipe = shipped_recipe()
        self.steps = SpinBox(label="steps", min=1, max=1_000_000, value=200)
        self.learning_rate = FloatSpinBox(label="learning rate", min=1e-7, max=1e-1,
                                          step=1e-5, value=recipe.lr_g)
        self.learning_rate.native.setDecimals(7)
        self.batch_size = SpinBox(label="batch size", min=1, max=256, value=recipe.batch_size)
        self.device = ComboBox(label="device", choices=available_devices(), value="auto")
        # --- advanced
        self.critic_steps = SpinBox(label="critic steps", min=1, max=20, value=recipe.critic_steps,
                                    tooltip="Critic updates per generator update (WGAN-GP)")
        self.l1_weight = FloatSpinBox(label="L1 weight", min=0, max=1000, step=0.1, value=recipe.l1)
        self.structural_weight = FloatSpinBox(label="CW-SSIM weight", min=0, max=1000,
                                              step=0.1, value=recipe.structural,
                                              tooltip="Weight of the 1 - CW-SSIM structural loss")
        self.adversarial_weight = FloatSpinBox(label="adversarial weight", min=0, max=1000,
                                               step=0.001, value=recipe.adversarial)
        self.adversarial_weight.native.setDecimals(4)
        self.perceptual_weight = FloatSpinBox(label="perceptual weight", min=0, max=1000,
                                              step=0.1, value=recipe.perceptual,
                                              tooltip="Needs VGG-19 weights (below)")
        self.vgg_weights = FileEdit(label="VGG-19 weights", mode="r", nullable=True,
                                    filter="*.safetensors *.pth *.pt",
                                    tooltip="Local VGG-19 weights (torchvision layout) for the "
                                            "perceptual loss")
        self.val_fraction = FloatSpinBox(label="validation split", min=0.0, max=0.9,
                                         step=0.05, value=0.2)
        self.crop_size = SpinBox(label="crop size (px)", min=32, max=1024, step=16,
                                 value=recipe.crop_size,
                                 tooltip="Side of the random training crops (multiple of 16)")
        self.stamp_size = SpinBox(label="stamp size (px)", min=0, max=2048, step=16, value=128,
                                  tooltip="Side of the stamps cut around sources (at least the "
                                          "crop size); 0: 2 x R90 of each source")
        self.report_every = SpinBox(label="validate every", min=1, max=100_000, value=20,
                                    tooltip="Steps between validations and preview updates")
        self.checkpoint_every = SpinBox(label="checkpoint every", min=1, max=100_000, value=20,
                                        tooltip="Steps between checkpoints (Stop also writes one)")
        self.advanced = Container(labels=True, widgets=[
            self.critic_steps, self.l1_weight, self.structural_weight, self.adversarial_weight,
            self.perceptual_weight, self.vgg_weights, self.val_fraction, self.crop_size,
            self.stamp_size, self.report_every, self.checkpoint_every])
        self.config_extra: dict = {}
        """More `seeinggan.train.TrainConfig` fields for scripts and tests (e.g. network size)."""
        # --- run and save
        self.train_button = PushButton(text="Train")
        self.stop_button = PushButton(text="Stop", enabled=False)
        self.resume_button = PushButton(text="Resume", enabled=False)
        self.progress = ProgressBar(label="steps", min=0, max=1, value=0)
        self.message = Label(label="", value="")
        self.model_name = LineEdit(label="save as", value=_default_model_name())
        self.save_button = PushButton(text="Save model", enabled=False)

        self.extend([self.source, self.ground, self.space, self.shapes, self.load_regions_button,
                     self.folder,
                     self.start_model, self.steps, self.learning_rate, self.batch_size,
                     self.device])
        # magicgui inserts its own widgets before any native one: the sections below are added
        # natively, in order, after the magicgui form.
        self.controls = Container(labels=True, widgets=[
            Container(widgets=[self.train_button, self.stop_button, self.resume_button],
                      layout="horizontal", labels=False),
            self.progress, self.message])
        self.plots = LossPlots(self.log)
        self.save_row = Container(widgets=[self.model_name, self.save_button],
                                  layout="horizontal", labels=True)
        for section in (collapsible("advanced", self.advanced), self.controls.native,
                        self.plots.widget, self.save_row.native):
            self.body.layout().addWidget(section)
        self.fit_width(self.message)

        self.train_button.changed.connect(self.train)
        self.stop_button.changed.connect(self.stop)
        self.resume_button.changed.connect(self.resume)
        self.save_button.changed.connect(self.save)
        self.load_regions_button.changed.connect(self._on_load_regions)
        self.source.changed.connect(self._on_source_changed)
        self.registry.changed.connect(self._on_models_changed)
        self.start_model.changed.connect(self._on_start_model_changed)
        self.state.changed.connect(self._on_state_changed)
        for event in ("inserted", "removed", "reordered"):
            getattr(viewer.layers.events, event).connect(self._on_layers_changed)
        self.native.destroyed.connect(on_destroyed(self))
        self.warm_up = warm_up_training_imports()
        self._on_layers_changed()
        self._guess_layers()
        self._on_source_changed(self.source.value)
        show_model_purpose(self.start_model)

    # --- choices ------------------------------------------------------------------------------

    def _image_choices(self, _widget=None):
        return image_layer_choices(self._viewer)

    def _shapes_choices(self, _widget=None):
        return shapes_layer_choices(self._viewer)

    def _model_choices(self, _widget=None):
        return [*[(entry.label, entry) for entry in self.registry.entries()],
                (MODEL_LIST_EXTRA_LABELS[NEW_NETWORK], NEW_NETWORK)]

    def _on_layers_changed(self, _event=None):
        self.reset_choices()

    def _on_models_changed(self):
        current = self.start_model.value
        self.start_model.reset_choices()
        if current in self.start_model.choices:
            self.start_model.value = current
        show_model_purpose(self.start_model)

    def _on_start_model_changed(self, _value=None):
        show_model_purpose(self.start_model)

    def _guess_layers(self):
        # The finest-pixel image is most likely the space image, the coarsest the ground one.
        measured = [layer for layer in self.ground.choices if layer_pixel_scale(layer)]
        if len(measured) >= 2:
            self.space.value = finest_layer(measured)
            self.ground.value = coarsest_layer(measured)

    def load_regions(self, path) -> list[str]:
        """Rectangles from a DS9 ``.reg`` file onto a "training regions" shapes layer, and pairs from them.

        The rectangles are placed by the space layer's WCS; returns the file's notes.
        """
        from napari_seeinggan._layers import world_rectangles_from_file

        space = self.space.value
        if space is None:
            raise ValueError("choose the space layer the regions are drawn on")
        rectangles, notes = world_rectangles_from_file(path, space)
        name = "training regions"
        if name in self._viewer.layers:
            shapes = self._viewer.layers[name]
        else:
            shapes = self._viewer.add_shapes(name=name, edge_color="cyan",
                                             face_color="transparent",
                                             units=tuple(space.units))
        shapes.add_rectangles([world_to_pixels(shapes, r) for r in rectangles])
        self.reset_choices()
        self.source.value = PairSource.RECTANGLES
        self.shapes.value = shapes
        return notes

    def _on_load_regions(self, _event=None):
        from qtpy.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self.native, "Load DS9 regions", "", "DS9 regions (*.reg)")
        if not path:
            return
        try:
            notes = self.load_regions(path)
        except (OSError, ValueError) as error:
            show_error(f"Fine-tune: {error}")
            return
        if notes:
            show_info("Fine-tune: " + "; ".join(notes))

    def _on_source_changed(self, value):
        frames = value in (PairSource.LAYERS, PairSource.RECTANGLES)
        self.ground.visible = frames
        self.space.visible = frames
        self.shapes.visible = value == PairSource.RECTANGLES
        self.load_regions_button.visible = value == PairSource.RECTANGLES
        self.folder.visible = value == PairSource.FOLDER

    # --- requests -----------------------------------------------------------------------------

    def config_overrides(self) -> dict:
        """`seeinggan.train.TrainConfig` fields from the dock's settings."""
        vgg = self.vgg_weights.value
        vgg = str(vgg) if vgg not in (None, "") and Path(vgg).is_file() else None
        if self.perceptual_weight.value > 0 and vgg is None:
            raise InputError("a perceptual weight above 0 needs a VGG-19 weights file "
                             "(advanced); set the weight to 0 to train without it")
        every = int(self.report_every.value)
        return {
            "steps": int(self.steps.value),
            "lr_g": float(self.learning_rate.value),
            "lr_c": float(self.learning_rate.value),
            "batch_size": int(self.batch_size.value),
            "crop_size": int(self.crop_size.value),
            "critic_steps": int(self.critic_steps.value),
            "l1": float(self.l1_weight.value),
            "structural": float(self.structural_weight.value),
            "adversarial": float(self.adversarial_weight.value),
            "perceptual": float(self.perceptual_weight.value),
            "vgg19_weights": vgg or "",
            "device": self.device.value,
            "val_every": every,
            "preview_every": every,
            "log_every": every,
            "val_fraction": float(self.val_fraction.value),
            "checkpoint_every": int(self.checkpoint_every.value),
            "output_dir": str(self.checkpoint_dir()),
            **self.config_extra,
        }

    def checkpoint_dir(self) -> Path:
        """Where this session's checkpoints go (beside the user's models)."""
        if getattr(self, "_checkpoint_dir", None) is None:
            from seeinggan.models.io import user_models_dir

            stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            self._checkpoint_dir = user_models_dir() / "checkpoints" / f"finetune-{stamp}"
        return self._checkpoint_dir

    def request(self) -> FinetuneRequest:
        """The `FinetuneRequest` for the dock's settings; ValueError with a message if incomplete."""
        start = self.start_model.value
        init_model = start.path if isinstance(start, ModelChoice) else None
        stamp = int(self.stamp_size.value) or None
        request = FinetuneRequest(config=self.config_overrides(), init_model=init_model,
                                  stamp_size=stamp)
        if self.source.value == PairSource.FOLDER:
            folder = self.folder.value
            if folder in (None, "") or not Path(folder).is_dir():
                raise InputError(f"choose a folder of pairs (got {folder!s})")
            request.folder = Path(folder)
            return request
        request.frames = self._frames()
        if self.source.value == PairSource.RECTANGLES:
            request.regions = self._regions()
        return request

    def _frames(self):
        from napari_seeinggan._layers import layer_geometry

        ground, space = self.ground.value, self.space.value
        if ground is None or space is None:
            raise InputError("open a ground image and a space image of the same field")
        if ground is space:
            raise InputError("the ground layer and the space layer must be different layers")
        g_data, g_wcs, _ = layer_geometry(ground)
        s_data, s_wcs, _ = layer_geometry(space)
        for layer, wcs in ((ground, g_wcs), (space, s_wcs)):
            if wcs is None:
                raise InputError(f"layer {layer.name!r} has no celestial WCS: pairing by sky "
                                 "position needs FITS images with WCS")
        # The layers' arrays as they are: the worker makes the float32 copies (off the GUI thread).
        return (np.asarray(g_data), g_wcs, np.asarray(s_data), s_wcs)

    def _regions(self) -> list[np.ndarray]:
        shapes, space = self.shapes.value, self.space.value
        if shapes is None:
            raise InputError("add a shapes layer and draw rectangles on the field")
        regions = []
        for kind, vertices in zip(shapes.shape_type, shapes.data, strict=True):
            if kind != "rectangle":
                continue
            world = [np.asarray(shapes.data_to_world(v)) for v in np.asarray(vertices)]
            # In space-frame pixels, as seeinggan.data.pairs_from_regions expects.
            regions.append(world_to_pixels(space, world))
        if not regions:
            raise InputError(f"no rectangle on shapes layer {shapes.name!r}")
        return regions

    # --- running ------------------------------------------------------------------------------

    def train(self, _=None):
        """Start a new fine-tuning run; returns the worker (or None on a problem)."""
        if self.state.status == RUNNING:
            return self.worker
        try:
            request = self.request()
        except Exception as error:  # noqa: BLE001 - anything wrong with the input is shown
            self._run.fail(error)
            return None
        self.trainer = None
        self.last_checkpoint = None
        self._checkpoint_dir = None
        request.config["output_dir"] = str(self.checkpoint_dir())
        self.log.clear()
        self.state.update(step=0, total_steps=request.config["steps"], n_train_pairs=0,
                          n_val_pairs=0, can_resume=False)
        return self._start(request)

    def resume(self, _=None):
        """Go on training.

        The stopped trainer from where it stopped, a finished one for another "steps" steps, or
        (after a failure) a new trainer from the last checkpoint.
        """
        if self.state.status == RUNNING:
            return self.worker
        if self.trainer is not None:
            from seeinggan.train.finetune import continue_run

            # A finished run gets "steps" more; a stopped one goes on to its end.
            self.state.total_steps = continue_run(self.trainer, more_steps=int(self.steps.value))
            return self._start(FinetuneRequest(trainer=self.trainer))
        if self.last_checkpoint is not None:
            try:
                request = self.request()
            except Exception as error:  # noqa: BLE001
                self._run.fail(error)
                return None
            request.resume_from = self.last_checkpoint
            request.config["output_dir"] = str(self.checkpoint_dir())
            return self._start(request)
        return self.worker

    def _start(self, request: FinetuneRequest):
        self.state.update(status=RUNNING, message="starting")
        return self._run.start(finetune_updates, request, description="Fine-tuning",
                               total=self.state.total_steps, done=self.state.step)

    def stop(self, _=None):
        """Ask training to stop after the current step (a checkpoint is written)."""
        if self.state.status == RUNNING and self._run.cancel():
            self.state.message = "stopping after this step..."

    def _on_update(self, update):
        from seeinggan.train.callbacks import (
            CheckpointUpdate,
            PreviewUpdate,
            StepUpdate,
            ValidationUpdate,
        )

        self.state.apply(update)  # Status, PairsReady, StepUpdate
        if isinstance(update, StepUpdate):
            for name, key in ((GENERATOR, "g_total"), (CRITIC, "critic")):
                value = update.losses.get(key)
                if value is not None and np.isfinite(value):
                    self.log.add_point(name, int(update.step), float(value))
            self._run.advance(self.state.step, self.state.total_steps)
        elif isinstance(update, ValidationUpdate):
            self.log.add_point(VAL_CW_SSIM, int(update.step), float(update.cw_ssim))
            self.log.add_point(VAL_CW_SSIM_INPUT, int(update.step), float(update.cw_ssim_input))
        elif isinstance(update, PreviewUpdate):
            self.log.set_preview(step=int(update.step), input=np.asarray(update.input),
                                 output=np.asarray(update.output),
                                 target=np.asarray(update.target))
        elif isinstance(update, CheckpointUpdate):
            self.last_checkpoint = Path(update.path)

    def _on_returned(self, outcome: Outcome):
        run = outcome.value
        if run is not None:
            self.trainer = run.trainer
        if outcome.error is not None:
            self._run.fail(outcome.error)
            return
        stopped = outcome.cancelled or bool(getattr(run.result, "stopped", False))
        if stopped:
            self.state.update(status=CANCELLED, can_resume=self.trainer is not None,
                              message=f"stopped at step {self.state.step}")
            show_info(f"Fine-tuning stopped at step {self.state.step}")
        else:
            self.state.update(status=DONE, can_resume=self.trainer is not None,
                              message=f"done: {self.state.step} steps")

    def _failure_fields(self) -> dict:
        return {"can_resume": self.trainer is not None or self.last_checkpoint is not None}

    # --- saving -------------------------------------------------------------------------------

    def save(self, _=None) -> Path | None:
        """Save the trained generator as a named model in the user's models folder.

        The name is checked by `seeinggan.names.check_name`; a model of the same name is replaced
        only after the user says so (`confirm_replace`). See `_finetune_save.save_trained_model`.
        """
        if self.trainer is None:
            show_error("Fine-tune: train (or resume) before saving a model")
            return None
        path, message = save_trained_model(self.trainer, self.model_name.value,
                                           confirm_replace=self.confirm_replace)
        if path is None:
            if message:
                self.state.message = message
            return None
        if remove_session_checkpoints(getattr(self, "_checkpoint_dir", None)):
            self.last_checkpoint = None
        self.state.message = message or ""
        self.registry.notify_saved(path)
        show_info(f"Saved model {path.stem!r} in {path.parent}")
        self.model_name.value = _default_model_name()
        return path

    def confirm_replace(self, name: str) -> bool:
        """Ask (a Qt question box, "No" by default) whether to replace the user model `name`."""
        return ask_replace(self.native, name)

    # --- views --------------------------------------------------------------------------------

    def _on_state_changed(self, _info=None):
        state = self.state
        running = state.status == RUNNING
        self.train_button.enabled = not running
        self.stop_button.enabled = running
        self.resume_button.enabled = not running and state.can_resume
        self.save_button.enabled = not running and self.trainer is not None
        self.progress.max = max(state.total_steps, 1)
        self.progress.value = min(state.step, self.progress.max)
        pairs = (f" ({state.n_train_pairs} training / {state.n_val_pairs} validation pairs)"
                 if state.n_train_pairs else "")
        self.message.value = f"{state.message}{pairs}"


def shipped_recipe():
    """The training recipe of the shipped model: the Fine-tune dock's defaults.

    Read from ``seeinggan/configs/cpu.toml`` with `seeinggan.train.TrainConfig.from_toml`.
    """
    from importlib.resources import files

    from seeinggan.train import TrainConfig

    try:
        return TrainConfig.from_toml(Path(str(files("seeinggan.configs") / "cpu.toml")))
    except Exception:  # noqa: BLE001 - a core without its configs: TrainConfig's own defaults
        return TrainConfig()


def _default_model_name() -> str:
    return "finetuned-" + _dt.datetime.now().strftime("%Y%m%d-%H%M")
