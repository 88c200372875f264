"""Galaxy morphologies: light profiles, their random parameters, and rendering onto a pixel grid.

A galaxy is a sum of components, all normalised to their total flux analytically or by a 1-D
radial integral, so flux is known before any pixel is drawn:

- `Profile`: an elliptical (or boxy) radial profile seen through a linear map from sky offsets
  to the profile's own coordinates (inclination, position angle, bar angle), with an optional
  modulation of zero mean around every circle of the disk plane (spiral arms), which therefore
  leaves the flux unchanged. Sersic bulges and disks, Ferrers bars.
- `GaussianBlob`: star-forming clumps and the knots that make tidal tails; integrated exactly
  over pixels with the error function.
- `PointSource`: stars (added by the observer in Fourier space at their exact sub-pixel place).

Cuspy profiles (Sersic n ~ 4) are integrated over pixels by nested supersampling around their
centres (5x over 13x13 pixels, 15x over 3x3, 75x on the central pixel), so total flux is right
for bulges of a few pixels. Steeper cusps (Sersic n > `EXACT_CORE_MIN_N` = 5.5, which
supersampling gets badly wrong: +40% total flux for n = 8, r_e = 0.3") take their light inside
2.5 pixels of the centre exactly from the radial profile's enclosed-light integral, deposited on
the pixels shell by shell (`Profile.core_radius`); the grid integrates only the light outside.

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
    "MAG_ZEROPOINT",
    "MORPHOLOGIES",
    "Canvas",
    "Galaxy",
    "GaussianBlob",
    "PointSource",
    "Profile",
    "draw_galaxy",
    "draw_star",
    "ferrers_profile",
    "sersic_b",
    "sersic_profile",
]

MAG_ZEROPOINT = 30.0
"""AB magnitude of a source of 1 count in total, in both the ground and the space images."""

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

# Nested supersampling around cusps: (half-width in pixels, subsamples per pixel axis).
_CUSP_LEVELS = ((6, 5), (1, 15), (0, 75))

EXACT_CORE_MIN_N = 5.5
"""Sersic components steeper than this get an exact core (see the module docstring); the
standard mix (n <= 5.5) keeps plain supersampling, so its images are unchanged."""

# The exact core: radius in pixels (along the profile's widest sky axis), radial shells, angles.
_CORE_PIXELS = 2.5
_CORE_SHELLS = 240
_CORE_ANGLES = 256


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
        Integrate the light within `_CORE_PIXELS` of the centre exactly (steep Sersic cusps;
        ellipses without modulation only).
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


# ---------------------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------------------


class Canvas:
    """A grid of pixels integrating surface brightness: values are counts per pixel.

    Parameters
    ----------
    shape : tuple of int
        ``(rows, cols)``.
    pixel_scale : float
        Arcsec per pixel. Pixel ``(i, j)`` is centred on the offset
        ``((j - (cols - 1) / 2) * scale, (i - (rows - 1) / 2) * scale)``.
    """

    def __init__(self, shape: tuple[int, int], pixel_scale: float):
        self.shape = (int(shape[0]), int(shape[1]))
        self.pixel_scale = float(pixel_scale)
        self.image = np.zeros(self.shape)
        self.cy = (self.shape[0] - 1) / 2.0
        self.cx = (self.shape[1] - 1) / 2.0

    def _window(self, x: float, y: float, half_x: float, half_y: float):
        s = self.pixel_scale
        col, row = x / s + self.cx, y / s + self.cy
        c0 = max(0, int(np.floor(col - half_x / s)) - 1)
        c1 = min(self.shape[1], int(np.ceil(col + half_x / s)) + 2)
        r0 = max(0, int(np.floor(row - half_y / s)) - 1)
        r1 = min(self.shape[0], int(np.ceil(row + half_y / s)) + 2)
        if c0 >= c1 or r0 >= r1:
            return None
        return r0, r1, c0, c1

    def add_profile(self, profile: Profile) -> None:
        """Integrate a `Profile` over the pixels it touches and add it."""
        window = self._window(profile.x, profile.y, *profile.half_extent)
        if window is None:
            return
        r0, r1, c0, c1 = window
        s = self.pixel_scale
        xs = (np.arange(c0, c1) - self.cx) * s
        ys = (np.arange(r0, r1) - self.cy) * s
        core = profile.exact_core
        if core:
            # Sky extent of one profile unit along the widest axis: the largest singular value.
            widest = float(np.linalg.svd(np.linalg.inv(profile.matrix), compute_uv=False)[0])
            profile.core_radius = _CORE_PIXELS * s / widest
        try:
            values = profile.evaluate(xs[None, :], ys[:, None])
            if profile.cusp:
                col = int(round(profile.x / s + self.cx))
                row = int(round(profile.y / s + self.cy))
                for half, factor in _CUSP_LEVELS:
                    self._supersample(values, profile, (r0, r1, c0, c1), row, col, half, factor)
        finally:
            radius, profile.core_radius = profile.core_radius, 0.0
        self.image[r0:r1, c0:c1] += values * s * s
        if core:
            self._add_core(profile, radius)

    def _add_core(self, profile: Profile, radius: float) -> None:
        """Deposit the core part of a cusp, ``f w`` (`_core_weight`), shell by shell.

        The profile is split smoothly, ``f = f w + f (1 - w)``: the grid integrates the outer
        part (smooth, no cusp), and the core part's light between two radii (the 1-D enclosed
        light integral, exact) goes to the pixels under 256 points around each thin elliptical
        shell.
        """
        edges = np.concatenate([[0.0], np.geomspace(radius * 1e-6, radius, _CORE_SHELLS)])
        enclosed = profile.core_enclosed_flux(edges, radius)
        shell_flux = np.diff(enclosed)
        mid = np.concatenate([[0.5 * edges[1]], np.sqrt(edges[1:-1] * edges[2:])])
        angles = (np.arange(_CORE_ANGLES) + 0.5) * (2.0 * np.pi / _CORE_ANGLES)
        u = mid[:, None] * np.cos(angles)[None, :]
        v = mid[:, None] * np.sin(angles)[None, :]
        inverse = np.linalg.inv(profile.matrix)
        x = profile.x + inverse[0, 0] * u + inverse[0, 1] * v
        y = profile.y + inverse[1, 0] * u + inverse[1, 1] * v
        cols = np.rint(x / self.pixel_scale + self.cx).astype(int)
        rows = np.rint(y / self.pixel_scale + self.cy).astype(int)
        weights = np.broadcast_to((shell_flux / _CORE_ANGLES)[:, None], u.shape)
        inside = (rows >= 0) & (rows < self.shape[0]) & (cols >= 0) & (cols < self.shape[1])
        np.add.at(self.image, (rows[inside], cols[inside]), weights[inside])

    def _supersample(self, values, profile, window, row, col, half, factor) -> None:
        r0, r1, c0, c1 = window
        br0, br1 = max(r0, row - half), min(r1, row + half + 1)
        bc0, bc1 = max(c0, col - half), min(c1, col + half + 1)
        if br0 >= br1 or bc0 >= bc1:
            return
        s = self.pixel_scale
        sub = ((np.arange(factor) + 0.5) / factor - 0.5) * s
        xs = ((np.arange(bc0, bc1) - self.cx) * s)[:, None] + sub[None, :]
        ys = ((np.arange(br0, br1) - self.cy) * s)[:, None] + sub[None, :]
        fine = profile.evaluate(xs.reshape(1, -1), ys.reshape(-1, 1))
        block = fine.reshape(br1 - br0, factor, bc1 - bc0, factor).mean(axis=(1, 3))
        values[br0 - r0 : br1 - r0, bc0 - c0 : bc1 - c0] = block

    def add_blob(self, blob: GaussianBlob) -> None:
        """Add a Gaussian, integrated exactly over pixels (error functions, separable)."""
        half = 5.0 * blob.sigma
        window = self._window(blob.x, blob.y, half, half)
        if window is None:
            return
        r0, r1, c0, c1 = window
        s = self.pixel_scale
        scale = np.sqrt(2.0) * blob.sigma

        def edges_integral(lo, hi, centre):
            e = (np.arange(lo, hi + 1) - 0.5) * s - centre
            return np.diff(special.erf(e / scale)) * 0.5

        wx = edges_integral(c0 - self.cx, c1 - self.cx, blob.x)
        wy = edges_integral(r0 - self.cy, r1 - self.cy, blob.y)
        self.image[r0:r1, c0:c1] += blob.flux * wy[:, None] * wx[None, :]

    def add_galaxy(self, galaxy: Galaxy) -> None:
        """Add a galaxy's smooth components and blobs (point sources are left to the caller)."""
        for profile in galaxy.profiles:
            self.add_profile(profile)
        for blob in galaxy.blobs:
            self.add_blob(blob)


