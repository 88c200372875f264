"""The plugin's one error path: what a user can fix is one line, anything else keeps its traceback.

- `report_error`: a `seeinggan.errors.SeeingGANError` (a bad file, a bad setting, a full disk,
  a name taken) becomes a one-line napari error notification; any other exception is a bug and
  goes to napari's notification manager with its traceback (``receive_error``: the notification
  has a "View Traceback" button), and to the ``napari_seeinggan`` log.
- `install_log_forwarding`: warnings the core logs (``seeinggan`` logger: a long run, an image
  without signal) appear as napari warning notifications. Installed once, by the docks.

Worker errors: napari's own workers already send an exception raised in a worker thread to the
notification manager, so a dock's ``errored`` slot only records the failure
(``report_error(..., notify=False)``): one failure, one notification.
"""

from __future__ import annotations

import logging

from seeinggan.errors import SeeingGANError

__all__ = ["install_log_forwarding", "one_line", "report_error"]

logger = logging.getLogger("napari_seeinggan")


def one_line(error: BaseException) -> str:
    """The error's message on one line (its type named when it is not a user error)."""
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, SeeingGANError):
        return text
    return f"{type(error).__name__}: {text}"


def report_error(error: BaseException, *, context: str, notify: bool = True) -> str:
    """Show `error` to the user the right way and return its one-line text (for the dock).

    Parameters
    ----------
    error : BaseException
        What went wrong.
    context : str
        What was being done (``"Deblur failed"``); starts the one-line notification.
    notify : bool, optional
        False when napari has already reported the exception (a worker's ``errored`` signal).
    """
    text = one_line(error)
    if isinstance(error, SeeingGANError):
        if notify:
            from napari.utils.notifications import show_error

            show_error(f"{context}: {text}")
        return text
    logger.error("%s: %s", context, text, exc_info=(type(error), error, error.__traceback__))
    if notify:
        from napari.utils.notifications import notification_manager

        notification_manager.receive_error(type(error), error, error.__traceback__)
    return text


class _NapariWarnings(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            from napari.utils.notifications import show_warning

            show_warning(record.getMessage())
        except Exception:  # noqa: BLE001 - a log line must never break the caller
            self.handleError(record)


def install_log_forwarding() -> None:
    """Show the core's WARNING log records as napari notifications (once per process)."""
    core = logging.getLogger("seeinggan")
    if any(isinstance(handler, _NapariWarnings) for handler in core.handlers):
        return
    handler = _NapariWarnings(level=logging.WARNING)
    core.addHandler(handler)
    if core.level == logging.NOTSET or core.level > logging.WARNING:
        core.setLevel(logging.WARNING)
