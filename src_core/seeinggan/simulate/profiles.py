"""Light profiles and the components of a galaxy, each normalised to its total flux.

A galaxy is a sum of components, all normalised to their total flux analytically or by a 1-D
radial integral, so flux is known before any pixel is drawn:

- `Profile`: an elliptical (or boxy) radial profile seen through a linear map from sky offsets
  to the profile's own coordinates (inclination, position angle, bar angle), with an optional
  modulation of zero mean around every circle of the disk plane (spiral arms), which therefore
  leaves the flux unchanged. Sersic bulges and disks (`sersic_profile`), Ferrers bars
  (`ferrers_profile`).
- `GaussianBlob`: star-forming clumps and the knots that make tidal tails; integrated exactly
  over pixels with the error function (`seeinggan.simulate.canvas.Canvas`).
- `PointSource`: stars (added by the observer in Fourier space at their exact sub-pixel place).
- `Galaxy`: the components of one object and the parameters that made it.

Coordinates are arcsec offsets from the centre of the grid: ``x`` along columns, ``y`` along
rows. Angles (``position_angle`` and the like) are in degrees, counter-clockwise from +x to +y.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special

__all__ = [
    "EXACT_CORE_MIN_N",
    "Galaxy",
    "GaussianBlob",
    "PointSource",
    "Profile",
    "ferrers_profile",
    "sersic_b",
    "sersic_profile",
    "sersic_r_max",
    "sky_to_disk",
]

EXACT_CORE_MIN_N = 5.5
"""Sersic components steeper than this get an exact core (see `seeinggan.simulate.canvas`); the
standard mix (n <= 5.5) keeps plain supersampling, so its images are unchanged."""


# ---------------------------------------------------------------------------------------------
# radial profiles
# ---------------------------------------------------------------------------------------------


def sersic_b(n: float) -> float:
    """The Sersic ``b_n`` for which ``r_e`` encloses half the light (exact, via gammaincinv)."""
    return float(special.gammaincinv(2.0 * n, 0.5))


def _taper(r: np.ndarray, r_max: float) -> np.ndarray:
    # Smooth cosine roll-off over the last 20% of r_max: no visible edge where a profile ends.
    t = np.clip((r - 0.8 * r_max) / (0.2 * r_max), 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * t))


def sersic_profile(n: float, r_e: float) -> Callable[[np.ndarray], np.ndarray]:
    """``f(r) = exp(-b_n (r / r_e)^(1/n))`` (unnormalised), tapered to zero at `sersic_r_max`."""
    b = sersic_b(n)
    r_max = sersic_r_max(n, r_e)

    def profile(r: np.ndarray) -> np.ndarray:
        return np.exp(-b * (r / r_e) ** (1.0 / n)) * _taper(r, r_max)

    return profile


def sersic_r_max(n: float, r_e: float) -> float:
    """Where a Sersic component ends (a galaxy is finite): ``(4 + n) r_e``."""
    return (4.0 + n) * r_e


def ferrers_profile(length: float, index: float = 2.0) -> Callable[[np.ndarray], np.ndarray]:
    """A bar's Ferrers profile ``(1 - (r / length)^2)^index`` inside ``length``, 0 outside."""

    def profile(r: np.ndarray) -> np.ndarray:
        return np.clip(1.0 - (r / length) ** 2, 0.0, None) ** index

    return profile


def _core_weight(r: np.ndarray, radius: float) -> np.ndarray:
    """1 inside ``radius / 2``, a cosine roll-off to 0 at ``radius`` (the exact core's share)."""
    t = np.clip((r - 0.5 * radius) / (0.5 * radius), 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * t))


def _superellipse_area(c: float) -> float:
    """Area of ``|u|^c + |v|^c <= 1`` (pi for an ellipse, c = 2)."""
    return float(4.0 * special.gamma(1.0 + 1.0 / c) ** 2 / special.gamma(1.0 + 2.0 / c))


def _rotation(angle_deg: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    return np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])


def sky_to_disk(position_angle: float, axis_ratio: float) -> np.ndarray:
    """Linear map from sky offsets to the coordinates of an inclined disk's own plane."""
    return np.diag([1.0, 1.0 / axis_ratio]) @ _rotation(position_angle)


# ---------------------------------------------------------------------------------------------
# components
# ---------------------------------------------------------------------------------------------


