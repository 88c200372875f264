"""Checks before deblurring.

A pixel scale that makes sense, memory and time said up front, and no structure invented on an image
without signal.

- `check_pixel_scale`: finite and within `PIXEL_SCALE_RANGE` arcsec/px (`InputError`), so a
  typo such as ``--pixel-scale 1000`` is an error, not a 16 TiB allocation.
- `plan_deblur`: the output size for a resampling factor, the memory it needs (checked against
  `seeinggan.io.resources.memory_limit`: `ResourceLimitError` names the amount) and a rough time;
  logged at INFO, and at WARNING when the run will be long (`LONG_RUN_SECONDS`) or large
  (`LARGE_RUN_BYTES`).
- `has_no_signal`: a constant (or all-zero, or all-NaN) image. The Deblurrer then warns and
  returns the input resampled onto the output grid instead of running the network on noise it
  would have to invent.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from seeinggan.errors import InputError, ResourceLimitError
from seeinggan.io.resources import format_bytes, memory_limit

__all__ = [
    "LARGE_RUN_BYTES",
    "LONG_RUN_SECONDS",
    "MAX_OUTPUT_PIXELS",
    "PIXEL_SCALE_RANGE",
    "DeblurPlan",
    "check_pixel_scale",
    "has_no_signal",
    "plan_deblur",
]

logger = logging.getLogger(__name__)

PIXEL_SCALE_RANGE = (1e-3, 10.0)
"""Input pixel scales accepted, arcsec/px (from adaptive-optics cameras to wide-field surveys)."""
MAX_OUTPUT_PIXELS = 2**34
"""An output larger than this (64 GiB as float32) is refused outright."""
LONG_RUN_SECONDS = 60.0
LARGE_RUN_BYTES = 2 * 1024**3
SECONDS_PER_MEGAPIXEL_CPU = 0.35
"""Measured: the shipped generator, 256-pixel tiles, 2 CPU cores, ~20 ms per 65,536 px tile
(NOTES.md), plus the overlap; a rough figure for the warning, not a promise."""


@dataclass(frozen=True)
class DeblurPlan:
    """What a deblur will produce and cost, worked out before it starts."""

    output_shape: tuple[int, int]
    memory_bytes: int
    seconds: float

    def describe(self) -> str:
        """The plan in one line: output size, memory and time."""
        rows, cols = self.output_shape
        minutes = self.seconds / 60
        when = f"about {minutes:.0f} min" if minutes >= 1.5 else f"about {self.seconds:.0f} s"
        return f"{cols}x{rows} px output, {format_bytes(self.memory_bytes)} of memory, {when}"


def check_pixel_scale(scale: float, *, what: str = "pixel scale") -> float:
    """`scale` (arcsec/px) as float if finite and within `PIXEL_SCALE_RANGE`; else `InputError`."""
    try:
        value = float(scale)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number of arcsec/px, got {scale!r}") from None
    low, high = PIXEL_SCALE_RANGE
    if not math.isfinite(value) or not low <= value <= high:
        raise InputError(
            f"{what} {scale!r} arcsec/px is not a plausible pixel scale (expected {low:g}..{high:g}; "
            "0.2 for a typical ground-based camera)"
        )
    return value


def plan_deblur(shape: tuple[int, ...], factor: float, *, name: str = "the image",
                in_memory_output: bool = True, device: str = "cpu") -> DeblurPlan:
    """Output shape, memory and time of deblurring `shape` resampled by `factor`; checked.

    Raises
    ------
    InputError
        The output would exceed `MAX_OUTPUT_PIXELS`.
    ResourceLimitError
        It needs more memory than is available (the message says how much).
    """
    rows, cols = int(shape[-2]), int(shape[-1])
    out_rows, out_cols = max(1, round(rows * factor)), max(1, round(cols * factor))
    pixels = out_rows * out_cols
    if pixels > MAX_OUTPUT_PIXELS:
        raise InputError(
            f"{name}: {cols}x{rows} px resampled by {factor:.4g} would give a "
            f"{out_cols}x{out_rows} px output ({format_bytes(pixels * 4)} as float32); check the "
            "pixel scale"
        )
    # The resampled input and its float64 temporaries (~3 copies), the output when in memory,
    # and the input as float32.
    memory = pixels * 4 * (3 + (1 if in_memory_output else 0)) + rows * cols * 4
    seconds = pixels / 1e6 * SECONDS_PER_MEGAPIXEL_CPU * (0.05 if device != "cpu" else 1.0)
    plan = DeblurPlan((out_rows, out_cols), int(memory), float(seconds))
    limit = memory_limit()
    if memory > limit:
        raise ResourceLimitError(
            f"{name}: deblurring needs about {format_bytes(memory)} of memory "
            f"({out_cols}x{out_rows} px output), but only {format_bytes(limit)} is available; "
            "deblur a region or use a machine with more memory"
        )
    if seconds > LONG_RUN_SECONDS or memory > LARGE_RUN_BYTES:
        logger.warning("%s: a long run: %s", name, plan.describe())
    else:
        logger.info("%s: %s", name, plan.describe())
    return plan


def has_no_signal(data: np.ndarray) -> bool:
    """True when the finite pixels of `data` are all equal (constant, all zero) or there are none."""
    flat = np.asarray(data).reshape(-1)
    step = max(1, flat.size // 4_000_000)  # a large image is judged on a regular sample first
    for sample in (flat[::step], flat) if step > 1 else (flat,):
        finite = sample[np.isfinite(sample)]
        if finite.size and float(finite.max()) != float(finite.min()):
            return False
    return True