# ---------------------------------------------------------------------------------------------
# random galaxies
# ---------------------------------------------------------------------------------------------


def _mag_to_flux(mag: float) -> float:
    return float(10.0 ** (-0.4 * (mag - MAG_ZEROPOINT)))


def _draw_brightness_and_size(rng: np.random.Generator, *, size_scale: float = 1.0,
                              mag_range: tuple[float, float] | None = None,
                              r_e_range: tuple[float, float] | None = None):
    # Galaxies at z < 0.6 with M* > 1e9 Msun: I_AB ~ 18-23 (2 dex in flux); brighter ones are
    # larger (half-light radii 0.3-1.5").
    if mag_range is None and r_e_range is None:
        mag = float(rng.uniform(18.0, 23.0))
        brightness = (23.0 - mag) / 5.0
        t = np.clip(0.6 * brightness + 0.4 * rng.uniform(), 0.0, 1.0)
        r_e = float(0.3 * 5.0**t) * size_scale
        return mag, r_e
    # Asked-for ranges: magnitude uniform, half-light radius log-uniform (independent).
    lo, hi = mag_range if mag_range is not None else (18.0, 23.0)
    mag = float(rng.uniform(lo, hi))
    r_lo, r_hi = r_e_range if r_e_range is not None else (0.3, 1.5)
    r_e = float(np.exp(rng.uniform(np.log(r_lo), np.log(r_hi)))) * size_scale
    return mag, r_e


