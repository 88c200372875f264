"""Evented state shared by the plugin's docks and their workers.

The CAREamics split: widgets show state and turn clicks into requests; workers run core calls off
the GUI thread and *yield* typed updates; the widget's ``yielded`` slot (on the GUI thread) writes
those updates into the evented objects below, and every view (labels, progress bars, plots, the
model lists of other docks) listens to them. Nothing here imports Qt.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from psygnal import Signal, evented


class RunStatus(StrEnum):
    """Where a dock's run stands (a ``str``: ``RunStatus.DONE == "done"``)."""

    IDLE = "idle"
    RUNNING = "running"
    DONE = "done"
    """Finished (all tiles, all steps)."""
    CANCELLED = "cancelled"
    """Stopped by the user (Cancel, Stop, the progress bar's cancel)."""
    FAILED = "failed"


IDLE = RunStatus.IDLE
RUNNING = RunStatus.RUNNING
DONE = RunStatus.DONE
CANCELLED = RunStatus.CANCELLED
FAILED = RunStatus.FAILED


class _Batched:
    """Batched updates for an evented dock state: one `changed` per assignment.

    Setting one field (``state.message = ...``) emits that field's ``state.events.<field>``
    and one `changed`; `update` sets several fields and emits one `changed` naming them all
    (views redraw once). `apply` writes a worker's typed update.
    """

    changed = Signal(object)
    """The names (a frozenset) of the fields that changed, once per assignment or `update`."""

    def __post_init__(self) -> None:
        self._batching = False
        self.events.connect(self._relay)

    def _relay(self, info) -> None:
        if not self._batching:
            self.changed.emit(frozenset({info.signal.name}))

    def update(self, **values: Any) -> None:
        """Set several fields at once; views hear one `changed`.

        Each field's own ``state.events.<field>`` still fires for the fields whose value
        changed (in the order given).
        """
        changed = [name for name, value in values.items() if getattr(self, name) != value]
        self._batching = True
        try:
            for name, value in values.items():
                setattr(self, name, value)
        finally:
            self._batching = False
        if changed:
            self.changed.emit(frozenset(changed))


@evented
@dataclass
class DeblurState(_Batched):
    """What the Deblur dock is doing; every field emits ``state.events.<field>`` on change."""

    status: RunStatus = IDLE
    """Where the run stands (`RunStatus`)."""
    tiles_done: int = 0
    tiles_total: int = 0
    message: str = ""
    """One line for the user: what is happening, or what went wrong."""
    result_layer: str = ""
    """Name of the last layer this dock added."""
    maps_summary: str = ""
    """What the last result's uncertainty/consistency maps say (one line), or ""."""

    def apply(self, update: Any) -> None:
        """Write a deblur worker's update (`napari_seeinggan.workers.TileProgress` or `Status`)."""
        from napari_seeinggan.workers import Status, TileProgress

        if isinstance(update, TileProgress):
            self.update(tiles_done=update.done, tiles_total=update.total,
                        message=f"tiles {update.done}/{update.total}")
        elif isinstance(update, Status):
            self.message = update.message


@evented
@dataclass
class FinetuneState(_Batched):
    """What the Fine-tune dock is doing; every field emits ``state.events.<field>`` on change."""

    status: RunStatus = IDLE
    """Where the run stands: done is all steps, cancelled is stopped (`RunStatus`)."""
    step: int = 0
    total_steps: int = 0
    n_train_pairs: int = 0
    n_val_pairs: int = 0
    message: str = ""
    can_resume: bool = False
    """True once a run stopped early with a trainer (and its checkpoint) to go on from."""

    def apply(self, update: Any) -> None:
        """Write a fine-tuning worker's `Status`, `PairsReady` or the trainer's `StepUpdate`."""
        from seeinggan.train.callbacks import StepUpdate

        from napari_seeinggan.workers import PairsReady, Status

        if isinstance(update, Status):
            self.message = update.message
        elif isinstance(update, PairsReady):
            self.update(n_train_pairs=update.n_train, n_val_pairs=update.n_val)
        elif isinstance(update, StepUpdate):
            step = int(update.step)
            total = int(update.total) or self.total_steps
            self.update(step=step, total_steps=int(total), message=f"step {step} of {total}")