@dataclass
class Profile:
    """A smooth light component: ``flux * f(r) * modulation`` in its own coordinates.

    Attributes
    ----------
    name : str
        What it is ("bulge", "disk", "bar"...).
    flux : float
        Total counts.
    x, y : float
        Centre, arcsec offsets from the grid centre.
    matrix : numpy.ndarray
        2x2 map from sky offsets (arcsec) to the profile's coordinates ``(u, v)``.
    radial : callable
        ``f(r)``, unnormalised, zero beyond ``r_max``.
    r_max : float
        Radius (profile coordinates, arcsec) beyond which ``f`` is zero.
    boxiness : float
        ``r = (|u|^c + |v|^c)^(1/c)``; 2 for ellipses, more for boxy bars.
    modulation : callable, optional
        ``m(u, v, r)`` with mean 1 around every circle ``r = const`` (spiral arms).
    cusp : bool
        Supersample the centre (Sersic profiles).
    exact_core : bool
        Integrate the light within 2.5 pixels of the centre exactly (steep Sersic cusps;
        ellipses without modulation only; see `seeinggan.simulate.canvas`).
    params : dict
        The parameters, for the catalogue.
    """

    name: str
    flux: float
    x: float
    y: float
    matrix: np.ndarray
    radial: Callable[[np.ndarray], np.ndarray]
    r_max: float
    boxiness: float = 2.0
    modulation: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None
    cusp: bool = True
    params: dict[str, Any] = field(default_factory=dict)
    exact_core: bool = False

    def __post_init__(self) -> None:
        # Normalise: flux = norm * area(c) / |det M| * integral_0^rmax 2 r f(r) dr.
        r = np.concatenate([[0.0], np.geomspace(self.r_max * 1e-7, self.r_max, 4000)])
        radial_integral = np.trapezoid(2.0 * r * self.radial(r), r)
        self.core_radius = 0.0  # set by Canvas.add_profile for an exact core (profile units)
        if self.exact_core:
            if self.boxiness != 2.0 or self.modulation is not None:
                raise ValueError("an exact core needs an elliptical profile without modulation")
            self._enclosed_r = r  # radii of the enclosed-light integral of the exact core
        det = abs(float(np.linalg.det(self.matrix)))
        unit_flux = _superellipse_area(self.boxiness) / det * radial_integral
        self._norm = self.flux / unit_flux
        # Sky bounding box of the component: the image of the r_max "circle" under M^-1.
        inverse = np.linalg.inv(self.matrix)
        # A superellipse lies inside the circle of radius r_max * 2^(1/2 - 1/c) (>= r_max).
        reach = self.r_max * max(1.0, 2.0 ** (0.5 - 1.0 / self.boxiness))
        self.half_extent = reach * np.sqrt((inverse**2).sum(axis=1))  # (x, y)

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Surface brightness (counts per arcsec^2) at sky offsets ``x``, ``y`` (broadcast)."""
        dx = x - self.x
        dy = y - self.y
        (m00, m01), (m10, m11) = self.matrix
        u = m00 * dx + m01 * dy
        v = m10 * dx + m11 * dy
        if self.boxiness == 2.0:
            r = np.hypot(u, v)
        else:
            c = self.boxiness
            r = (np.abs(u) ** c + np.abs(v) ** c) ** (1.0 / c)
        values = self.radial(r)
        if self.modulation is not None:
            values = values * self.modulation(u, v, r)
        if self.core_radius > 0.0:
            values = values * (1.0 - _core_weight(r, self.core_radius))
        return self._norm * values

    def core_enclosed_flux(self, radius: np.ndarray, core_radius: float) -> np.ndarray:
        """Counts of the core part ``f w`` within profile radius ``radius`` (see `_add_core`)."""
        r = self._enclosed_r
        integrand = 2.0 * r * self.radial(r) * _core_weight(r, core_radius)
        steps = 0.5 * (integrand[1:] + integrand[:-1]) * np.diff(r)
        inner = np.interp(radius, r, np.concatenate([[0.0], np.cumsum(steps)]))
        det = abs(float(np.linalg.det(self.matrix)))
        return self._norm * _superellipse_area(self.boxiness) / det * inner


@dataclass
class GaussianBlob:
    """A circular Gaussian of total ``flux`` and width ``sigma`` (arcsec) at ``(x, y)``."""

    flux: float
    x: float
    y: float
    sigma: float


@dataclass
class PointSource:
    """A star: ``flux`` counts at ``(x, y)`` (arcsec offsets)."""

    flux: float
    x: float
    y: float


@dataclass
class Galaxy:
    """The components of one object and the parameters that made it."""

    morphology: str
    profiles: list[Profile] = field(default_factory=list)
    blobs: list[GaussianBlob] = field(default_factory=list)
    points: list[PointSource] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def flux(self) -> float:
        """Total counts of all components."""
        return float(
            sum(p.flux for p in self.profiles)
            + sum(b.flux for b in self.blobs)
            + sum(s.flux for s in self.points)
        )

    def extend(self, other: Galaxy) -> None:
        """Add the profiles, blobs and points of ``other`` to this galaxy."""
        self.profiles += other.profiles
        self.blobs += other.blobs
        self.points += other.points