def _disk_axis_ratio(rng: np.random.Generator, *, min_cos_i: float = 0.0) -> float:
    # Random inclination of a thin disk (intrinsic thickness 0.12).
    cos_i = rng.uniform(min_cos_i, 1.0)
    return float(np.sqrt(0.12**2 + (1.0 - 0.12**2) * cos_i**2))


def _sersic(name, flux, x, y, n, r_e, q, pa, **extra) -> Profile:
    return Profile(
        exact_core=n > EXACT_CORE_MIN_N,
        name=name,
        flux=flux,
        x=x,
        y=y,
        matrix=sky_to_disk(pa, q),
        radial=sersic_profile(n, r_e),
        r_max=sersic_r_max(n, r_e),
        params={"component": name, "flux": flux, "n": n, "r_e": r_e, "axis_ratio": q,
                "position_angle": pa, **extra},
    )


def _arm_modulation(*, arms: int, pitch_deg: float, amplitude: float, sharpness: float,
                    r_start: float, r_ref: float, phase: float):
    """Logarithmic spiral arms: mean 1 around every circle of the disk plane (flux kept)."""
    cot_pitch = 1.0 / np.tan(np.deg2rad(pitch_deg))
    # Mean of ((1 + cos psi) / 2)^k over psi: Gamma(k + 1/2) / (sqrt(pi) Gamma(k + 1)).
    mean_g = special.gamma(sharpness + 0.5) / (np.sqrt(np.pi) * special.gamma(sharpness + 1.0))

    def modulation(u, v, r):
        rr = np.maximum(r, 1e-6 * r_ref)
        psi = arms * (np.arctan2(v, u) - cot_pitch * np.log(rr / r_ref)) - phase
        g = (0.5 * (1.0 + np.cos(psi))) ** sharpness
        strength = amplitude * (1.0 - np.exp(-((rr / r_start) ** 2)))  # arms fade at the centre
        return 1.0 + strength * (g / mean_g - 1.0)

    return modulation