class TrainingLog:
    """Loss curves and preview stamps of one fine-tuning session, with signals for live views.

    ``series[name]`` holds ``(steps, values)`` lists; names used by the dock are "generator",
    "critic" and "val_cw_ssim".
    """

    point_added = Signal(str, int, float)
    """(series name, step, value) after `add_point`."""
    preview_changed = Signal(object)
    """The new preview: a dict with "input", "output", "target" 2-D arrays and "step"."""
    cleared = Signal()

    def __init__(self) -> None:
        self.series: dict[str, tuple[list[int], list[float]]] = {}
        self.preview: dict | None = None

    def add_point(self, name: str, step: int, value: float) -> None:
        """Record one value of the series ``name`` at ``step`` and tell the plots."""
        steps, values = self.series.setdefault(name, ([], []))
        steps.append(int(step))
        values.append(float(value))
        self.point_added.emit(name, int(step), float(value))

    def set_preview(self, *, step: int, input: np.ndarray, output: np.ndarray,
                    target: np.ndarray | None = None) -> None:
        """Keep the latest preview images (input, output, target) and tell the dock."""
        self.preview = {"step": int(step), "input": input, "output": output, "target": target}
        self.preview_changed.emit(self.preview)

    def clear(self) -> None:
        """Forget every series and the preview."""
        self.series.clear()
        self.preview = None
        self.cleared.emit()


@dataclass(frozen=True)
class ModelChoice:
    """One model in a dock's model list: a label for people and what `seeinggan.infer.Deblurrer` takes.

    Built from the core's `seeinggan.models.io.ModelEntry` (a model on disk) or from a file the
    user loaded; the docks' lists add `ModelListExtra` choices beside them.
    """

    label: str
    path: Path
    kind: str = "user"
    """"shipped", "user" (in the user's models folder) or "file" (loaded from elsewhere)."""


class ModelListExtra(Enum):
    """Choices of a dock's model list that are not a model (keys; `MODEL_LIST_EXTRA_LABELS` shows them)."""

    NEW_NETWORK = "new_network"
    LOAD_FROM_FILE = "load_from_file"


MODEL_LIST_EXTRA_LABELS = {
    ModelListExtra.NEW_NETWORK: "new network (from scratch)",
    ModelListExtra.LOAD_FROM_FILE: "load from file...",
}
"""What the model lists show for each `ModelListExtra`."""


class ModelRegistry:
    """The models the docks offer: the shipped default, the user's saved models, extra files.

    One registry per process (`model_registry`), so that a model saved by the Fine-tune dock is
    listed by the Deblur dock at once: the Fine-tune dock calls `notify_saved`, and every model
    list listens to `changed`.
    """

    changed = Signal()
    """The list of models may have changed: views call `entries` again."""
    saved = Signal(object)
    """A model was just saved (its path); emitted before `changed`."""

    def __init__(self) -> None:
        self._extra_files: list[Path] = []

    def entries(self) -> list[ModelChoice]:
        """The shipped default (when its file exists), the user's models, then added files."""
        from seeinggan.models import io as model_io

        entries: list[ModelChoice] = []
        seen: set[str] = set()
        for item in model_io.list_models():  # the shipped default (when installed) comes first
            path = Path(item.path)
            if _key(path) in seen:
                continue
            seen.add(_key(path))
            if item.shipped:
                entries.append(ModelChoice(f"{item.name} (shipped)", path, "shipped"))
            else:
                entries.append(ModelChoice(item.name, path, "user"))
        for path in self._extra_files:
            if _key(path) not in seen and path.exists():
                seen.add(_key(path))
                entries.append(ModelChoice(f"{path.stem} (file)", path, "file"))
        return entries

    def add_file(self, path: str | Path) -> ModelChoice:
        """Offer a model file from outside the models folder (the "load from file..." choice)."""
        from seeinggan.models import io as model_io

        path = Path(path).expanduser().resolve()
        model_io.read_metadata(path)  # a clear ModelFileError naming the file, before listing it
        path = model_io.model_paths(path)[0]
        if _key(path) not in {_key(p) for p in self._extra_files}:
            self._extra_files.append(path)
        self.changed.emit()
        return next(e for e in self.entries() if _key(e.path) == _key(path))

    def notify_saved(self, path: str | Path) -> None:
        """Tell every model list that a model was saved at ``path``."""
        self.saved.emit(Path(path))
        self.changed.emit()


def _key(path: Path) -> str:
    # A model is NAME.safetensors next to NAME.json: either file names the same model.
    path = Path(path).expanduser().resolve()
    return str(path.with_suffix("")) if path.suffix in {".json", ".safetensors"} else str(path)


_REGISTRY: ModelRegistry | None = None


def model_registry() -> ModelRegistry:
    """The process-wide `ModelRegistry` shared by every dock."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = ModelRegistry()
    return _REGISTRY
