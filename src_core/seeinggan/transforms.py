"""The invertible intensity transform between flux units and what the network sees.

The network sees ``asinh((x - sky) / (softening * noise))``: linear (in units of the noise) near
the sky, logarithmic in bright galaxy cores, so faint outskirts and bright bulges are both
well-conditioned numbers. ``sky`` and ``noise`` are measured **once on the whole network input**
(the ground image resampled onto the model's grid), never per tile, or neighbouring tiles would
not match.

Training targets are transformed with the *input's* parameters: `seeinggan.data` fits the
transform on the (resampled) ground image of a pair and applies that same fitted transform to the
space image. The network therefore learns a map between two images expressed in one common scale,
and `IntensityTransform.inverse` of its output returns the input's flux units (counts per
output pixel), which is what `seeinggan.infer.Deblurrer` does.

This module is the one home of that arithmetic: training, inference and evaluation all use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DEFAULT_SOFTENING", "IntensityTransform", "measure_sky_noise"]

DEFAULT_SOFTENING = 3.0
"""Noise units at which asinh turns from linear to logarithmic (3 sigma)."""

_KIND = "noise_scaled_asinh"
_MAX_FIT_PIXELS = 4_000_000  # a regular subsample is plenty for two numbers; keeps big frames fast


def measure_sky_noise(
    data: np.ndarray, *, sigma: float = 3.0, maxiters: int = 10
) -> tuple[float, float]:
    """Measure the sky level and the per-pixel noise of an image, robustly.

    The sky is the sigma-clipped median and the noise the MAD-based standard deviation
    (``1.4826 * MAD``) of the clipped pixels: `astropy.stats.sigma_clipped_stats` with
    ``cenfunc="median"`` and ``stdfunc="mad_std"``.
    Non-finite pixels (NaN, inf) are ignored. Measure them on a whole frame: on a cutout filled
    by a galaxy they measure galaxy light (`seeinggan.infer.Deblurrer` takes ``sky=``/``noise=``).
    Images larger than 4 million pixels are measured on a regular subsample.

    Parameters
    ----------
    data : ndarray
        Image of any shape.
    sigma : float, optional
        Clipping threshold in units of the current noise estimate.
    maxiters : int, optional
        Maximum number of clipping iterations.

    Returns
    -------
    sky, noise : float
        ``noise`` is always positive: for an image without scatter (a constant or noiseless
        simulation) it falls back to the plain standard deviation, then to
        ``1e-6 * max(|x|)``, then to 1.

    Raises
    ------
    ValueError
        If the image has no finite pixel.
    """
    from astropy.stats import sigma_clipped_stats

    values = np.asarray(data)
    if values.size > _MAX_FIT_PIXELS:
        step = math.ceil(values.size / _MAX_FIT_PIXELS)
        values = values.reshape(-1)[::step]
    values = values[np.isfinite(values)].astype(np.float64, copy=False).reshape(-1)
    if values.size == 0:
        raise ValueError("cannot measure sky and noise: the image has no finite pixel")
    _, median, std = sigma_clipped_stats(values, sigma=sigma, maxiters=maxiters, cenfunc="median",
                                         stdfunc="mad_std")
    sky, noise = float(median), float(std)
    if not noise > 0:
        noise = float(np.std(values))
    if not noise > 0:
        noise = 1e-6 * float(np.max(np.abs(values)))
    if not noise > 0:
        noise = 1.0
    return sky, noise


class _FitDescriptor:
    """Let ``fit`` be called on the class (default softening) or on an instance (its softening)."""

    def __get__(self, instance, owner):
        def fit(data: np.ndarray, *, softening: float | None = None) -> IntensityTransform:
            if softening is None:
                softening = instance.softening if instance is not None else DEFAULT_SOFTENING
            sky, noise = measure_sky_noise(data)
            return owner(sky=sky, noise=noise, softening=softening)

        fit.__doc__ = _FIT_DOC
        return fit


_FIT_DOC = """Measure ``sky`` and ``noise`` on ``data`` and return the fitted transform.

