"""What a conditioned generator is told about each image: the seeing and the input pixel scale.

A generator built with ``n_conditions=2`` (`seeinggan.models.UNetGenerator`) takes, beside the
image, two numbers per image, normalised here to be of order one over the trained ranges:

- ``(seeing_fwhm - 1.0) / 0.4``: the ground PSF's FWHM in arcsec (0.4-1.6" maps to -1.5..1.5);
- ``ln(input_pixel_scale / 0.3) / 0.7``: the ground image's own pixel scale in arcsec/px, before
  it is resampled onto the model grid (0.15-0.6"/px maps to -1..1).

Unknown values (None) take the middle of the broad training prior (1.0" and 0.3"/px), i.e. 0.
This module is the one home of that normalisation: training and inference both use it. It also
holds what the model knows of its own limits: the trained ranges (model JSON
``"trained_ranges"``), the check against them and its warning class (`OutOfRangeWarning`), and
the header keywords read for the seeing.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "CONDITION_NAMES",
    "DEFAULT_SEEING",
    "DEFAULT_INPUT_PIXEL_SCALE",
    "SEEING_KEYWORDS",
    "AssumedSeeingWarning",
    "OutOfRangeWarning",
    "condition_vector",
    "out_of_range",
    "seeing_from_header",
    "trained_ranges",
]

CONDITION_NAMES = ("seeing_fwhm", "input_pixel_scale")
DEFAULT_SEEING = 1.0
"""Seeing FWHM (arcsec) assumed when none is known: the middle of the trained range."""
DEFAULT_INPUT_PIXEL_SCALE = 0.3
"""Input pixel scale (arcsec/px) assumed when none is known."""


def condition_vector(*, seeing: float | None, input_pixel_scale: float | None) -> np.ndarray:
    """The normalised conditions ``[2]`` (float32) for one image; None means unknown."""
    seeing = DEFAULT_SEEING if seeing is None or not math.isfinite(seeing) else float(seeing)
    scale = (
        DEFAULT_INPUT_PIXEL_SCALE
        if input_pixel_scale is None or not (math.isfinite(input_pixel_scale) and input_pixel_scale > 0)
        else float(input_pixel_scale)
    )
    return np.array([(seeing - 1.0) / 0.4, math.log(scale / 0.3) / 0.7], dtype=np.float32)


class OutOfRangeWarning(UserWarning):
    """An image lies outside what the model was trained on (seeing, pixel scale or S/N).

    Emitted with `warnings.warn` by `seeinggan.infer.Deblurrer`; the command line prints it as
    one line and the napari Deblur dock shows it as a notification. Results are still made.
    """


class AssumedSeeingWarning(UserWarning):
    """A seeing-conditioned model was not told the seeing and assumed the trained range's middle."""


SEEING_KEYWORDS = ("SGSEEING", "SEEING", "FWHM", "PSF_FWHM", "PSFFWHM", "FWHMPSF", "SEEING_FWHM", "IQ")
"""Header keywords read, in this order, as the seeing FWHM in arcsec."""


def seeing_from_header(header) -> tuple[float, str] | None:
    """``(seeing_arcsec, keyword)`` from the first of `SEEING_KEYWORDS` holding 0.05-10 arcsec.

    Values outside that span (often FWHM in pixels, or a placeholder) are skipped. None when no
    keyword gives a usable value.
    """
    if header is None:
        return None
    for key in SEEING_KEYWORDS:
        if key in header:
            try:
                value = float(header[key])
            except (TypeError, ValueError):
                continue
            if math.isfinite(value) and 0.05 <= value <= 10.0:
                return value, key
    return None


def trained_ranges(metadata: dict) -> dict[str, list[float]]:
    """The ranges a model was trained on.

    ``metadata["trained_ranges"]`` or, for older model files, the training config's seeing range and
    the model's input pixel scale.
    """
    ranges = dict(metadata.get("trained_ranges") or {})
    if not ranges:
        config = ((metadata.get("training") or {}).get("config") or {})
        if config.get("seeing_fwhm"):
            ranges["seeing_fwhm_arcsec"] = [float(v) for v in config["seeing_fwhm"]]
        scale = metadata.get("input_pixel_scale_arcsec")
        if scale:
            ranges["input_pixel_scale_arcsec"] = [float(scale), float(scale)]
    return ranges


def out_of_range(ranges: dict, *, seeing: float | None, input_pixel_scale: float | None,
                 peak_snr: float | None = None, tolerance: float = 0.02) -> list[str]:
    """Sentences saying which of the given values lie outside `ranges` (empty when none).

    Pixel scales and seeing are compared with a relative `tolerance`; the peak S/N only above
    the trained maximum (fainter images are always in range).
    """
    problems = []
    checks = (
        ("seeing_fwhm_arcsec", seeing, "seeing FWHM", '"'),
        ("input_pixel_scale_arcsec", input_pixel_scale, "input pixel scale", '"/px'),
    )
    for key, value, label, unit in checks:
        span = ranges.get(key)
        if value is None or not span:
            continue
        low, high = float(span[0]), float(span[1])
        if value < low * (1 - tolerance) or value > high * (1 + tolerance):
            problems.append(f"{label} {value:.3g}{unit} outside the trained {low:.3g}-{high:.3g}{unit}")
    span = ranges.get("peak_snr")
    if peak_snr is not None and span and peak_snr > float(span[1]) * 2:
        problems.append(f"peak S/N {peak_snr:.3g} above the trained maximum {float(span[1]):.3g}")
    return problems