def _arm_points(rng, *, count, arms, pitch_deg, r_ref, phase, r_lo, r_hi, disk_matrix, x, y):
    """Sky positions of ``count`` points on the crests of the arms (for star-forming clumps)."""
    cot_pitch = 1.0 / np.tan(np.deg2rad(pitch_deg))
    k = rng.integers(0, arms, size=count)
    r = rng.uniform(r_lo, r_hi, size=count)
    phi = (phase + 2.0 * np.pi * k) / arms + cot_pitch * np.log(r / r_ref)
    phi = phi + rng.normal(0.0, 0.08, size=count)
    uv = np.stack([r * np.cos(phi), r * np.sin(phi)])
    sky = np.linalg.inv(disk_matrix) @ uv
    return x + sky[0], y + sky[1]


def _clumps(rng, flux_total, xs, ys, *, sigma_range) -> list[GaussianBlob]:
    weights = rng.lognormal(0.0, 0.7, size=len(xs))
    weights = weights / weights.sum()
    return [
        GaussianBlob(flux=float(flux_total * w), x=float(cx), y=float(cy),
                     sigma=float(rng.uniform(*sigma_range)))
        for w, cx, cy in zip(weights, xs, ys, strict=True)
    ]


def _elliptical(rng, flux, r_e, x, y, *, n_range=(3.0, 5.5)) -> Galaxy:
    n = float(rng.uniform(*n_range))
    q = float(rng.uniform(0.5, 1.0))
    pa = float(rng.uniform(0, 180))
    galaxy = Galaxy("elliptical", profiles=[_sersic("spheroid", flux, x, y, n, r_e, q, pa)])
    galaxy.params.update(sersic_n=n, axis_ratio=q, position_angle=pa)
    return galaxy


def _bulge_disk(rng, flux, r_e, x, y, *, min_cos_i=0.0) -> Galaxy:
    bt = float(rng.uniform(0.2, 0.6))
    q = _disk_axis_ratio(rng, min_cos_i=min_cos_i)
    pa = float(rng.uniform(0, 180))
    n_b = float(rng.uniform(2.0, 4.5))
    r_b = max(0.08, r_e * float(rng.uniform(0.12, 0.35)))
    q_b = float(rng.uniform(max(q, 0.6), 1.0))
    pa_b = pa + float(rng.normal(0.0, 5.0))
    galaxy = Galaxy(
        "bulge+disk",
        profiles=[
            _sersic("disk", (1 - bt) * flux, x, y, 1.0, r_e, q, pa),
            _sersic("bulge", bt * flux, x, y, n_b, r_b, q_b, pa_b),
        ],
    )
    galaxy.params.update(bulge_to_total=bt, bulge_n=n_b, bulge_r_e=r_b, axis_ratio=q,
                         position_angle=pa)
    return galaxy


def _s0(rng, flux, r_e, x, y, *, n_range=(2.0, 8.0)) -> Galaxy:
    """A lenticular: a Sersic bulge (index in ``n_range``) on an exponential disk, nothing else."""
    bt = float(rng.uniform(0.3, 0.8))
    q = _disk_axis_ratio(rng, min_cos_i=0.2)
    pa = float(rng.uniform(0, 180))
    n_b = float(rng.uniform(*n_range))
    r_b = max(0.08, r_e * float(rng.uniform(0.15, 0.45)))
    q_b = float(rng.uniform(max(q, 0.6), 1.0))
    pa_b = pa + float(rng.normal(0.0, 5.0))
    galaxy = Galaxy(
        "s0",
        profiles=[
            _sersic("disk", (1 - bt) * flux, x, y, 1.0, r_e, q, pa),
            _sersic("bulge", bt * flux, x, y, n_b, r_b, q_b, pa_b),
        ],
    )
    galaxy.params.update(bulge_to_total=bt, bulge_n=n_b, sersic_n=n_b, bulge_r_e=r_b,
                         axis_ratio=q, position_angle=pa)
    return galaxy


