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

import atexit
import logging
import queue
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from seeinggan.errors import InputError, SeeingGANError

__all__ = [
    "DeblurRequest",
    "FinetuneRequest",
    "Outcome",
    "PairsReady",
    "Status",
    "StopFlag",
    "TileProgress",
    "TrainingRun",
    "deblur_updates",
    "finetune_updates",
    "make_worker",
    "run_in_thread",
    "warm_up_training_imports",
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
        """True when the run finished without being stopped and without an error."""
        return not self.cancelled and self.error is None

    @property
    def message(self) -> str:
        """What the dock says about the run: done, stopped, or the error on one line."""
        if self.error is None:
            return "stopped" if self.cancelled else "done"
        text = str(self.error).strip() or type(self.error).__name__
        return text if isinstance(self.error, SeeingGANError | ValueError | OSError) else (
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
        self.helpers: list[threading.Thread] = []
        """The threads running the core call (`run_in_thread`): a closing dock waits for them."""

    def set(self) -> None:
        """Ask the run to stop."""
        self._event.set()

    def __call__(self) -> bool:
        """True when the run should stop (see the class)."""
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
    stop.helpers.append(helper)
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


def run_in_thread(call: Callable[[Callable[[Any], None]], Any], *, stop: StopFlag,
                  name: str) -> Generator[Any, None, Outcome]:
    """Worker generator for any blocking call.

    ``call(emit)`` runs in a helper thread; what it emits is yielded, and its result (or its
    failure, never raised) is returned as an `Outcome`.
    """
    return (yield from _stream(call, stop=stop, name=name))


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
    """Everything a deblur needs, captured from the layer and the dock on the GUI thread.

    ``data`` may be a view of the layer's array: the worker makes the float32 copy, off the GUI
    thread.
    """

    data: np.ndarray
    wcs: Any
    pixel_scale: float | None
    model: str | Path
    device: str = "auto"
    tile: int = 256
    overlap: int | str = "auto"
    seeing: float | None = None
    """Seeing FWHM (arcsec) for seeing-conditioned models (from the layer's header), or None."""
    sky: float | None = None
    noise: float | None = None
    """Sky and noise of the image when known (None: measured by the Deblurrer on ``data``)."""
    noise_reference: np.ndarray | None = None
    """The whole layer when only a region is deblurred: sky and noise are measured on it (in
    the worker), since a region may be filled by the galaxy."""
    maps: bool = False
    """Also compute the uncertainty and consistency maps (`seeinggan.infer.maps`)."""
    maps_options: dict = field(default_factory=dict)
    """``seeing``, ``moffat_beta``, ``psf_model``, ``gain``, ``noise`` for the consistency map."""
    clean_cosmic_rays: bool = False
    """Clean cosmic rays first (`seeinggan.infer.cosmic_rays`); needs ``gain``."""
    gain: float | None = None
    """Detector gain, e-/count (the layer header's GAIN)."""
    support_guard: bool = True
    """Keep restored detail only where the input supports it (`seeinggan.infer.support`)."""


def _resampling_message(request: DeblurRequest, out_scale: float) -> str:
    """What the first phase of a deblur does, for the dock's message line."""
    rows, cols = np.shape(request.data)[-2:]
    scale = request.pixel_scale
    if request.wcs is not None:
        from seeinggan import geometry

        scale = geometry.pixel_scale(request.wcs)
    if scale and abs(scale / out_scale - 1.0) > 1e-3:
        return (f"resampling {cols} x {rows} px from {scale:.3g}\"/px to {out_scale:.3g}\"/px "
                f"(x{scale / out_scale:.2f})")
    return f"preparing {cols} x {rows} px"


def deblur_updates(request: DeblurRequest, *, stop: StopFlag
                   ) -> Generator[Status | TileProgress, None, Outcome]:
    """Deblur ``request.data``; yields `Status` then one `TileProgress` per tile.

    Returns an `Outcome` whose ``value`` is the core's ``DeblurResult``.
    """

    def call(emit: Callable[[Any], None]):
        from seeinggan.infer import Deblurrer

        emit(Status(f"loading model {Path(str(request.model)).stem}"))
        data = np.array(request.data, dtype=np.float32)  # the copy, here rather than on the GUI thread
        sky, noise = request.sky, request.noise
        if request.noise_reference is not None:
            from seeinggan.transforms import measure_sky_noise

            sky, noise = measure_sky_noise(request.noise_reference)
        deblurrer = Deblurrer(request.model, device=request.device, tile=request.tile,
                              overlap=request.overlap, support_guard=request.support_guard)
        emit(Status(_resampling_message(request, deblurrer.pixel_scale)
                    + (" (then maps: 8 views per tile)" if request.maps else "")))
        maps = {}
        if request.maps:
            options = dict(request.maps_options)
            options.pop("seeing", None)  # the request's seeing serves the model and the chi map
            header_noise = options.pop("noise", None)  # the layer-wide measurement wins
            maps = {"uncertainty": True, "consistency": request.seeing is not None, **options}
        if request.clean_cosmic_rays:
            maps.update(clean_cosmic_rays=True, gain=request.gain)
        noise = noise if noise is not None else (header_noise if request.maps else None)
        result = deblurrer.deblur(
            data, wcs=request.wcs, pixel_scale=request.pixel_scale,
            progress=lambda done, total: emit(TileProgress(int(done), int(total))),
            should_stop=stop,
            seeing=request.seeing, sky=sky, noise=noise, **maps,
        )
        rows, cols = result.data.shape[-2:]
        emit(Status(f"adding the {cols} x {rows} px result"))
        return result

    return (yield from _stream(call, stop=stop, name="deblur"))


# ---------------------------------------------------------------------------------------------
# Fine-tuning


@dataclass
class FinetuneRequest:
    """Everything a fine-tuning run needs, captured on the GUI thread.

    Pairs come from exactly one source: ``frames`` (ground data, ground WCS, space data, space
    WCS; cut into stamps by `seeinggan.data.pairs_from_frames`), ``regions`` (the same frames
    plus rectangles in ground pixel coordinates, for `seeinggan.data.pairs_from_regions`), or
    ``folder`` (`seeinggan.data.folder_pairs`). ``trainer`` continues an earlier run in memory
    (Resume); ``resume_from`` rebuilds one from a checkpoint (after a crash). ``config`` holds
    the `seeinggan.train.TrainConfig` settings (validation fraction included); the core's
    `seeinggan.train.finetune.finetune_config` checks them.
    """

    config: dict = field(default_factory=dict)
    init_model: str | Path | None = None
    frames: tuple | None = None
    regions: list | None = None
    folder: str | Path | None = None
    stamp_size: int | None = None
    trainer: Any = None
    resume_from: str | Path | None = None
    """A checkpoint (file, or run folder for its latest) to continue from in a new trainer."""


def build_pairs(request: FinetuneRequest, *, stop: StopFlag | None = None,
                emit: Callable[[Any], None] | None = None) -> list:
    """Cut training pairs for ``request`` with the core's pairing functions.

    Frames go through `seeinggan.train.finetune.finetune_pairs` (sources, or a grid of stamps
    for a one-galaxy field).
    """
    from seeinggan import data as pairs_api

    if request.folder is not None:
        return pairs_api.folder_pairs(Path(request.folder))
    if request.frames is None:
        raise InputError("choose a ground layer and a space layer, or a folder of pairs")
    ground, ground_wcs, space, space_wcs = request.frames
    # The layers' arrays as the dock found them: the float32 copies are made here, off the GUI thread.
    ground, space = np.array(ground, dtype=np.float32), np.array(space, dtype=np.float32)
    if request.regions is not None:
        if not request.regions:
            raise InputError("draw at least one rectangle on the shapes layer to train on")
        return pairs_api.pairs_from_regions(ground, ground_wcs, space, space_wcs,
                                            request.regions)

    def progress(done: int, total: int) -> None:
        if emit is not None:
            emit(Status(f"cutting training pairs: source {done} of {total}"))

    from seeinggan.train.finetune import finetune_pairs

    return finetune_pairs(ground, ground_wcs, space, space_wcs, stamp_size=request.stamp_size,
                          progress=progress, should_stop=stop,
                          note=None if emit is None else (lambda text: emit(Status(text))))


_WARM_UP: threading.Thread | None = None


def warm_up_training_imports() -> threading.Thread:
    """Import what training needs in a background thread, once per process; returns the thread.

    The first torch optimiser imports ``torch._dynamo`` (~2 s of imports, some of which hold
    the GIL for ~0.4 s at a time); the Deblur dock's maps import ``seeinggan.infer`` (scipy's
    signal and stats: ~4 s, measured on the GUI thread when *Deblur* was pressed with *maps*
    ticked). Done when the Fine-tune or Deblur dock opens, that pause falls while napari starts
    rather than when the user clicks Train or Deblur.
    """
    global _WARM_UP
    if _WARM_UP is None:
        def target() -> None:
            # Only a head start: napari may close (and Python shut down) while this imports, and
            # anything failing here fails again, with its message, where the import is needed.
            try:
                import seeinggan.data  # noqa: F401
                import seeinggan.infer.maps  # noqa: F401 - Deblur with maps: scipy.stats, ~4 s
                import seeinggan.train  # noqa: F401
                import torch._dynamo  # noqa: F401
            except BaseException as error:  # noqa: BLE001
                logging.getLogger(__name__).debug("warm-up imports stopped: %r", error)

        _WARM_UP = threading.Thread(target=target, name="napari-seeinggan warm-up", daemon=True)
        _WARM_UP.start()
        # Let a warm-up in progress finish before the interpreter tears modules down under it.
        atexit.register(_WARM_UP.join, 10.0)
    return _WARM_UP


@dataclass
class TrainingRun:
    """What a fine-tuning worker returns: the trainer (to save or resume) and its result."""

    trainer: Any
    result: Any = None
    """`seeinggan.train.TrainResult` (``stopped`` says whether Stop ended it), or None."""


def finetune_updates(request: FinetuneRequest, *, stop: StopFlag) -> Generator[Any, None, Outcome]:
    """Fine-tune a generator; yields `Status`, `PairsReady` and the trainer's typed updates.

    Returns an `Outcome` whose ``value`` is a `TrainingRun` (also when stopped, so that the dock
    can save it or resume it).
    """
    run = TrainingRun(trainer=request.trainer)

    def call(emit: Callable[[Any], None]) -> TrainingRun:
        if run.trainer is None:
            run.trainer = _new_trainer(request, stop=stop, emit=emit)
        else:
            from seeinggan.train.finetune import continue_run

            continue_run(run.trainer, callbacks=[emit])  # the GUI of this run, not the last one
        emit(Status(f"training from step {run.trainer.step}"))
        run.result = run.trainer.run(should_stop=stop)
        return run

    outcome = yield from _stream(call, stop=stop, name="fine-tune")
    if outcome.value is None and run.trainer is not None:
        outcome.value = run
    return outcome


def _new_trainer(request: FinetuneRequest, *, stop: StopFlag, emit: Callable[[Any], None]):
    """Cut the pairs and build the trainer with the core's fine-tuning recipe.

    `seeinggan.train.finetune` checks the config and defines the split, the transforms and the
    validation crops.
    """
    from seeinggan.data import pairs_summary
    from seeinggan.train.finetune import finetune_config, finetune_datasets, finetune_trainer

    config = finetune_config(request.config)
    emit(Status("cutting training pairs"))
    pairs = build_pairs(request, stop=stop, emit=emit)
    if len(pairs) < 2:
        raise InputError(f"need at least 2 training pairs, got {pairs_summary(pairs)}: in the "
                         "dock, lower 'stamp size' (advanced), or choose 'pairs from: rectangles "
                         "on a shapes layer' and draw (or load from a .reg file) more rectangles, "
                         "or open a larger space image of the field")
    emit(Status(pairs_summary(pairs)))
    train_set, val_set = finetune_datasets(pairs, config, init_model=request.init_model)
    emit(PairsReady(len(train_set), 0 if val_set is None else len(val_set)))
    emit(Status("building the trainer"))
    if request.resume_from is not None:
        emit(Status(f"resuming from {Path(request.resume_from).name}"))
    return finetune_trainer(config, train_set=train_set, val_set=val_set,
                            init_model=request.init_model, callbacks=(emit,),
                            resume_from=request.resume_from)
