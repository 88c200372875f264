"""One run lifecycle for every dock: a worker off the GUI thread, its progress bar, Cancel, errors.

`DockRun` is composed into a dock (Deblur, Fine-tune, Score region). It

- starts a napari worker for a generator function of `napari_seeinggan.workers` with a fresh
  `StopFlag` (``start``), optionally with a cancelable napari progress bar (``total`` tiles or
  steps; its cancel button sets the flag);
- hands every yielded update to the dock's ``on_update`` and the returned `Outcome` to its
  ``on_returned`` (on the GUI thread);
- reports failures once (`napari_seeinggan._errors.report_error`: a one-line notification for
  what the user can fix, the notification manager with a traceback for bugs) and writes
  ``status=failed`` and the message into the dock's evented state in one `update`;
- closes the progress bar when the worker finishes, leaves the state idle when a run ended
  without a result, and calls ``on_finished``;
- stops the run when the dock goes away, and waits for its threads to end (`teardown`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator
from typing import Any

from napari_seeinggan._errors import report_error
from napari_seeinggan.state import FAILED, IDLE, RUNNING
from napari_seeinggan.workers import StopFlag, make_worker

__all__ = ["TEARDOWN_WAIT_S", "DockRun", "RunsInWorker"]

TEARDOWN_WAIT_S = 30.0
"""Longest a closing dock waits for its stopped worker to end (a training step and its checkpoint)."""


class DockRun:
    """The run lifecycle of one dock (see the module docstring).

    Parameters
    ----------
    state : evented dock state or None
        Gets ``status``/``message`` (`napari_seeinggan.state`); None for a dock that shows its
        own status (Score region).
    context : str
        Starts failure messages ("Deblur failed").
    on_update : callable, optional
        Called with each update the worker yields.
    on_returned : callable, optional
        Called with the worker's `napari_seeinggan.workers.Outcome`.
    on_finished : callable, optional
        Called after the worker finished and the progress bar closed.
    failure_fields : callable, optional
        Extra state fields to set with a failure (e.g. whether Resume is possible).
    """

    def __init__(self, *, state=None, context: str, on_update: Callable[[Any], None] | None = None,
                 on_returned: Callable[[Any], None] | None = None,
                 on_finished: Callable[[], None] | None = None,
                 failure_fields: Callable[[], dict] | None = None):
        self.state = state
        self.context = context
        self.on_update = on_update
        self.on_returned = on_returned
        self.on_finished = on_finished
        self.failure_fields = failure_fields
        self.worker = None
        self.stop_flag: StopFlag | None = None
        self.pbar = None
        self.busy = False
        """True from `start` until the worker's ``finished`` has been handled."""

    def start(self, generator_function: Callable[..., Generator], request: Any, *,
              description: str | None = None, total: int = 0, done: int = 0, **kwargs: Any):
        """Start ``generator_function(request, stop=...)`` in a napari worker; returns it.

        With ``description``, a cancelable napari progress bar of ``total`` (0: busy) shows the
        run, ``done`` already.
        """
        self.stop_flag = StopFlag()
        if description is not None:
            from napari.utils import cancelable_progress

            self.pbar = cancelable_progress(total=max(int(total), 0), desc=description,
                                            cancel_callback=self.stop_flag.set)
            if done:
                self.pbar.update(int(done))
        worker = make_worker(generator_function, request, stop=self.stop_flag, **kwargs)
        if self.on_update is not None:
            worker.yielded.connect(self.on_update)
        worker.returned.connect(self._on_returned)
        # napari itself shows a worker's exception (with the traceback): record it only.
        worker.errored.connect(lambda error: self.fail(error, notify=False))
        worker.finished.connect(self._on_finished)
        self.worker = worker
        self.busy = True
        worker.start()
        return worker

    def advance(self, done: int, total: int) -> None:
        """Move the progress bar to ``done`` of ``total``; a cancel there stops the run."""
        pbar = self.pbar  # (updating a napari progress bar may run the event loop)
        if pbar is None:
            return
        if pbar.total != total:
            pbar.total = int(total)
        pbar.update(int(done) - pbar.n)
        if pbar.is_canceled:
            self.cancel()

    def cancel(self) -> bool:
        """Ask the running worker to stop (within one tile or step); True when one runs."""
        if self.stop_flag is None or not self.busy:
            return False
        self.stop_flag.set()
        return True

    def fail(self, error: BaseException | str, *, notify: bool = True) -> str:
        """Report a failure once and write it into the state; returns its one-line text."""
        if isinstance(error, BaseException):  # one line if the user can fix it, else a traceback
            text = report_error(error, context=self.context, notify=notify)
        else:
            text = str(error)
            if notify:
                from napari.utils.notifications import show_error

                show_error(f"{self.context}: {text}")
        if self.state is not None:
            extra = self.failure_fields() if self.failure_fields is not None else {}
            self.state.update(status=FAILED, message=text, **extra)
        return text

    def _on_returned(self, outcome) -> None:
        if self.on_returned is not None:
            try:
                self.on_returned(outcome)
            except Exception as error:  # noqa: BLE001 - a failure while showing the result
                self.fail(error)

    def _on_finished(self) -> None:
        if self.pbar is not None:
            self.pbar.close()
            self.pbar = None
        if self.state is not None and self.state.status == RUNNING:
            self.state.status = IDLE  # ended without a result (an error already shown)
        self.busy = False
        if self.on_finished is not None:
            self.on_finished()

    def teardown(self, *_args: Any) -> None:
        """The dock is going away: stop a running worker and wait for it; drop the callbacks into its views.

        The wait (at most `TEARDOWN_WAIT_S`; the stop takes effect within a tile or a step) is
        what lets a script close napari and exit at once: a worker thread still running Python
        while the interpreter shut down aborted it ("terminate called without an active
        exception", 2 of 3 scripted closes in the middle of a fine-tune).
        """
        if self.stop_flag is not None:
            self.stop_flag.set()
        self.on_update = self.on_returned = self.on_finished = None
        worker = self.worker
        if worker is None or not self.busy:
            return
        deadline = time.monotonic() + TEARDOWN_WAIT_S
        # The thread of the core call (a worker napari already told to quit has ended, but not
        # its core call), then the worker's own; their signals are queued here, never awaited.
        for helper in self.stop_flag.helpers if self.stop_flag is not None else ():
            helper.join(timeout=max(deadline - time.monotonic(), 0.0))
        while worker.is_running and time.monotonic() < deadline:
            time.sleep(0.01)
        if worker.is_running or any(helper.is_alive() for helper in getattr(self.stop_flag, "helpers", ())):
            logging.getLogger(__name__).warning("%s: the run did not stop within %.0f s of closing",
                                                self.context, TEARDOWN_WAIT_S)


class RunsInWorker:
    """What a dock with a `DockRun` in ``self._run`` shows of it: its worker, busy flag and bar."""

    _run: DockRun

    @property
    def worker(self):
        """The running (or last) worker, or None."""
        return self._run.worker

    @property
    def busy(self) -> bool:
        """True while a run goes on (until its end is handled)."""
        return self._run.busy

    @property
    def _pbar(self):
        return self._run.pbar