def _disk(rng, flux, r_e, x, y) -> Galaxy:
    n = float(rng.uniform(0.7, 1.3))
    q = _disk_axis_ratio(rng)
    pa = float(rng.uniform(0, 180))
    galaxy = Galaxy("disk", profiles=[_sersic("disk", flux, x, y, n, r_e, q, pa)])
    galaxy.params.update(sersic_n=n, axis_ratio=q, position_angle=pa)
    return galaxy


def _spiral(rng, flux, r_e, x, y, *, barred: bool) -> Galaxy:
    q = _disk_axis_ratio(rng, min_cos_i=0.4)  # arms are seen on fairly face-on disks
    pa = float(rng.uniform(0, 180))
    disk_matrix = sky_to_disk(pa, q)
    bt = float(rng.uniform(0.03, 0.25))
    n_b = float(rng.uniform(1.5, 3.5))
    r_b = max(0.06, r_e * float(rng.uniform(0.1, 0.25)))
    if barred:
        arms = int(rng.choice([2, 3, 4], p=[0.8, 0.12, 0.08]))
    else:
        arms = int(rng.choice([2, 3, 4], p=[0.5, 0.3, 0.2]))
    pitch = float(rng.uniform(10.0, 30.0))
    amplitude = float(rng.uniform(0.55, 0.95))
    sharpness = float(rng.uniform(1.5, 4.0))
    clump_fraction = float(rng.uniform(0.04, 0.12))
    bar_fraction = float(rng.uniform(0.08, 0.2)) if barred else 0.0
    disk_flux = flux * (1.0 - bt - clump_fraction - bar_fraction)
    params: dict[str, Any] = dict(arms=arms, pitch_angle=pitch, arm_amplitude=amplitude,
                                  bulge_to_total=bt, bulge_n=n_b, bulge_r_e=r_b, axis_ratio=q,
                                  position_angle=pa)
    galaxy = Galaxy("barred-spiral" if barred else "spiral")
    if barred:
        bar_length = r_e * float(rng.uniform(0.6, 1.1))
        bar_q = float(rng.uniform(0.2, 0.35))
        bar_angle = float(rng.uniform(0, 180))  # in the disk plane
        boxiness = float(rng.uniform(2.5, 3.5))
        bar = Profile(
            name="bar",
            flux=bar_fraction * flux,
            x=x,
            y=y,
            matrix=np.diag([1.0, 1.0 / bar_q]) @ _rotation(bar_angle) @ disk_matrix,
            radial=ferrers_profile(bar_length, 2.0),
            r_max=bar_length,
            boxiness=boxiness,
            cusp=False,
            params={"component": "bar", "flux": bar_fraction * flux, "length": bar_length,
                    "axis_ratio_in_disk": bar_q, "angle_in_disk": bar_angle},
        )
        galaxy.profiles.append(bar)
        # The arms start at the ends of the bar.
        r_ref = bar_length
        phase = arms * np.deg2rad(bar_angle)
        r_start = 0.8 * bar_length
        params.update(bar_to_total=bar_fraction, bar_length=bar_length, bar_axis_ratio=bar_q,
                      bar_angle=bar_angle)
    else:
        r_ref = r_e
        phase = float(rng.uniform(0, 2 * np.pi))
        r_start = r_e * float(rng.uniform(0.25, 0.5))
    modulation = _arm_modulation(arms=arms, pitch_deg=pitch, amplitude=amplitude,
                                 sharpness=sharpness, r_start=r_start, r_ref=r_ref, phase=phase)
    disk = _sersic("disk", disk_flux, x, y, 1.0, r_e, q, pa, arms=arms, pitch_angle=pitch)
    disk.modulation = modulation
    galaxy.profiles.insert(0, disk)
    galaxy.profiles.append(_sersic("bulge", bt * flux, x, y, n_b, r_b,
                                   float(rng.uniform(max(q, 0.7), 1.0)), pa))
    count = int(rng.integers(4, 13))
    cx, cy = _arm_points(rng, count=count, arms=arms, pitch_deg=pitch, r_ref=r_ref, phase=phase,
                         r_lo=max(r_start, 0.3 * r_e), r_hi=2.2 * r_e, disk_matrix=disk_matrix,
                         x=x, y=y)
    galaxy.blobs += _clumps(rng, clump_fraction * flux, cx, cy, sigma_range=(0.03, 0.07))
    params.update(clump_fraction=clump_fraction, n_clumps=count)
    galaxy.params.update(params)
    return galaxy


