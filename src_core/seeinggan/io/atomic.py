"""Atomic outputs: every file seeinggan writes appears whole under its final name, or not at all.

The one helper for FITS images, CSV tables, reports, model files and checkpoints:

1. `check_output_folder` before the work: the folder is created, must be writable, and must have
   room for the estimated size (`NoSpaceError`, "no space left ...", otherwise). Leftover
   temporary files of killed runs in it are removed (`clean_stale_temporaries`).
2. `atomic_path` / `atomic_open` / `atomic_write_bytes` / `atomic_write_text`: the data go to a
   temporary file in the target folder, named ``.NAME.<pid>.<random>.seeinggan-tmp`` (hidden, and
   with a suffix no reader or ``*.fits``/``*.safetensors`` pattern takes for an output); it is
   flushed and fsync'ed, then renamed onto the final name (``os.replace``; without
   ``overwrite`` a hard link, which fails when the name exists, so two writers cannot both win),
   and the folder is fsync'ed. On any error, or a kill, only the temporary file can be left.
3. Running out of space while writing (``ENOSPC``/``EDQUOT``) becomes `NoSpaceError` naming the
   file; an existing output without ``overwrite`` becomes `OutputExistsError`.

A temporary file is stale when the process named in it is gone, or it is older than a day.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from seeinggan.errors import NoSpaceError, OutputError, OutputExistsError
from seeinggan.io.resources import format_bytes, free_disk

__all__ = [
    "TEMP_SUFFIX",
    "atomic_open",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_output_folder",
    "clean_stale_temporaries",
    "is_temporary",
    "pid_alive",
]

logger = logging.getLogger(__name__)

TEMP_SUFFIX = ".seeinggan-tmp"
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}" + re.escape(TEMP_SUFFIX) + "$")
_SPACE_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}
_STALE_SECONDS = 24 * 3600
SPACE_MARGIN = 1.05
"""Free space asked for: the estimate times this, plus 64 kB."""


def is_temporary(path: str | os.PathLike) -> bool:
    """True for a temporary file of `atomic_path` (never an output)."""
    return bool(_TEMP.match(Path(path).name))


def _temporary_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def pid_alive(pid: int) -> bool:
    """True when a process ``pid`` runs on this machine (or may: one we cannot signal counts)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError included: it exists, owned by someone else
        return True
    return True


def clean_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove temporary files of killed runs from `folder` (not recursive); return them."""
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    now = time.time()
    for path in folder.iterdir():
        match = _TEMP.match(path.name)
        if not match:
            continue
        try:
            stale = not pid_alive(int(match["pid"])) or now - path.stat().st_mtime > _STALE_SECONDS
            if stale:
                path.unlink()
                removed.append(path)
        except OSError:
            continue
    if removed:
        logger.info("removed %d temporary file(s) left by an interrupted run in %s", len(removed), folder)
    return removed


def check_output_folder(folder: str | os.PathLike, *, needed_bytes: float = 0, what: str = "the outputs") -> Path:
    """Check, before any work, that outputs can be written to `folder`.

    Creates the folder (and parents), removes stale temporary files, checks that it is a folder,
    that this process may create files in it, and that its file system has `needed_bytes` free
    (times `SPACE_MARGIN`).

    Parameters
    ----------
    folder : path-like
        The output folder.
    needed_bytes : float, optional
        Estimated size of what will be written.
    what : str, optional
        What will be written, for the message.

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    OutputError
        Not a folder, cannot be created, or not writable.
    NoSpaceError
        Less free space than needed.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: not a folder; choose another output folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        if error.errno in _SPACE_ERRNOS:
            raise NoSpaceError(f"{folder}: no space left on the device to create the folder") from error
        raise OutputError(f"{folder}: the output folder cannot be created ({error.strerror or error})") from error
    probe = _temporary_name(folder / "probe")
    try:
        with open(probe, "xb"):
            pass
    except OSError as error:
        if error.errno in _SPACE_ERRNOS:
            raise NoSpaceError(f"{folder}: no space left on the device") from error
        raise OutputError(f"{folder}: the output folder is not writable ({error.strerror or error})") from error
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    clean_stale_temporaries(folder)
    if needed_bytes > 0:
        free = free_disk(folder)
        wanted = needed_bytes * SPACE_MARGIN + 65536
        if free < wanted:
            raise NoSpaceError(
                f"{folder}: no space left for {what}: about {format_bytes(needed_bytes)} needed, "
                f"{format_bytes(free)} free"
            )
    return folder


def _fsync_folder(folder: Path) -> None:
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform (Windows): the rename is still atomic
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def _publish(tmp: Path, target: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # fails if the name exists: no writer replaces another's output
    except FileExistsError:
        raise OutputExistsError(
            f"{target}: exists; refusing to replace it (choose another name, or ask to overwrite)"
        ) from None
    except OSError:  # file systems without hard links: check, then rename
        if target.exists():
            raise OutputExistsError(
                f"{target}: exists; refusing to replace it (choose another name, or ask to overwrite)"
            ) from None
        os.replace(tmp, target)
        return
    tmp.unlink()


def _space_error(target: Path, error: OSError) -> NoSpaceError:
    try:
        free = format_bytes(free_disk(target.parent))
    except OSError:
        free = "unknown"
    return NoSpaceError(f"{target}: no space left on the device while writing it ({free} free); "
                        "nothing was written under this name")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it becomes `target` atomically.

    The code inside the block writes the temporary file (by name; closing it before the block
    ends). The file is then fsync'ed and renamed. Any exception removes it.

    Raises
    ------
    OutputExistsError
        `target` exists (checked first, and again at the rename) and `overwrite` is False.
    NoSpaceError
        The disk filled up while writing.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise OutputExistsError(
            f"{target}: exists; refusing to replace it (choose another name, or ask to overwrite)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(target)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        _publish(tmp, target, overwrite=overwrite)
        _fsync_folder(target.parent)
    except OSError as error:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if error.errno in _SPACE_ERRNOS and not isinstance(error, OutputError):
            raise _space_error(target, error) from error
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_open(target: str | os.PathLike, mode: str = "w", *, overwrite: bool = False,
                encoding: str | None = "utf-8", newline: str | None = None) -> Iterator[IO]:
    """`open` a temporary file beside `target` (modes ``"w"``/``"wb"``).

    It becomes `target` when the block ends without error (flushed, fsync'ed, renamed).
    """
    if mode not in ("w", "wb"):
        raise ValueError("atomic_open writes new files: mode 'w' or 'wb'")
    with atomic_path(target, overwrite=overwrite) as tmp:
        kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        with open(tmp, mode, **kwargs) as handle:
            yield handle
            handle.flush()


def atomic_write_bytes(target: str | os.PathLike, data: bytes, *, overwrite: bool = False) -> Path:
    """Write `data` to `target` atomically; return `target`."""
    with atomic_open(target, "wb", overwrite=overwrite) as handle:
        handle.write(data)
    return Path(target)


def atomic_write_text(target: str | os.PathLike, text: str, *, overwrite: bool = False,
                      encoding: str = "utf-8") -> Path:
    """Write `text` to `target` atomically; return `target`."""
    with atomic_open(target, "w", overwrite=overwrite, encoding=encoding) as handle:
        handle.write(text)
    return Path(target)
