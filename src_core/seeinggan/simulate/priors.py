"""Priors of the simulator as data: named tables of settings from which each pair's are drawn.

A `Prior` is a table of `simulate_pair` / `simulate_field` keywords. A value is either passed to
the simulator as it is (a number, a string, or a ``(low, high)`` range that the simulator draws
from itself, such as ``seeing_fwhm=(0.5, 1.2)``), or a distribution drawn once per pair:
`Uniform`, `LogUniform`, `IntUniform` or `Choice` (whose options may themselves be
distributions). A prior holds one or more *scenes* (the standard galaxy mix, bright smooth
galaxies, galaxy-filled cutouts, crowded fields...), each a table of its own, chosen per pair by
weight; a scene's keys override the prior's common ones, and ``kind = "field"`` makes the scene a
`simulate_field` frame instead of a `simulate_pair` stamp.

Pair ``i`` of the stream ``seed`` drawn from a prior is

- settings: drawn with ``numpy.random.SeedSequence([seed, i, SETTINGS_STREAM])``;
- simulation: ``simulate_pair(seed=pair_seed(seed, i), **settings)`` (or `simulate_field`), the
  same simulator seed as ``write_pairs`` and ``seeinggan.data.simulated_pairs`` use,

so it is a function of ``(prior, seed, i)`` only. The ``"default"`` prior draws nothing: its pair
``i`` is the pair ``i`` that ``seeinggan simulate --seed S`` writes.

`PRIORS` holds the named priors:

- ``"default"``: today's training and held-out distribution (`simulate_pair`'s defaults).
- ``"broad"``: a training prior that covers every stress suite of `seeinggan.evaluate.suites`
  (ground pixels 0.15-0.6"/px, seeing 0.4-1.6", Moffat beta 2-5 and Kolmogorov PSFs, round and
  slightly elliptical, white and drizzle-correlated space noise, bright smooth galaxies up to
  peak S/N 10^4, galaxy-filled cutouts and crowded faint fields beside the standard mix).

Seeds of the evaluation sets are reserved (`EVALUATION_SEEDS`): training streams drawn through
`seeinggan.data.simulated_pairs(prior=...)` refuse them, so no suite stamp is ever trained on.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seeinggan.constants import GROUND_PIXEL_SCALE, SPACE_PIXEL_SCALE

__all__ = [
    "EVALUATION_SEEDS",
    "GROUND_PIXEL_SCALES",
    "PRIORS",
    "SCENES",
    "SETTINGS_STREAM",
    "Choice",
    "IntUniform",
    "LogUniform",
    "Prior",
    "Scene",
    "Uniform",
    "check_training_seed",
    "draw_settings",
    "get_prior",
    "simulate_from_prior",
    "simulate_settings",
]

SETTINGS_STREAM = 0x5E77
"""Third entropy word of the settings draw (keeps it apart from the simulator's own streams)."""

EVALUATION_SEEDS: dict[str, int] = {
    "heldout": 1000,
    "bright_smooth": 9101,
    "deep_field": 9102,
    "pixel_scales": 9103,
    "cutouts": 9104,
    "psf": 9105,
    "space_noise": 9106,
    "rl_validation": 7_000_001,
}
"""Stream seeds of the evaluation sets (the stress suites, the held-out set, and the simulated
set that picks Richardson-Lucy's iteration count). Training must not use them."""

GROUND_PIXEL_SCALES: dict[str, float] = {
    "HSC": 0.168,
    "Suprime-Cam": GROUND_PIXEL_SCALE,
    "DECam": 0.263,
    "INT WFC": 0.333,
    "SDSS": 0.396,
}
"""Ground pixel scales (arcsec/px) of real cameras the suites and the broad prior imitate."""


# ---------------------------------------------------------------------------------------------
# distributions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Uniform:
    """A number drawn uniformly from ``[low, high]``."""

    low: float
    high: float

    def draw(self, rng: np.random.Generator) -> float:
        """One value drawn with ``rng``."""
        return float(rng.uniform(self.low, self.high))

    def bounds(self) -> tuple[float, float]:
        """The ``(low, high)`` the values can take."""
        return (float(self.low), float(self.high))

    def describe(self) -> str:
        """The distribution in a few words, for the priors table."""
        return f"uniform {self.low:g}-{self.high:g}"


@dataclass(frozen=True)
class LogUniform:
    """A positive number whose logarithm is uniform in ``[log low, log high]``."""

    low: float
    high: float

    def draw(self, rng: np.random.Generator) -> float:
        """One value drawn with ``rng``."""
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))

    def bounds(self) -> tuple[float, float]:
        """The ``(low, high)`` the values can take."""
        return (float(self.low), float(self.high))

    def describe(self) -> str:
        """The distribution in a few words, for the priors table."""
        return f"log-uniform {self.low:g}-{self.high:g}"