def _irregular(rng, flux, r_e, x, y) -> Galaxy:
    q = float(rng.uniform(0.35, 0.9))
    pa = float(rng.uniform(0, 180))
    n = float(rng.uniform(0.5, 1.0))
    clump_fraction = float(rng.uniform(0.25, 0.5))
    second_fraction = float(rng.uniform(0.15, 0.35))
    main_flux = flux * (1.0 - clump_fraction - second_fraction)
    offset = r_e * float(rng.uniform(0.3, 0.8))
    angle = float(rng.uniform(0, 2 * np.pi))
    x2, y2 = x + offset * np.cos(angle), y + offset * np.sin(angle)
    galaxy = Galaxy(
        "irregular",
        profiles=[
            _sersic("disk", main_flux, x, y, n, r_e, q, pa),
            _sersic("lobe", second_fraction * flux, x2, y2, 0.8, 0.6 * r_e,
                    float(rng.uniform(0.4, 1.0)), float(rng.uniform(0, 180))),
        ],
    )
    count = int(rng.integers(6, 26))
    # Clumps spread like an exponential disk in the galaxy's plane.
    radius = rng.gamma(2.0, r_e / 1.678, size=count)
    phi = rng.uniform(0, 2 * np.pi, size=count)
    sky = np.linalg.inv(sky_to_disk(pa, q)) @ np.stack([radius * np.cos(phi), radius * np.sin(phi)])
    galaxy.blobs += _clumps(rng, clump_fraction * flux, x + sky[0], y + sky[1],
                            sigma_range=(0.025, 0.1))
    galaxy.params.update(sersic_n=n, axis_ratio=q, position_angle=pa,
                         clump_fraction=clump_fraction, n_clumps=count)
    return galaxy


def _tidal_tail(rng, flux, x, y, *, direction, length, curvature) -> list[GaussianBlob]:
    """A curved stream of Gaussian knots, widening and fading away from the galaxy."""
    t = np.linspace(0.05, 1.0, 40)
    radius = 0.3 + t * length
    angle = direction + curvature * t
    xs = x + radius * np.cos(angle)
    ys = y + radius * np.sin(angle)
    weights = np.exp(-2.5 * t)
    weights /= weights.sum()
    sigmas = 0.05 + 0.2 * t
    return [GaussianBlob(float(flux * w), float(a), float(b), float(s))
            for w, a, b, s in zip(weights, xs, ys, sigmas, strict=True)]


def _merger(rng, flux, r_e, x, y) -> Galaxy:
    ratio = float(rng.uniform(1.0, 4.0))
    separation = float(rng.uniform(0.5, 2.2))
    angle = float(rng.uniform(0, 2 * np.pi))
    fluxes = (flux * ratio / (1 + ratio), flux / (1 + ratio))
    # Centre of light at (x, y).
    d1 = separation / (1 + ratio)
    offsets = (-d1, separation - d1)
    galaxy = Galaxy("merger")
    kinds = []
    tail_fractions = []
    for k, (f_k, off) in enumerate(zip(fluxes, offsets, strict=True)):
        gx, gy = x + off * np.cos(angle), y + off * np.sin(angle)
        kind = str(rng.choice(["disk", "bulge+disk", "elliptical"], p=[0.4, 0.4, 0.2]))
        tail_fraction = float(rng.uniform(0.05, 0.2)) if kind != "elliptical" else 0.03
        body_flux = f_k * (1.0 - tail_fraction)
        size = r_e * float(rng.uniform(0.4, 0.7)) * (1.0 if k == 0 else ratio**-0.3)
        maker = {"disk": _disk, "bulge+disk": _bulge_disk, "elliptical": _elliptical}[kind]
        galaxy.extend(maker(rng, body_flux, max(size, 0.12), gx, gy))
        away = angle + (np.pi if k == 0 else 0.0)
        galaxy.blobs += _tidal_tail(
            rng, f_k * tail_fraction, gx, gy,
            direction=away + float(rng.uniform(-1.0, 1.0)),
            length=float(rng.uniform(1.0, 2.5)),
            curvature=float(rng.choice([-1, 1]) * rng.uniform(0.6, 1.8)),
        )
        kinds.append(kind)
        tail_fractions.append(tail_fraction)
    galaxy.params.update(flux_ratio=ratio, separation=separation, progenitors="/".join(kinds),
                         tail_fractions="/".join(f"{t:.3f}" for t in tail_fractions))
    return galaxy


