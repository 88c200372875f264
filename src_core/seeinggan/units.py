"""Angles at the public edges: plain floats in arcsec, or astropy Quantities, converted once.

Every public function that takes a pixel scale or a seeing FWHM accepts either a plain number,
meaning arcsec (arcsec per pixel for a pixel scale), or an `astropy.units.Quantity` of any angle
unit (``0.7 * u.arcsec``, ``1 * u.arcmin``, ``700 * u.mas``); pixel scales also take an angle per
pixel (``0.2 * u.arcsec / u.pix``). `to_arcsec` converts on entry, so everything inside works in
plain floats (arcsec). A wrong unit (``u.m``) is one line naming the argument (`InputError`).

>>> import astropy.units as u
>>> to_arcsec(1 * u.arcmin, name="seeing")
60.0
>>> to_arcsec(0.2 * u.arcsec / u.pix, name="pixel_scale", per_pixel=True)
0.2
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from seeinggan.errors import InputError

if TYPE_CHECKING:
    from astropy.units import Quantity

__all__ = ["AngleLike", "to_arcsec"]

AngleLike: TypeAlias = "float | Quantity"
"""A plain number in arcsec (arcsec/px for pixel scales) or an astropy angle Quantity."""


def to_arcsec(value: Any, *, name: str, per_pixel: bool = False, positive: bool = False) -> Any:
    """A value in arcsec (or arcsec/px) from a plain number or an astropy Quantity.

    Parameters
    ----------
    value : float, array_like, astropy.units.Quantity or None
        A plain number (or sequence) is taken to be in arcsec (arcsec/px when ``per_pixel``) and
        returned as it is; a Quantity is converted (a scalar to a ``float``, an array to a
        numpy array of floats), as is each Quantity of a list or tuple (a ``(low, high)`` range);
        None stays None.
    name : str
        The argument's name, for the error message.
    per_pixel : bool, optional
        A pixel scale: an angle per pixel (``u.arcsec / u.pix``) or a plain angle are accepted.
    positive : bool, optional
        Also require a finite number above zero (scalars only).

    Returns
    -------
    float, numpy.ndarray, the plain value as given, or None

    Raises
    ------
    InputError
        The Quantity's unit is not an angle (or an angle per pixel), or ``positive`` is asked
        and the value is not a finite positive number.
    """
    if value is None:
        return None
    if isinstance(value, (list, tuple)) and any(hasattr(v, "unit") for v in value):  # (low, high) ranges
        return type(value)(to_arcsec(v, name=name, per_pixel=per_pixel, positive=positive) for v in value)
    unit_text = "arcsec/px" if per_pixel else "arcsec"
    if hasattr(value, "unit") and hasattr(value, "to_value"):
        from astropy import units as u

        targets = (u.arcsec / u.pix, u.arcsec) if per_pixel else (u.arcsec,)
        converted = None
        for target in targets:
            try:
                converted = value.to_value(target)
                break
            except u.UnitConversionError:
                continue
        if converted is None:
            expected = (
                "an angle per pixel (e.g. 0.2 * u.arcsec / u.pix)" if per_pixel else "an angle (e.g. 0.7 * u.arcsec)"
            )
            raise InputError(f"{name} must be {expected} or a plain number of {unit_text}, got {value}")
        value = float(converted) if np.ndim(converted) == 0 else np.asarray(converted, dtype=float)
    if positive and np.ndim(value) == 0:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InputError(f"{name} must be a positive number of {unit_text}, got {value!r}") from None
        if not (math.isfinite(number) and number > 0):
            raise InputError(f"{name} must be a positive number of {unit_text}, got {value!r}")
        return number
    return value
