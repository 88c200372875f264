"""Random galaxies of each morphological class, drawn from the priors of `morphologies`.

`draw_galaxy` draws a galaxy of a class (elliptical, S0, bulge+disk, disk, spiral, barred spiral,
clumpy irregular, merger with tidal tails) or a star (`draw_star`) as components of
`seeinggan.simulate.profiles` (Sersic bulges and disks, Ferrers bars, spiral-arm modulations,
Gaussian clumps and tidal knots, point sources), each normalised to its flux; the
`seeinggan.simulate.canvas.Canvas` renders them. Every numeric range a draw takes (axis ratios,
bulge fractions, arm pitch, clump counts...) is a named entry of
`seeinggan.simulate.morphologies.MORPHOLOGY_PRIORS`; this module holds only the draws' structure.
The galaxy is a function of the generator's state only, and the order of the draws is part of the
simulator's contract (tests pin suites to seeds).

Coordinates are arcsec offsets from the centre of the grid: ``x`` along columns, ``y`` along
rows. Angles (``position_angle`` and the like) are in degrees, counter-clockwise from +x to +y.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from seeinggan.simulate.canvas import Canvas
from seeinggan.simulate.morphologies import (
    BRIGHTNESS_SIZE,
    DISK_THICKNESS,
    GALAXY_WEIGHTS,
    MORPHOLOGIES,
    MORPHOLOGY_PRIORS,
    STAR_MAG_RANGE,
)
from seeinggan.simulate.profiles import (
    EXACT_CORE_MIN_N,
    Galaxy,
    GaussianBlob,
    PointSource,
    Profile,
    _rotation,
    ferrers_profile,
    sersic_b,
    sersic_profile,
    sersic_r_max,
    sky_to_disk,
)

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


def _mag_to_flux(mag: float) -> float:
    return float(10.0 ** (-0.4 * (mag - MAG_ZEROPOINT)))


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


def _choice(rng: np.random.Generator, options: tuple[tuple[Any, ...], tuple[float, ...]]) -> Any:
    values, weights = options
    return rng.choice(list(values), p=list(weights))


def _draw_brightness_and_size(rng: np.random.Generator, *, size_scale: float = 1.0,
                              mag_range: tuple[float, float] | None = None,
                              r_e_range: tuple[float, float] | None = None):
    mag_lo, mag_hi = BRIGHTNESS_SIZE["mag_range"]
    r_e_lo, r_e_hi = BRIGHTNESS_SIZE["r_e_range"]
    if mag_range is None and r_e_range is None:
        # Drawn together: brighter galaxies are larger.
        weight = BRIGHTNESS_SIZE["brightness_weight"]
        mag = float(rng.uniform(mag_lo, mag_hi))
        brightness = (mag_hi - mag) / (mag_hi - mag_lo)
        t = np.clip(weight * brightness + (1.0 - weight) * rng.uniform(), 0.0, 1.0)
        r_e = float(r_e_lo * (r_e_hi / r_e_lo)**t) * size_scale
        return mag, r_e
    # Asked-for ranges: magnitude uniform, half-light radius log-uniform (independent).
    lo, hi = mag_range if mag_range is not None else (mag_lo, mag_hi)
    mag = float(rng.uniform(lo, hi))
    r_lo, r_hi = r_e_range if r_e_range is not None else (r_e_lo, r_e_hi)
    r_e = float(np.exp(rng.uniform(np.log(r_lo), np.log(r_hi)))) * size_scale
    return mag, r_e


def _disk_axis_ratio(rng: np.random.Generator, *, min_cos_i: float = 0.0) -> float:
    # Random inclination of a thin disk.
    cos_i = rng.uniform(min_cos_i, 1.0)
    return float(np.sqrt(DISK_THICKNESS**2 + (1.0 - DISK_THICKNESS**2) * cos_i**2))


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


def _elliptical(rng, flux, r_e, x, y, *, n_range=None) -> Galaxy:
    prior = MORPHOLOGY_PRIORS["elliptical"]
    n = _uniform(rng, n_range or prior["sersic_n"])
    q = _uniform(rng, prior["axis_ratio"])
    pa = _uniform(rng, prior["position_angle"])
    galaxy = Galaxy("elliptical", profiles=[_sersic("spheroid", flux, x, y, n, r_e, q, pa)])
    galaxy.params.update(sersic_n=n, axis_ratio=q, position_angle=pa)
    return galaxy


def _bulge_and_disk(rng, flux, r_e, x, y, *, morphology: str, min_cos_i: float, n_range=None) -> Galaxy:
    """A Sersic bulge on an exponential disk, drawn from ``MORPHOLOGY_PRIORS[morphology]``."""
    prior = MORPHOLOGY_PRIORS[morphology]
    bt = _uniform(rng, prior["bulge_to_total"])
    q = _disk_axis_ratio(rng, min_cos_i=min_cos_i)
    pa = _uniform(rng, prior["position_angle"])
    n_b = _uniform(rng, n_range or prior["bulge_n"])
    r_b = max(prior["bulge_r_e_min"], r_e * _uniform(rng, prior["bulge_r_e_ratio"]))
    q_b = float(rng.uniform(max(q, prior["bulge_axis_ratio_min"]), 1.0))
    pa_b = pa + float(rng.normal(0.0, prior["bulge_position_angle_scatter"]))
    galaxy = Galaxy(
        morphology,
        profiles=[
            _sersic("disk", (1 - bt) * flux, x, y, 1.0, r_e, q, pa),
            _sersic("bulge", bt * flux, x, y, n_b, r_b, q_b, pa_b),
        ],
    )
    # An S0 is classed by its bulge's index (the suites' Sersic-n range), so it also says sersic_n.
    indices = {"bulge_n": n_b, "sersic_n": n_b} if morphology == "s0" else {"bulge_n": n_b}
    galaxy.params.update(bulge_to_total=bt, **indices, bulge_r_e=r_b, axis_ratio=q, position_angle=pa)
    return galaxy


def _bulge_disk(rng, flux, r_e, x, y, *, min_cos_i=0.0) -> Galaxy:
    return _bulge_and_disk(rng, flux, r_e, x, y, morphology="bulge+disk", min_cos_i=min_cos_i)


def _s0(rng, flux, r_e, x, y, *, n_range=None) -> Galaxy:
    """A lenticular: a Sersic bulge (index in ``n_range``) on an exponential disk, nothing else."""
    return _bulge_and_disk(rng, flux, r_e, x, y, morphology="s0",
                           min_cos_i=MORPHOLOGY_PRIORS["s0"]["min_cos_inclination"], n_range=n_range)


def _disk(rng, flux, r_e, x, y) -> Galaxy:
    prior = MORPHOLOGY_PRIORS["disk"]
    n = _uniform(rng, prior["sersic_n"])
    q = _disk_axis_ratio(rng)
    pa = _uniform(rng, prior["position_angle"])
    galaxy = Galaxy("disk", profiles=[_sersic("disk", flux, x, y, n, r_e, q, pa)])
    galaxy.params.update(sersic_n=n, axis_ratio=q, position_angle=pa)
    return galaxy


def _spiral(rng, flux, r_e, x, y, *, barred: bool) -> Galaxy:
    prior = MORPHOLOGY_PRIORS["spiral"]
    q = _disk_axis_ratio(rng, min_cos_i=prior["min_cos_inclination"])
    pa = _uniform(rng, prior["position_angle"])
    disk_matrix = sky_to_disk(pa, q)
    bt = _uniform(rng, prior["bulge_to_total"])
    n_b = _uniform(rng, prior["bulge_n"])
    r_b = max(prior["bulge_r_e_min"], r_e * _uniform(rng, prior["bulge_r_e_ratio"]))
    arms = int(_choice(rng, prior["arms_barred"] if barred else prior["arms"]))
    pitch = _uniform(rng, prior["pitch_angle"])
    amplitude = _uniform(rng, prior["arm_amplitude"])
    sharpness = _uniform(rng, prior["arm_sharpness"])
    clump_fraction = _uniform(rng, prior["clump_fraction"])
    bar_fraction = _uniform(rng, prior["bar_fraction"]) if barred else 0.0
    disk_flux = flux * (1.0 - bt - clump_fraction - bar_fraction)
    params: dict[str, Any] = dict(arms=arms, pitch_angle=pitch, arm_amplitude=amplitude,
                                  bulge_to_total=bt, bulge_n=n_b, bulge_r_e=r_b, axis_ratio=q,
                                  position_angle=pa)
    galaxy = Galaxy("barred-spiral" if barred else "spiral")
    if barred:
        bar_length = r_e * _uniform(rng, prior["bar_length_ratio"])
        bar_q = _uniform(rng, prior["bar_axis_ratio"])
        bar_angle = _uniform(rng, prior["bar_angle"])  # in the disk plane
        boxiness = _uniform(rng, prior["bar_boxiness"])
        bar = Profile(
            name="bar",
            flux=bar_fraction * flux,
            x=x,
            y=y,
            matrix=np.diag([1.0, 1.0 / bar_q]) @ _rotation(bar_angle) @ disk_matrix,
            radial=ferrers_profile(bar_length, prior["bar_ferrers_index"]),
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
        r_start = prior["arm_start_bar_ratio"] * bar_length
        params.update(bar_to_total=bar_fraction, bar_length=bar_length, bar_axis_ratio=bar_q,
                      bar_angle=bar_angle)
    else:
        r_ref = r_e
        phase = _uniform(rng, prior["arm_phase"])
        r_start = r_e * _uniform(rng, prior["arm_start_ratio"])
    modulation = _arm_modulation(arms=arms, pitch_deg=pitch, amplitude=amplitude,
                                 sharpness=sharpness, r_start=r_start, r_ref=r_ref, phase=phase)
    disk = _sersic("disk", disk_flux, x, y, 1.0, r_e, q, pa, arms=arms, pitch_angle=pitch)
    disk.modulation = modulation
    galaxy.profiles.insert(0, disk)
    galaxy.profiles.append(_sersic("bulge", bt * flux, x, y, n_b, r_b,
                                   float(rng.uniform(max(q, prior["bulge_axis_ratio_min"]), 1.0)),
                                   pa))
    count = int(rng.integers(*prior["n_clumps"]))
    cx, cy = _arm_points(rng, count=count, arms=arms, pitch_deg=pitch, r_ref=r_ref, phase=phase,
                         r_lo=max(r_start, prior["clump_r_min_ratio"] * r_e),
                         r_hi=prior["clump_r_max_ratio"] * r_e, disk_matrix=disk_matrix, x=x, y=y)
    galaxy.blobs += _clumps(rng, clump_fraction * flux, cx, cy, sigma_range=prior["clump_sigma"])
    params.update(clump_fraction=clump_fraction, n_clumps=count)
    galaxy.params.update(params)
    return galaxy


def _irregular(rng, flux, r_e, x, y) -> Galaxy:
    prior = MORPHOLOGY_PRIORS["irregular"]
    q = _uniform(rng, prior["axis_ratio"])
    pa = _uniform(rng, prior["position_angle"])
    n = _uniform(rng, prior["sersic_n"])
    clump_fraction = _uniform(rng, prior["clump_fraction"])
    second_fraction = _uniform(rng, prior["lobe_fraction"])
    main_flux = flux * (1.0 - clump_fraction - second_fraction)
    offset = r_e * _uniform(rng, prior["lobe_offset_ratio"])
    angle = _uniform(rng, prior["lobe_angle"])
    x2, y2 = x + offset * np.cos(angle), y + offset * np.sin(angle)
    galaxy = Galaxy(
        "irregular",
        profiles=[
            _sersic("disk", main_flux, x, y, n, r_e, q, pa),
            _sersic("lobe", second_fraction * flux, x2, y2, prior["lobe_sersic_n"],
                    prior["lobe_r_e_ratio"] * r_e, _uniform(rng, prior["lobe_axis_ratio"]),
                    _uniform(rng, prior["lobe_position_angle"])),
        ],
    )
    count = int(rng.integers(*prior["n_clumps"]))
    # Clumps spread like an exponential disk in the galaxy's plane.
    radius = rng.gamma(2.0, r_e / 1.678, size=count)
    phi = rng.uniform(0, 2 * np.pi, size=count)
    sky = np.linalg.inv(sky_to_disk(pa, q)) @ np.stack([radius * np.cos(phi), radius * np.sin(phi)])
    galaxy.blobs += _clumps(rng, clump_fraction * flux, x + sky[0], y + sky[1],
                            sigma_range=prior["clump_sigma"])
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
    prior = MORPHOLOGY_PRIORS["merger"]
    ratio = _uniform(rng, prior["flux_ratio"])
    separation = _uniform(rng, prior["separation"])
    angle = _uniform(rng, prior["angle"])
    fluxes = (flux * ratio / (1 + ratio), flux / (1 + ratio))
    # Centre of light at (x, y).
    d1 = separation / (1 + ratio)
    offsets = (-d1, separation - d1)
    galaxy = Galaxy("merger")
    kinds = []
    tail_fractions = []
    for k, (f_k, off) in enumerate(zip(fluxes, offsets, strict=True)):
        gx, gy = x + off * np.cos(angle), y + off * np.sin(angle)
        kind = str(_choice(rng, prior["progenitors"]))
        tail_fraction = (_uniform(rng, prior["tail_fraction"]) if kind != "elliptical"
                         else prior["tail_fraction_elliptical"])
        body_flux = f_k * (1.0 - tail_fraction)
        size = (r_e * _uniform(rng, prior["size_ratio"])
                * (1.0 if k == 0 else ratio ** prior["secondary_size_exponent"]))
        maker = {"disk": _disk, "bulge+disk": _bulge_disk, "elliptical": _elliptical}[kind]
        galaxy.extend(maker(rng, body_flux, max(size, prior["size_min"]), gx, gy))
        away = angle + (np.pi if k == 0 else 0.0)
        galaxy.blobs += _tidal_tail(
            rng, f_k * tail_fraction, gx, gy,
            direction=away + _uniform(rng, prior["tail_direction_scatter"]),
            length=_uniform(rng, prior["tail_length"]),
            curvature=float(rng.choice([-1, 1]) * rng.uniform(*prior["tail_curvature"])),
        )
        kinds.append(kind)
        tail_fractions.append(tail_fraction)
    galaxy.params.update(flux_ratio=ratio, separation=separation, progenitors="/".join(kinds),
                         tail_fractions="/".join(f"{t:.3f}" for t in tail_fractions))
    return galaxy


def draw_star(rng: np.random.Generator, *, x: float = 0.0, y: float = 0.0,
              mag_range: tuple[float, float] = STAR_MAG_RANGE) -> Galaxy:
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
        galaxy = _elliptical(rng, flux, r_e, x, y, n_range=sersic_n_range)
    elif morphology == "s0":
        galaxy = _s0(rng, flux, r_e, x, y, n_range=sersic_n_range)
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