def draw_star(rng: np.random.Generator, *, x: float = 0.0, y: float = 0.0,
              mag_range: tuple[float, float] = (17.0, 22.0)) -> Galaxy:
    """A star (a point source) of random brightness at ``(x, y)``."""
    mag = float(rng.uniform(*mag_range))
    flux = _mag_to_flux(mag)
    galaxy = Galaxy("star", points=[PointSource(flux, x, y)])
    galaxy.params.update(mag=mag, flux=flux, r_e=0.0)
    return galaxy


def draw_galaxy(
    rng: np.random.Generator,
    morphology: str | None = None,
    *,
    x: float = 0.0,
    y: float = 0.0,
    size_scale: float = 1.0,
    mag_range: tuple[float, float] | None = None,
    r_e_range: tuple[float, float] | None = None,
    sersic_n_range: tuple[float, float] | None = None,
) -> Galaxy:
    """Draw a random galaxy of a morphological class.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (the galaxy is a function of its state only).
    morphology : str, optional
        One of `MORPHOLOGIES`; default drawn with the weights `GALAXY_WEIGHTS`.
    x, y : float, optional
        Centre (centre of light for mergers), arcsec offsets.
    size_scale : float, optional
        Multiplies the drawn half-light radius.
    mag_range : (float, float), optional
        AB magnitude range (uniform). With this or ``r_e_range`` given, magnitude and size are
        drawn independently (size log-uniform); by default they are drawn together (brighter
        galaxies larger: I_AB 18-23, r_e 0.3-1.5").
    r_e_range : (float, float), optional
        Half-light radius range in arcsec (log-uniform).
    sersic_n_range : (float, float), optional
        Sersic index range of ellipticals (default 3-5.5) and of S0 bulges (default 2-8).

    Returns
    -------
    Galaxy
        Components and ``params`` (class, mag, flux, r_e and the class's own parameters).
    """
    if morphology is None:
        names = list(GALAXY_WEIGHTS)
        morphology = str(rng.choice(names, p=np.array(list(GALAXY_WEIGHTS.values()))))
    if morphology not in MORPHOLOGIES:
        raise ValueError(
            f"unknown morphology {morphology!r}; choose one of {', '.join(MORPHOLOGIES)}")
    if morphology == "star":
        return draw_star(rng, x=x, y=y)
    mag, r_e = _draw_brightness_and_size(rng, size_scale=size_scale, mag_range=mag_range,
                                         r_e_range=r_e_range)
    flux = _mag_to_flux(mag)
    if morphology == "elliptical":
        galaxy = _elliptical(rng, flux, r_e, x, y, n_range=sersic_n_range or (3.0, 5.5))
    elif morphology == "s0":
        galaxy = _s0(rng, flux, r_e, x, y, n_range=sersic_n_range or (2.0, 8.0))
    elif morphology == "bulge+disk":
        galaxy = _bulge_disk(rng, flux, r_e, x, y)
    elif morphology == "disk":
        galaxy = _disk(rng, flux, r_e, x, y)
    elif morphology in ("spiral", "barred-spiral"):
        galaxy = _spiral(rng, flux, r_e, x, y, barred=morphology == "barred-spiral")
    elif morphology == "irregular":
        galaxy = _irregular(rng, flux, r_e, x, y)
    else:
        galaxy = _merger(rng, flux, r_e, x, y)
    galaxy.params = {"mag": mag, "flux": galaxy.flux, "r_e": r_e, **galaxy.params}
    return galaxy
