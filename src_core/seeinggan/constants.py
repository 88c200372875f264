"""The survey numbers every module shares: one home, so a change of default happens once.

Pixel scales are plain floats in arcsec per pixel (the unit every public function documents;
`seeinggan.units.to_arcsec` converts astropy Quantities at the public edges).
"""

from __future__ import annotations

__all__ = ["GROUND_PIXEL_SCALE", "SPACE_PIXEL_SCALE"]

SPACE_PIXEL_SCALE = 0.03
"""HST ACS/WFC drizzled pixel scale of COSMOS (arcsec/px): a model's default output grid (paper 2.8)."""

GROUND_PIXEL_SCALE = 0.202
"""Subaru Suprime-Cam pixel scale (arcsec/px): a model's default input grid (paper 2.8)."""
