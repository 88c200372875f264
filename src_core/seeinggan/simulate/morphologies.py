"""The morphological classes and the priors of their random draws, as data.

`seeinggan.simulate.galaxies.draw_galaxy` takes every number it draws from here: a ``(low,
high)`` pair is a uniform range (``rng.uniform(low, high)``; for counts ``rng.integers(low,
high)``, high excluded), a ``(values, weights)`` pair a weighted choice, and a plain number a
fixed value (a floor, a scatter, a ratio). Ratios named ``*_ratio`` multiply the galaxy's drawn
half-light radius ``r_e``. Changing a value here changes the simulated galaxies (and the stress
suites pinned to seeds); the names say what each one is.

The scene-level priors (seeing, pixel scales, noise, which classes and sizes a training set or a
stress suite draws) are `seeinggan.simulate.priors`.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "BRIGHTNESS_SIZE",
    "DISK_THICKNESS",
    "GALAXY_WEIGHTS",
    "MORPHOLOGIES",
    "MORPHOLOGY_PRIORS",
    "STAR_MAG_RANGE",
]

MORPHOLOGIES = (
    "elliptical",
    "bulge+disk",
    "disk",
    "spiral",
    "barred-spiral",
    "irregular",
    "merger",
    "star",
    "s0",
)
"""Morphological classes `draw_galaxy` knows (``"star"`` is a point source). ``"s0"`` (a smooth
lenticular: Sersic bulge + exponential disk, no arms, bar or clumps) is drawn only when asked for
(the stress suites and the broad training prior), never in the default mix."""

GALAXY_WEIGHTS = {
    "elliptical": 0.15,
    "bulge+disk": 0.17,
    "disk": 0.13,
    "spiral": 0.17,
    "barred-spiral": 0.13,
    "irregular": 0.13,
    "merger": 0.12,
}
"""How often each galaxy class is drawn when no morphology is asked for."""

BRIGHTNESS_SIZE: dict[str, Any] = {
    # Galaxies at z < 0.6 with M* > 1e9 Msun: I_AB ~ 18-23 (2 dex in flux); brighter ones are
    # larger (half-light radii 0.3-1.5").
    "mag_range": (18.0, 23.0),
    "r_e_range": (0.3, 1.5),
    # By default log r_e is this share brightness, the rest uniform scatter.
    "brightness_weight": 0.6,
}
"""Magnitude and half-light radius (arcsec) of a galaxy, drawn together unless ranges are asked for."""

STAR_MAG_RANGE = (17.0, 22.0)
"""AB magnitudes of stars (uniform)."""

DISK_THICKNESS = 0.12
"""Intrinsic axis ratio of a thin disk seen edge-on (random inclinations give its axis ratio)."""

_FULL_TURN = (0.0, 2.0 * math.pi)
_POSITION_ANGLE = (0.0, 180.0)

MORPHOLOGY_PRIORS: dict[str, dict[str, Any]] = {
    "elliptical": {
        "sersic_n": (3.0, 5.5),
        "axis_ratio": (0.5, 1.0),
        "position_angle": _POSITION_ANGLE,
    },
    "bulge+disk": {
        "bulge_to_total": (0.2, 0.6),
        "position_angle": _POSITION_ANGLE,
        "bulge_n": (2.0, 4.5),
        "bulge_r_e_ratio": (0.12, 0.35),
        "bulge_r_e_min": 0.08,
        "bulge_axis_ratio_min": 0.6,  # the bulge is at least this round, and rounder than the disk
        "bulge_position_angle_scatter": 5.0,  # degrees (normal) from the disk's
    },
    "s0": {
        "bulge_to_total": (0.3, 0.8),
        "min_cos_inclination": 0.2,
        "position_angle": _POSITION_ANGLE,
        "bulge_n": (2.0, 8.0),
        "bulge_r_e_ratio": (0.15, 0.45),
        "bulge_r_e_min": 0.08,
        "bulge_axis_ratio_min": 0.6,
        "bulge_position_angle_scatter": 5.0,
    },
    "disk": {
        "sersic_n": (0.7, 1.3),
        "position_angle": _POSITION_ANGLE,
    },
    "spiral": {  # and "barred-spiral", with the bar_* entries
        "min_cos_inclination": 0.4,  # arms are seen on fairly face-on disks
        "position_angle": _POSITION_ANGLE,
        "bulge_to_total": (0.03, 0.25),
        "bulge_n": (1.5, 3.5),
        "bulge_r_e_ratio": (0.1, 0.25),
        "bulge_r_e_min": 0.06,
        "bulge_axis_ratio_min": 0.7,
        "arms": ((2, 3, 4), (0.5, 0.3, 0.2)),
        "arms_barred": ((2, 3, 4), (0.8, 0.12, 0.08)),
        "pitch_angle": (10.0, 30.0),  # degrees
        "arm_amplitude": (0.55, 0.95),
        "arm_sharpness": (1.5, 4.0),
        "arm_start_ratio": (0.25, 0.5),  # unbarred: arms fade in from this radius
        "arm_phase": _FULL_TURN,
        "arm_start_bar_ratio": 0.8,  # barred: arms start near the ends of the bar
        "clump_fraction": (0.04, 0.12),
        "n_clumps": (4, 13),
        "clump_sigma": (0.03, 0.07),  # arcsec
        "clump_r_min_ratio": 0.3,
        "clump_r_max_ratio": 2.2,
        "bar_fraction": (0.08, 0.2),
        "bar_length_ratio": (0.6, 1.1),
        "bar_axis_ratio": (0.2, 0.35),
        "bar_angle": (0.0, 180.0),  # in the disk plane
        "bar_boxiness": (2.5, 3.5),
        "bar_ferrers_index": 2.0,
    },
    "irregular": {
        "axis_ratio": (0.35, 0.9),
        "position_angle": _POSITION_ANGLE,
        "sersic_n": (0.5, 1.0),
        "clump_fraction": (0.25, 0.5),
        "lobe_fraction": (0.15, 0.35),
        "lobe_offset_ratio": (0.3, 0.8),
        "lobe_angle": _FULL_TURN,
        "lobe_sersic_n": 0.8,
        "lobe_r_e_ratio": 0.6,
        "lobe_axis_ratio": (0.4, 1.0),
        "lobe_position_angle": _POSITION_ANGLE,
        "n_clumps": (6, 26),
        "clump_sigma": (0.025, 0.1),  # arcsec
    },
    "merger": {
        "flux_ratio": (1.0, 4.0),
        "separation": (0.5, 2.2),  # arcsec
        "angle": _FULL_TURN,
        "progenitors": (("disk", "bulge+disk", "elliptical"), (0.4, 0.4, 0.2)),
        "tail_fraction": (0.05, 0.2),
        "tail_fraction_elliptical": 0.03,
        "size_ratio": (0.4, 0.7),
        "size_min": 0.12,  # arcsec
        "secondary_size_exponent": -0.3,  # the secondary's size scales as flux_ratio ** this
        "tail_direction_scatter": (-1.0, 1.0),  # radians about the direction away from the other
        "tail_length": (1.0, 2.5),  # arcsec
        "tail_curvature": (0.6, 1.8),  # radians, either sense
    },
}
"""Named ranges and values of each class's random draws (see the module docstring)."""
