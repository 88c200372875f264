"""Progress reporting and cancellation shared by every long core call."""

from collections.abc import Callable

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` after each unit of work (a tile, a step)."""

StopCallback = Callable[[], bool]
"""Polled between units of work; returning True asks the call to stop."""


class Cancelled(Exception):
    """Raised by a long core call when its ``should_stop`` callback asked it to stop."""


def check_stop(should_stop: StopCallback | None) -> None:
    """Raise `Cancelled` if ``should_stop`` says so."""
    if should_stop is not None and should_stop():
        raise Cancelled("stopped at the user's request")