@dataclass(frozen=True)
class IntUniform:
    """An integer drawn uniformly from ``low..high`` (both included)."""

    low: int
    high: int

    def draw(self, rng: np.random.Generator) -> int:
        """One value drawn with ``rng``."""
        return int(rng.integers(self.low, self.high + 1))

    def bounds(self) -> tuple[float, float]:
        """The ``(low, high)`` the values can take."""
        return (float(self.low), float(self.high))

    def describe(self) -> str:
        """The distribution in a few words, for the priors table."""
        return f"integer {self.low}-{self.high}"


@dataclass(frozen=True)
class Choice:
    """One of ``options`` (by ``weights``, default equal); an option may be a distribution."""

    options: tuple
    weights: tuple | None = None

    def draw(self, rng: np.random.Generator) -> Any:
        """One option drawn with ``rng`` (by ``weights`` when given)."""
        p = None
        if self.weights is not None:
            p = np.asarray(self.weights, dtype=float)
            p = p / p.sum()
        index = int(rng.choice(len(self.options), p=p))
        return _draw(self.options[index], rng)

    def describe(self) -> str:
        """The options and their shares in a few words, for the priors table."""
        shares = self.weights or (1,) * len(self.options)
        total = float(sum(shares))
        parts = [f"{_describe(o)} ({100 * w / total:.0f}%)" for o, w in zip(self.options, shares, strict=True)]
        return "one of " + ", ".join(parts)


Distribution = Uniform | LogUniform | IntUniform | Choice


def _draw(spec: Any, rng: np.random.Generator) -> Any:
    if isinstance(spec, (Uniform, LogUniform, IntUniform, Choice)):
        return spec.draw(rng)
    return spec


def _describe(spec: Any) -> str:
    if isinstance(spec, (Uniform, LogUniform, IntUniform, Choice)):
        return spec.describe()
    if isinstance(spec, tuple) and len(spec) == 2 and all(isinstance(v, (int, float)) for v in spec):
        return f"{spec[0]:g}-{spec[1]:g} (drawn by the simulator)"
    return repr(spec)


# ---------------------------------------------------------------------------------------------
# scenes and priors
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scene:
    """What is in a stamp: a table of simulator settings (see the module's docstring).

    Attributes
    ----------
    name, description : str
    kind : {"pair", "field"}
        One galaxy per stamp (`simulate_pair`) or a crowded frame (`simulate_field`).
    settings : mapping
        Simulator keywords: plain values or distributions.
    """

    name: str
    description: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "pair"

    def __post_init__(self) -> None:
        if self.kind not in ("pair", "field"):
            raise ValueError(f"scene {self.name!r}: kind must be 'pair' or 'field'")


@dataclass(frozen=True)
class Prior:
    """A named distribution of simulator settings: common settings and weighted scenes.

    Attributes
    ----------
    name, description : str
    common : mapping
        Settings of every pair (observing conditions: seeing, PSF, pixel scale, noise).
    scenes : tuple of (weight, Scene)
        What a stamp holds, chosen per pair by weight; a scene's settings override ``common``.
    """

    name: str
    description: str
    common: Mapping[str, Any] = field(default_factory=dict)
    scenes: tuple = ()

    def __post_init__(self) -> None:
        if not self.scenes:
            object.__setattr__(self, "scenes", ((1.0, SCENES["galaxies"]),))
        for weight, scene in self.scenes:
            if not (weight > 0 and isinstance(scene, Scene)):
                raise ValueError(f"prior {self.name!r}: scenes are (positive weight, Scene)")

    def ranges(self) -> dict[str, tuple[float, float] | list[Any]]:
        """What each setting can take over all scenes: ``(low, high)`` for numbers, else values.

        For a model's record of its training ranges (seeing, pixel scale...). A setting that a
        scene leaves to the simulator's default is not listed (see `simulate_pair`).
        """
        support: dict[str, list] = {}
        for key, spec in self.common.items():
            if all(key in scene.settings for _, scene in self.scenes):
                continue
            support.setdefault(key, []).extend(bounds_of(spec))
        for _, scene in self.scenes:
            for key, spec in scene.settings.items():
                support.setdefault(key, []).extend(bounds_of(spec))
        out: dict[str, Any] = {}
        for key, values in support.items():
            flat: list[float] = []
            for value in values:
                if isinstance(value, tuple) and len(value) == 2 and key != "space_shape" and all(
                        isinstance(x, (int, float)) for x in value):
                    flat += [float(x) for x in value]
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    flat.append(float(value))
                else:
                    flat = []
                    break
            if flat:
                out[key] = (min(flat), max(flat))
            else:
                out[key] = [v for i, v in enumerate(values) if v not in values[:i]]
        return out

    def settings_table(self) -> list[dict[str, str]]:
        """Rows ``{"scene", "weight", "setting", "value"}`` describing the prior (for docs)."""
        total = sum(w for w, _ in self.scenes)
        rows = [{"scene": "(all)", "weight": "", "setting": k, "value": _describe(v)}
                for k, v in self.common.items()]
        for weight, scene in self.scenes:
            share = f"{100 * weight / total:.0f}%"
            rows.append({"scene": scene.name, "weight": share, "setting": "kind",
                         "value": scene.kind})
            rows += [{"scene": scene.name, "weight": share, "setting": k, "value": _describe(v)}
                     for k, v in scene.settings.items()]
        return rows


