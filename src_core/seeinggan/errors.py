"""Errors a user can fix, in one family: `SeeingGANError`.

Every error that a user can act on (a bad file, a bad option, a full disk, a name already taken)
derives from `SeeingGANError`. Its message is one line that names the file or option and the
problem; front ends show it as it is (the command line prints ``seeinggan CMD: error: MESSAGE``,
napari shows a one-line notification). Any other exception is a bug: the command line prints its
full traceback, napari sends it to its notification manager with the traceback
(``notification_manager.receive_error``).

The subclasses also derive from the built-in type that fits (``ValueError`` for bad input,
``OSError`` for output problems, ``MemoryError`` for sizes beyond the machine), so code that
catches those keeps working. The classes are defined here and re-exported where they were
before (``seeinggan.io.fits.FitsReadError``, ``seeinggan.models.io.ModelFileError``...).

The core logs through `logging` (``logging.getLogger(__name__)`` in each module, under the
``seeinggan`` logger); it never configures handlers itself. `configure_logging` is for front ends.
"""

from __future__ import annotations

import logging
import sys

__all__ = [
    "FitsExistsError",
    "FitsReadError",
    "FitsWriteError",
    "InputError",
    "ModelFileError",
    "ModelNameError",
    "NoSpaceError",
    "OutputError",
    "OutputExistsError",
    "ResourceLimitError",
    "SeeingGANError",
    "configure_logging",
    "is_user_error",
]


class SeeingGANError(Exception):
    """Base of the errors a user can fix.

    The message is one line naming the file/option and the problem.
    """


class InputError(SeeingGANError, ValueError):
    """A bad value given by the user (an option, an image with unusable content...)."""


class FitsReadError(SeeingGANError, ValueError):
    """A FITS file could not be read; the message names the file and the problem."""


class OutputError(SeeingGANError, OSError):
    """An output cannot be written (folder not writable, not a folder, ...)."""


class FitsWriteError(OutputError):
    """A FITS file could not be written; the message names the file and the problem."""


class OutputExistsError(OutputError, FileExistsError):
    """The output exists and overwriting was not asked for."""


class FitsExistsError(FitsWriteError, OutputExistsError):
    """A FITS output exists and overwriting was not asked for."""


class NoSpaceError(OutputError):
    """No space left (or not enough for the estimated size) in the output folder."""


class ModelFileError(SeeingGANError, ValueError):
    """A model file is missing, not in our format, malformed, or does not match its architecture."""


class ModelNameError(SeeingGANError, ValueError):
    """A model or run name that is unsafe (path, reserved name), shadows a shipped model, or is taken."""


class ResourceLimitError(SeeingGANError, MemoryError):
    """A request that needs more memory (or disk) than allowed or available.

    The message says how much it needs.
    """


def is_user_error(error: BaseException) -> bool:
    """True for errors a user can fix (`SeeingGANError` and its subclasses)."""
    return isinstance(error, SeeingGANError)


def configure_logging(*, debug: bool = False, verbose: bool = False, stream=None) -> logging.Logger:
    """Send the ``seeinggan`` logger's records to `stream` (stderr) as ``seeinggan: LEVEL: msg``.

    Level WARNING by default, INFO with `verbose`, DEBUG with `debug`. For front ends (the
    command line); the library itself never adds handlers. Calling it again replaces the
    handler it added before.
    """
    logger = logging.getLogger("seeinggan")
    for handler in list(logger.handlers):
        if getattr(handler, "_seeinggan_cli", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler._seeinggan_cli = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("seeinggan: %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING)
    return logger
