"""Memory and disk figures for checks made before large work (standard library only).

`available_memory` reads ``MemAvailable`` from ``/proc/meminfo`` (Linux), else the free
physical pages (``os.sysconf``); `check_memory` raises `ResourceLimitError` naming how much a
piece of work needs; `free_disk` is `shutil.disk_usage`'s free bytes.

The environment variable ``SEEINGGAN_MEMORY_LIMIT`` (bytes, or with a K/M/G/T suffix) caps
what seeinggan lets one request use, below what the machine has; tests use it.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from seeinggan.errors import ResourceLimitError

__all__ = ["available_memory", "check_memory", "format_bytes", "free_disk", "memory_limit"]

logger = logging.getLogger(__name__)

_SUFFIXES = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def format_bytes(n: float) -> str:
    """``"3.4 GiB"``-style text for a byte count."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def available_memory() -> int:
    """Bytes of memory available to a new allocation now (``MemAvailable`` on Linux)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 2**62


def memory_limit() -> int:
    """The most memory one request may need: ``SEEINGGAN_MEMORY_LIMIT`` if set, else what is available."""
    text = os.environ.get("SEEINGGAN_MEMORY_LIMIT", "").strip().upper().removesuffix("B")
    available = available_memory()
    if text:
        suffix = text[-1] if text[-1] in _SUFFIXES else ""
        try:
            limit = int(float(text[: len(text) - len(suffix)]) * _SUFFIXES[suffix])
        except ValueError:
            logger.warning("SEEINGGAN_MEMORY_LIMIT=%r is not a size; ignored", text)
        else:
            return min(limit, available)
    return available


def check_memory(needed: float, what: str) -> None:
    """Raise `ResourceLimitError` when `needed` bytes exceed `memory_limit`.

    Parameters
    ----------
    needed : float
        Bytes the work will allocate.
    what : str
        What needs them, for the message (``"x.fits: the 30000x30000 image as float32"``).
    """
    limit = memory_limit()
    if needed > limit:
        raise ResourceLimitError(
            f"{what} needs {format_bytes(needed)} of memory, but only {format_bytes(limit)} "
            "is available"
        )


def free_disk(folder: str | os.PathLike) -> int:
    """Free bytes on the file system holding `folder` (its nearest existing parent)."""
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free
