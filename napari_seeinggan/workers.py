"""Workers: core calls run off the GUI thread, their callbacks turned into yielded typed updates.

A worker never touches a widget or a layer. It gets plain data (arrays, WCS, paths, settings)
captured on the GUI thread, runs the core call in a helper thread, and yields the updates the
core's ``progress``/``callbacks`` produced (`TileProgress`, `Status`, the trainer's own typed
updates) to the GUI thread, where the dock writes them into its evented state
(`napari_seeinggan.state`). It ends by *returning* an `Outcome` (never raising: superqt turns a
generator's RuntimeError, which torch raises for most failures, into a silent return value).

Stopping: a `StopFlag` is the core's ``should_stop``. It is true once the dock's Cancel/Stop
button sets it, or once napari asks the worker to quit (napari's task manager calls
``worker.quit()`` for every running worker when the window closes), so the core call stops
within one tile or one training step in both cases.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DeblurRequest",
    "FinetuneRequest",
    "Outcome",
    "PairsReady",
    "Status",
    "StopFlag",
    "TileProgress",
    "deblur_updates",
    "finetune_updates",
    "make_worker",
]


# ---------------------------------------------------------------------------------------------
# Typed updates


@dataclass(frozen=True)
class TileProgress:
    """``done`` of ``total`` tiles deblurred."""

    done: int
    total: int


@dataclass(frozen=True)
class Status:
    """A one-line message for the user (a phase of the work)."""

    message: str


@dataclass(frozen=True)
class PairsReady:
    """Training pairs are cut: how many for training and for validation."""

    n_train: int
    n_val: int


@dataclass
class Outcome:
    """How a worker ended: ``value`` on success, ``cancelled``, or ``error`` (with a message)."""

    value: Any = None
    cancelled: bool = False
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return not self.cancelled and self.error is None

    @property
    def message(self) -> str:
        if self.error is None:
            return "stopped" if self.cancelled else "done"
        text = str(self.error).strip() or type(self.error).__name__
        return text if isinstance(self.error, ValueError | OSError) else (
            f"{type(self.error).__name__}: {text}")


# ---------------------------------------------------------------------------------------------
# Stopping


class StopFlag:
    """A thread-safe ``should_stop`` callable for core calls.

    True after `set` (the dock's Cancel/Stop button, or the dock being closed) or after napari
    asked the attached ``worker`` to quit.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self.worker = None

    def set(self) -> None:
        self._event.set()

    def __call__(self) -> bool:
        if self._event.is_set():
            return True
        worker = self.worker
        return bool(worker is not None and getattr(worker, "abort_requested", False))


_DONE = object()


def _stream(call: Callable[[Callable[[Any], None]], Any], *, stop: StopFlag,
            name: str) -> Generator[Any, None, Outcome]:
    """Run ``call(emit)`` in a helper thread; yield what it emits; return its `Outcome`.

    The core call blocks, and a generator cannot yield from inside a callback, so the call runs
    in its own thread and its callbacks put updates on a queue that this generator drains.
    """
    from seeinggan.progress import Cancelled

    updates: queue.Queue = queue.Queue()
    outcome = Outcome()

    def target() -> None:
        try:
            outcome.value = call(updates.put)
        except Cancelled:
            outcome.cancelled = True
        except BaseException as error:  # noqa: BLE001 - every failure reaches the user
            if stop():
                # A stop that surfaced as another exception (e.g. a closed file) is still a stop.
                outcome.cancelled = True
            else:
                outcome.error = error
        finally:
            updates.put(_DONE)

    helper = threading.Thread(target=target, name=f"napari-seeinggan {name}", daemon=True)
    helper.start()
    finished = False
    try:
        while True:
            item = updates.get()
            if item is _DONE:
                finished = True
                break
            yield item
    finally:
        if not finished:
            # Closed early (the generator was closed): make the core call stop, wait briefly.
            stop.set()
        helper.join(timeout=30)
    return outcome


def make_worker(generator_function: Callable[..., Generator], *args: Any, stop: StopFlag,
                **kwargs: Any):
    """Create (without starting) a napari worker for ``generator_function(*args, stop=stop)``.

    The worker is attached to ``stop`` so that napari's quit also stops the core call. Connect
    its signals, then call ``worker.start()``.
    """
    from napari.qt.threading import create_worker

    worker = create_worker(generator_function, *args, stop=stop, _start_thread=False, **kwargs)
    stop.worker = worker
    return worker


# ---------------------------------------------------------------------------------------------
# Deblurring


@dataclass
class DeblurRequest:
    """Everything a deblur needs, captured from the layer and the dock on the GUI thread."""

    data: np.ndarray
    wcs: Any
    pixel_scale: float | None
    model: str | Path
    device: str = "auto"
    tile: int = 256
    overlap: int = 32


def deblur_updates(request: DeblurRequest, *, stop: StopFlag
                   ) -> Generator[Status | TileProgress, None, Outcome]:
    """Deblur ``request.data``; yields `Status` then one `TileProgress` per tile.

    Returns an `Outcome` whose ``value`` is the core's ``DeblurResult``.
    """

    def call(emit: Callable[[Any], None]):
        from seeinggan.infer import Deblurrer

        emit(Status(f"loading model {Path(str(request.model)).stem}"))
        deblurrer = Deblurrer(request.model, device=request.device, tile=request.tile,
                              overlap=request.overlap)
        emit(Status("deblurring"))
        return deblurrer.deblur(
            request.data, wcs=request.wcs, pixel_scale=request.pixel_scale,
            progress=lambda done, total: emit(TileProgress(int(done), int(total))),
            should_stop=stop,
        )

    return (yield from _stream(call, stop=stop, name="deblur"))


# ---------------------------------------------------------------------------------------------
# Fine-tuning


@dataclass
class FinetuneRequest:
    """Everything a fine-tuning run needs, captured on the GUI thread.

    Pairs come from exactly one source: ``frames`` (ground data, ground WCS, space data, space
    WCS; cut into stamps by `seeinggan.data.pairs_from_frames`), ``regions`` (the same frames
    plus rectangles in ground pixel coordinates, for `seeinggan.data.pairs_from_regions`), or
    ``folder`` (`seeinggan.data.folder_pairs`). ``trainer`` continues an earlier run (Resume).
    """

    config: dict = field(default_factory=dict)
    init_model: str | Path | None = None
    frames: tuple | None = None
    regions: list | None = None
    folder: str | Path | None = None
    stamp_size: int | None = None
    val_fraction: float = 0.2
    seed: int = 0
    trainer: Any = None


def build_pairs(request: FinetuneRequest, *, stop: StopFlag | None = None,
                emit: Callable[[Any], None] | None = None) -> list:
    """Cut training pairs for ``request`` with the core's pairing functions."""
    from seeinggan import data as pairs_api

    if request.folder is not None:
        return pairs_api.folder_pairs(Path(request.folder))
    if request.frames is None:
        raise ValueError("choose a ground layer and a space layer, or a folder of pairs")
    ground, ground_wcs, space, space_wcs = request.frames
    if request.regions is not None:
        if not request.regions:
            raise ValueError("draw at least one rectangle on the shapes layer to train on")
        return pairs_api.pairs_from_regions(ground, ground_wcs, space, space_wcs,
                                            request.regions)

    def progress(done: int, total: int) -> None:
        if emit is not None:
            emit(Status(f"cutting training pairs: source {done} of {total}"))

    return pairs_api.pairs_from_frames(ground, ground_wcs, space, space_wcs,
                                       stamp_size=request.stamp_size, progress=progress,
                                       should_stop=stop)


def finetune_updates(request: FinetuneRequest, *, stop: StopFlag) -> Generator[Any, None, Outcome]:
    """Fine-tune a generator; yields `Status`, `PairsReady` and the trainer's typed updates.

    Returns an `Outcome` whose ``value`` is the `seeinggan.train.Trainer` (also when stopped, so
    that the dock can save it or resume it).
    """
    trainer_box: dict[str, Any] = {"trainer": request.trainer}

    def call(emit: Callable[[Any], None]):
        from seeinggan.train import TrainConfig, Trainer

        trainer = request.trainer
        if trainer is None:
            from seeinggan.data import train_val_split

            from seeinggan.data import pairs_summary

            emit(Status("cutting training pairs"))
            pairs = build_pairs(request, stop=stop, emit=emit)
            if len(pairs) < 2:
                raise ValueError(f"need at least 2 training pairs, got {pairs_summary(pairs)} "
                                 "(a bigger overlap of the two layers, or more rectangles)")
            emit(Status(pairs_summary(pairs)))
            train_pairs, val_pairs = train_val_split(pairs, val_fraction=request.val_fraction,
                                                     seed=request.seed)
            emit(PairsReady(len(train_pairs), len(val_pairs)))
            emit(Status("building the trainer"))
            config = TrainConfig(**request.config)
            trainer = Trainer(config, train_pairs=train_pairs, val_pairs=val_pairs or None,
                              callbacks=(emit,), init_model=request.init_model)
            trainer_box["trainer"] = trainer
        emit(Status("training"))
        trainer.run(should_stop=stop)
        return trainer

    outcome = yield from _stream(call, stop=stop, name="fine-tune")
    if outcome.value is None:
        outcome.value = trainer_box["trainer"]
    return outcome