FIELD_SIDE_ARCSEC = 256 * SPACE_PIXEL_SCALE
"""Side of the standard 256 x 256 space stamp at 0.03"/px (7.68")."""

SCENES: dict[str, Scene] = {
    "galaxies": Scene(
        "galaxies",
        "one galaxy of the standard mix (7 classes, I_AB 18-23, r_e 0.3-1.5\"), field stars",
        {},
    ),
    "bright_smooth": Scene(
        "bright_smooth",
        "one elliptical or S0 (Sersic n 2-8, no substructure) at peak S/N 30-10^4, half-light "
        "diameter up to three times the stamp",
        {
            "morphology": Choice(("elliptical", "s0"), (0.6, 0.4)),
            "sersic_n_range": (2.0, 8.0),
            "galaxy_r_e_range": (0.3, 1.5 * FIELD_SIDE_ARCSEC),
            "peak_snr": LogUniform(30.0, 1.0e4),
            "field_star_rate": 0.0,
            "canvas_margin": 4.0,
        },
    ),
    "cutout": Scene(
        "cutout",
        "a galaxy of any class that fills the stamp (r_e 2.5-10\", 90% of the ground pixels "
        "at 3-30 sky sigmas or more): no blank sky to measure sky or noise on (the true values "
        "are in the header: SKYLEVEL, SKYNOISE)",
        {
            "galaxy_r_e_range": (2.5, 10.0),
            "fill_snr": LogUniform(3.0, 30.0),
            "canvas_margin": 4.0,
        },
    ),
    "deep_field": Scene(
        "deep_field",
        "a crowded deep field: 5-16 faint galaxies (I_AB 21-26.5, r_e 0.1-0.8\") and 1-5 stars "
        "(18-25.5) in the stamp",
        {
            "space_shape": (256, 256),
            "n_galaxies": IntUniform(5, 16),
            "n_stars": IntUniform(1, 5),
            "galaxy_mag_range": (21.0, 26.5),
            "galaxy_r_e_range": (0.1, 0.8),
            "star_mag_range": (18.0, 25.5),
            "canvas_margin": 4.0,
        },
        kind="field",
    ),
}
"""The scenes of the priors and suites (what a stamp holds)."""

_SCALE_CHOICE = Choice(
    tuple(GROUND_PIXEL_SCALES.values()) + (LogUniform(0.15, 0.6),),
    (0.12, 0.2, 0.12, 0.1, 0.12, 0.34),
)

PRIORS: dict[str, Prior] = {
    "default": Prior(
        "default",
        "today's distribution: simulate_pair's defaults (0.202\"/px, seeing 0.5-1.2\", round "
        "Moffat beta 2.5-4.5 or Kolmogorov, white noise, the standard galaxy mix)",
    ),
    "broad": Prior(
        "broad",
        "training prior covering every stress suite: ground pixels 0.15-0.6\"/px, seeing "
        "0.4-1.6\", Moffat (beta 2-5) or Kolmogorov, 60% slightly elliptical, white or "
        "drizzle-correlated space noise; the standard mix, bright smooth galaxies, galaxy-filled "
        "cutouts and crowded deep fields",
        common={
            "space_shape": (256, 256),
            "ground_pixel_scale": _SCALE_CHOICE,
            "seeing_fwhm": Uniform(0.4, 1.6),
            "psf": Choice(("moffat", "kolmogorov")),
            "moffat_beta": Uniform(2.0, 5.0),
            "psf_ellipticity": Choice((0.0, Uniform(0.0, 0.1)), (0.4, 0.6)),
            "space_noise": Choice(("white", "drizzle")),
        },
        scenes=(
            (0.45, SCENES["galaxies"]),
            (0.2, SCENES["bright_smooth"]),
            (0.15, SCENES["cutout"]),
            (0.2, SCENES["deep_field"]),
        ),
    ),
}
"""The named training priors."""