Call it on the class (``IntensityTransform.fit(data)``, default softening) or on a template
read from model metadata (``IntensityTransform.from_dict(meta).fit(data)``, the template's
softening). ``softening=`` overrides either. Non-finite pixels are ignored.
"""


@dataclass(frozen=True)
class IntensityTransform:
    """Noise-scaled asinh: ``y = asinh((x - sky) / (softening * noise))``.

    Parameters
    ----------
    sky : float
        Background level subtracted first, in the input's flux units.
    noise : float
        Per-pixel noise (standard deviation) of the input, in its flux units; must be positive.
    softening : float
        How many noise units are mapped linearly before asinh turns logarithmic.

    Notes
    -----
    Fit it once on the whole network input with `IntensityTransform.fit`, apply `forward` to
    the input *and* (in training) to the target, and `inverse` to the network output. Both
    directions accept numpy arrays (computed in float64, returned in the input's floating
    dtype) and torch tensors (computed in their own dtype and device). NaNs pass through.
    """

    sky: float = 0.0
    noise: float = 1.0
    softening: float = DEFAULT_SOFTENING

    fit = _FitDescriptor()

    def __post_init__(self) -> None:
        for name in ("sky", "noise", "softening"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"IntensityTransform: {name} must be finite, got {value!r}")
        if self.noise <= 0 or self.softening <= 0:
            raise ValueError(
                "IntensityTransform: noise and softening must be positive, "
                f"got noise={self.noise!r}, softening={self.softening!r}"
            )

    @property
    def scale(self) -> float:
        """``softening * noise``: the flux offset that maps to 1 before asinh."""
        return self.softening * self.noise

    def forward(self, x):
        """Flux units -> network units."""
        if _is_tensor(x):
            return ((x - self.sky) / self.scale).asinh()
        array = np.asarray(x)
        result = np.arcsinh((array.astype(np.float64, copy=False) - self.sky) / self.scale)
        return result.astype(_float_dtype(array), copy=False)

    def inverse(self, y):
        """Network units -> flux units (the exact inverse of `forward`)."""
        if _is_tensor(y):
            return y.sinh() * self.scale + self.sky
        array = np.asarray(y)
        result = np.sinh(array.astype(np.float64, copy=False)) * self.scale + self.sky
        return result.astype(_float_dtype(array), copy=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (``kind``, ``sky``, ``noise``, ``softening``)."""
        return {
            "kind": _KIND,
            "sky": float(self.sky),
            "noise": float(self.noise),
            "softening": float(self.softening),
        }

    @classmethod
    def from_dict(cls, params: dict[str, Any] | None) -> IntensityTransform:
        """Build from `to_dict` output or from model metadata.

        Model metadata may hold only ``{"kind": ..., "softening": ...}`` (a template, not yet
        fitted); missing ``sky``/``noise`` take the neutral 0 and 1. ``None`` gives the default
        template.
        """
        params = dict(params or {})
        kind = params.pop("kind", _KIND)
        if kind != _KIND:
            raise ValueError(f"unknown intensity transform kind {kind!r}; expected {_KIND!r}")
        unknown = set(params) - {"sky", "noise", "softening"}
        if unknown:
            raise ValueError(f"unknown intensity transform parameter(s): {sorted(unknown)}")
        return cls(
            sky=float(params.get("sky", 0.0)),
            noise=float(params.get("noise", 1.0)),
            softening=float(params.get("softening", DEFAULT_SOFTENING)),
        )


def _is_tensor(x) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "asinh")


def _float_dtype(array: np.ndarray) -> np.dtype:
    # Native byte order: FITS arrays arrive big-endian, and torch refuses those.
    return np.dtype(array.dtype.type) if np.issubdtype(array.dtype, np.floating) else np.dtype(np.float64)
