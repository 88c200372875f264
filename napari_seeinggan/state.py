"""Evented state shared by the plugin's docks and their workers.

The CAREamics split: widgets show state and turn clicks into requests; workers run core calls off
the GUI thread and *yield* typed updates; the widget's ``yielded`` slot (on the GUI thread) writes
those updates into the evented objects below, and every view (labels, progress bars, plots, the
model lists of other docks) listens to them. Nothing here imports Qt.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from psygnal import Signal, evented

IDLE = "idle"
RUNNING = "running"
DONE = "done"
CANCELLED = "cancelled"
FAILED = "failed"


@evented
@dataclass
class DeblurState:
    """What the Deblur dock is doing; every field emits ``state.events.<field>`` on change."""

    status: str = IDLE
    """One of "idle", "running", "done", "cancelled", "failed"."""
    tiles_done: int = 0
    tiles_total: int = 0
    message: str = ""
    """One line for the user: what is happening, or what went wrong."""
    result_layer: str = ""
    """Name of the last layer this dock added."""
    maps_summary: str = ""
    """What the last result's uncertainty/consistency maps say (one line), or ""."""


@evented
@dataclass
class FinetuneState:
    """What the Fine-tune dock is doing; every field emits ``state.events.<field>`` on change."""

    status: str = IDLE
    """One of "idle", "running", "done" (all steps), "cancelled" (stopped), "failed"."""
    step: int = 0
    total_steps: int = 0
    n_train_pairs: int = 0
    n_val_pairs: int = 0
    message: str = ""
    can_resume: bool = False
    """True once a run stopped early with a trainer (and its checkpoint) to go on from."""
    saved_model: str = ""
    """Path of the last model this dock saved."""


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
class ModelEntry:
    """One choice in a model list: a label for people and what `seeinggan.infer.Deblurrer` takes."""

    label: str
    path: Path
    kind: str = "user"
    """"shipped", "user" (in the user's models folder) or "file" (loaded from elsewhere)."""


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

    def entries(self) -> list[ModelEntry]:
        """The shipped default (when its file exists), the user's models, then added files."""
        from seeinggan.models import io as model_io

        entries: list[ModelEntry] = []
        seen: set[str] = set()
        for item in model_io.list_models():  # the shipped default (when installed) comes first
            path = Path(item.path)
            if _key(path) in seen:
                continue
            seen.add(_key(path))
            if item.shipped:
                entries.append(ModelEntry(f"{item.name} (shipped)", path, "shipped"))
            else:
                entries.append(ModelEntry(item.name, path, "user"))
        for path in self._extra_files:
            if _key(path) not in seen and path.exists():
                seen.add(_key(path))
                entries.append(ModelEntry(f"{path.stem} (file)", path, "file"))
        return entries

    def add_file(self, path: str | Path) -> ModelEntry:
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