def get_prior(prior: str | Prior) -> Prior:
    """A `Prior` by name (`PRIORS`), or the prior given."""
    if isinstance(prior, Prior):
        return prior
    try:
        return PRIORS[str(prior)]
    except KeyError:
        raise ValueError(
            f"unknown prior {prior!r}; choose one of {', '.join(PRIORS)}") from None


# ---------------------------------------------------------------------------------------------
# drawing and simulating
# ---------------------------------------------------------------------------------------------


def draw_settings(prior: str | Prior, *, seed: int, index: int) -> dict[str, Any]:
    """The simulator settings of pair ``index`` of the stream ``seed`` drawn from ``prior``.

    Returns
    -------
    dict
        ``{"prior": name, "scene": name, "kind": "pair" | "field", **simulator keywords}``
        with every distribution replaced by its drawn value (plain numbers and strings).
    """
    prior = get_prior(prior)
    if int(seed) < 0 or int(index) < 0:
        raise ValueError(f"seed and index must be non-negative, got {seed}, {index}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(index), SETTINGS_STREAM]))
    weights = np.array([w for w, _ in prior.scenes], dtype=float)
    scene = prior.scenes[int(rng.choice(len(weights), p=weights / weights.sum()))][1]
    drawn: dict[str, Any] = {"prior": prior.name, "scene": scene.name, "kind": scene.kind}
    for key, spec in prior.common.items():
        if key not in scene.settings:
            drawn[key] = _draw(spec, rng)
    for key, spec in scene.settings.items():
        drawn[key] = _draw(spec, rng)
    return drawn


_NOT_SIMULATOR = ("prior", "scene", "kind")


def _accepted(function) -> set[str]:
    return {name for name in inspect.signature(function).parameters if name != "seed"}


def simulate_settings(settings: Mapping[str, Any], *, seed: int,
                      overrides: Mapping[str, Any] | None = None):
    """Simulate one pair from drawn settings (`draw_settings`) with the simulator seed ``seed``.

    ``overrides`` (explicit keywords) replace drawn settings. A keyword that neither
    `simulate_pair` nor `simulate_field` takes raises `ValueError`; one that only the other
    takes (``peak_snr`` for a field, ``n_galaxies`` for a stamp) is left out for this pair.

    Returns
    -------
    SimulatedPair
        ``params`` gains ``prior``, ``scene`` and ``settings`` (the drawn settings).
    """
    from seeinggan.simulate.scenes import simulate_field, simulate_pair

    kind = settings.get("kind", "pair")
    function = simulate_field if kind == "field" else simulate_pair
    accepted = _accepted(function)
    either = _accepted(simulate_pair) | _accepted(simulate_field)
    kwargs = {k: _as_argument(v) for k, v in settings.items() if k not in _NOT_SIMULATOR}
    kwargs.update(overrides or {})
    unknown = sorted(set(kwargs) - either)
    if unknown:
        raise ValueError(f"unknown simulator setting(s): {', '.join(unknown)}")
    kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    pair = function(seed=int(seed), **kwargs)
    pair.params["prior"] = settings.get("prior", "")
    pair.params["scene"] = settings.get("scene", "")
    pair.params["settings"] = {k: _plain(v) for k, v in settings.items()}
    return pair


def _as_argument(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def simulate_from_prior(prior: str | Prior, *, seed: int, index: int, **overrides: Any):
    """Pair ``index`` of the stream ``seed`` drawn from ``prior`` (see the module's docstring).

    Parameters
    ----------
    prior : str or Prior
        A name in `PRIORS` or a `Prior`.
    seed, index : int
        Stream seed and position; the simulator seed is ``pair_seed(seed, index)``.
    **overrides
        Simulator keywords that replace the drawn ones (e.g. ``space_shape=(128, 128)``).

    Returns
    -------
    SimulatedPair
    """
    from seeinggan.simulate.catalogue import pair_seed

    settings = draw_settings(prior, seed=seed, index=index)
    return simulate_settings(settings, seed=pair_seed(seed, index), overrides=overrides)


def check_training_seed(seed: int) -> int:
    """Refuse a training stream seed that an evaluation set owns (`EVALUATION_SEEDS`)."""
    for name, reserved in EVALUATION_SEEDS.items():
        if int(seed) == reserved:
            raise ValueError(
                f"seed {seed} belongs to the evaluation set {name!r}; train on another seed")
    return int(seed)


def bounds_of(spec: Any) -> list[tuple[float, float]] | list[Any]:
    """What values a setting can take: numeric ``(low, high)`` intervals, or the plain values."""
    if isinstance(spec, (Uniform, LogUniform, IntUniform)):
        return [spec.bounds()]
    if isinstance(spec, Choice):
        out: list = []
        for option in spec.options:
            out += bounds_of(option)
        return out
    if isinstance(spec, Sequence) and not isinstance(spec, str):
        return [tuple(spec)]
    return [spec]
