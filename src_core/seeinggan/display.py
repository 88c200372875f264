"""Display stretches and limits as DS9 offers them, without touching the data.

A stretch maps data between two limits to grey levels in [0, 1]; the data (and its flux units)
never change. The curves are astropy's (`astropy.visualization`: `LinearStretch`, `LogStretch`,
`AsinhStretch`, `SqrtStretch`, with astropy's default parameters, as DS9 uses) and the limits its
intervals (`ZScaleInterval`, `PercentileInterval`; min-max reads the extremes). A viewer that only offers a
linear ramp between contrast limits (napari) shows a stretch as a colormap whose control points
follow the curve (`stretch_control_points`) with the limits as its contrast limits
(`display_limits`).
"""

from __future__ import annotations

import numpy as np
from astropy.visualization import (
    AsinhStretch,
    LinearStretch,
    LogStretch,
    PercentileInterval,
    SqrtStretch,
    ZScaleInterval,
)
from astropy.visualization.stretch import BaseStretch

__all__ = [
    "INTERVALS",
    "STRETCHES",
    "display_limits",
    "stretch_control_points",
    "stretch_function",
]

STRETCHES = ("linear", "log", "asinh", "sqrt")
"""Stretch names, as DS9's Scale menu calls them."""
INTERVALS = ("min-max", "zscale", "99.5%")
"""Limit names: the data's extremes, IRAF's zscale, the central 99.5% of the pixels."""

MAX_SAMPLES = 100_000
"""Pixels sampled (a regular stride) for zscale and percentile limits on large images."""


def stretch_function(name: str) -> BaseStretch:
    """The astropy stretch called ``name`` (one of `STRETCHES`), with astropy's defaults.

    Raises
    ------
    ValueError
        For an unknown name.
    """
    stretches = {"linear": LinearStretch, "log": LogStretch, "asinh": AsinhStretch,
                 "sqrt": SqrtStretch}
    if name not in stretches:
        raise ValueError(f"unknown stretch {name!r}: choose one of {', '.join(STRETCHES)}")
    return stretches[name]()


def stretch_control_points(name: str, *, n: int = 129) -> tuple[np.ndarray, np.ndarray]:
    """Control points of a grey colormap that follows the stretch ``name``.

    Points are spaced evenly both along the input (``n`` of them) and along the output (``n``
    more, through the stretch's inverse), so that steep parts of the curve (log and asinh near
    0) are followed as closely as flat ones; between points the colormap interpolates linearly.

    Parameters
    ----------
    name : str
        One of `STRETCHES`.
    n : int, optional
        Points on each of the two even spacings.

    Returns
    -------
    controls : numpy.ndarray
        Increasing positions in [0, 1] (0 and 1 included): the data between the limits,
        normalised.
    levels : numpy.ndarray
        The grey level at each control, ``stretch(controls)``, in [0, 1].
    """
    stretch = stretch_function(name)
    even = np.linspace(0.0, 1.0, int(n))
    through_inverse = np.clip(stretch.inverse(even.copy()), 0.0, 1.0)
    controls = np.unique(np.concatenate([even, through_inverse]))
    levels = np.clip(stretch(controls.copy(), clip=True), 0.0, 1.0)
    levels[0], levels[-1] = 0.0, 1.0  # the ends exactly (float rounding of log/asinh)
    return controls, np.maximum.accumulate(levels)


def display_limits(data: np.ndarray, *, interval: str = "zscale") -> tuple[float, float]:
    """Lower and upper display limits of ``data`` for the interval ``interval``.

    NaN and inf are ignored. "min-max" reads every pixel; "zscale" and "99.5%" a regular sample
    of at most `MAX_SAMPLES` pixels (fast on large or memory-mapped images). Always two finite
    numbers with ``low < high`` (a flat image gets ``(value, value + 1)``).

    Parameters
    ----------
    data : array_like
        The image (any shape).
    interval : str, optional
        One of `INTERVALS`.

    Raises
    ------
    ValueError
        For an unknown interval.
    """
    if interval not in INTERVALS:
        raise ValueError(f"unknown limits {interval!r}: choose one of {', '.join(INTERVALS)}")
    array = np.asarray(data)
    if interval == "min-max":
        finite = np.isfinite(array)
        if not finite.any():
            return 0.0, 1.0
        low = float(np.min(array, where=finite, initial=np.inf))
        high = float(np.max(array, where=finite, initial=-np.inf))
        return (low, high) if high > low else (low, low + 1.0)
    flat = array.reshape(-1)
    stride = max(1, flat.size // MAX_SAMPLES)
    sample = np.asarray(flat[::stride], dtype=np.float64)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 0.0, 1.0
    chooser = ZScaleInterval() if interval == "zscale" else PercentileInterval(99.5)
    try:
        low, high = (float(v) for v in chooser.get_limits(sample))
    except Exception:  # noqa: BLE001 - degenerate samples: fall back to the extremes
        low, high = float(sample.min()), float(sample.max())
    if not (np.isfinite(low) and np.isfinite(high)) or high <= low:
        low, high = float(sample.min()), float(sample.max())
        if high <= low:
            high = low + 1.0
    return low, high
