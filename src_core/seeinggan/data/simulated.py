"""Pairs from the simulator (`seeinggan.simulate.simulate_pair`), made when asked for.

Pair ``i`` of the stream with seed ``s`` is simulated with the seed derived from ``(s, i)`` by
`numpy.random.SeedSequence` (`seeinggan.simulate.pair_seed`, the derivation `write_pairs` uses),
so a stream is reproducible, indexable in any order, and two streams with different seeds share
no stamp. Use different seeds for training and validation.

With ``prior="broad"`` (or any name in `seeinggan.simulate.priors.PRIORS`) each pair's
settings (pixel scale, seeing, PSF family and shape, scene, space noise) are drawn from that
prior first (`seeinggan.simulate.priors.draw_settings`); explicit simulator keywords override
the drawn ones. Prior streams refuse the evaluation sets' seeds
(`seeinggan.simulate.priors.EVALUATION_SEEDS`).

Every simulated `Pair` carries the noiseless space image as ``pair.truth`` and, in its meta,
``seeing_fwhm``, ``psf_model``, ``moffat_beta``, ``psf_ellipticity``, ``psf_angle``,
``ground_pixel_scale``, ``space_noise``, ``ground_sky_level``, ``ground_sky_noise`` (the true
sky level subtracted and the blank-pixel rms, counts per ground pixel), ``space_sky_noise``,
and for prior streams ``prior`` and ``scene``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from seeinggan.data.pairs import Pair, make_pair

__all__ = [
    "SimulatedPairs",
    "derive_seed",
    "pair_from_simulation",
    "simulate_one",
    "simulated_pairs",
]


def derive_seed(seed: int, index: int) -> int:
    """The simulator seed of item ``index`` of the stream ``seed``.

    The same derivation as `seeinggan.simulate.write_pairs` (`seeinggan.simulate.pair_seed`), so
    item ``i`` of ``simulated_pairs(seed=s)`` is pair ``i`` of a folder written with seed ``s``.
    """
    from seeinggan.simulate import pair_seed

    return pair_seed(seed, index)


def pair_from_simulation(simulation: Any, *, name: str, meta: dict[str, Any] | None = None) -> Pair:
    """Turn a `seeinggan.simulate.SimulatedPair` into a `Pair` (ground resampled, flux conserved).

    The simulation's plain ``params`` go into the pair's meta (``seeing_fwhm``, ``psf_model``,
    ``class``... keep those names); its noiseless space image becomes ``pair.truth``.
    """
    info: dict[str, Any] = {"name": name, "source": "simulated"}
    params = dict(getattr(simulation, "params", {}) or {})
    info.update({key: value for key, value in params.items() if _is_plain(value)})
    info.update(meta or {})
    pair = make_pair(
        simulation.ground,
        simulation.ground_wcs,
        simulation.space,
        simulation.space_wcs,
        meta=info,
    )
    truth = getattr(simulation, "truth", None)
    if truth is not None:
        pair.truth = np.asarray(truth, dtype=np.float32)
    return pair


def _is_plain(value: Any) -> bool:
    # Keep meta JSON-friendly: numbers, strings, bools and short lists of those.
    if isinstance(value, (str, bool, int, float, np.integer, np.floating)) or value is None:
        return True
    if isinstance(value, (list, tuple)):
        return len(value) <= 16 and all(_is_plain(v) for v in value)
    return False


class SimulatedPairs(Sequence):
    """A lazy, indexable sequence of ``n`` simulated pairs (nothing is kept in memory).

    Item ``i`` is simulated each time it is asked for, always the same for the same
    ``(seed, i)``. Built by `simulated_pairs`.
    """

    def __init__(self, *, n: int, seed: int, simulate_kwargs: dict[str, Any] | None = None):
        if int(n) < 0:
            raise ValueError(f"n must be non-negative, got {n}")
        self.n = int(n)
        self.seed = int(seed)
        self.simulate_kwargs = dict(simulate_kwargs or {})
        if "seed" in self.simulate_kwargs:
            raise TypeError("pass the stream's seed as seed=, not inside the simulator's arguments")

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.n))]
        index = int(index)
        if index < 0:
            index += self.n
        if not 0 <= index < self.n:
            raise IndexError(f"simulated pair {index} out of range for {self.n} pairs")
        return simulate_one(self.seed, index, self.simulate_kwargs)

    def __iter__(self) -> Iterator[Pair]:
        for index in range(self.n):
            yield self[index]

    def __repr__(self) -> str:
        return f"SimulatedPairs(n={self.n}, seed={self.seed}, {self.simulate_kwargs!r})"


def simulate_one(seed: int, index: int, simulate_kwargs: dict[str, Any] | None = None) -> Pair:
    """Item ``index`` of the simulated stream ``seed`` (any non-negative index).

    ``simulate_kwargs`` go to `seeinggan.simulate.simulate_pair`; a ``"prior"`` key among them
    (a name in `seeinggan.simulate.priors.PRIORS`) draws the pair's settings from that prior
    first, and the other keys override the drawn settings.
    """
    from seeinggan.simulate import simulate_pair

    kwargs = dict(simulate_kwargs or {})
    prior = kwargs.pop("prior", None)
    sim_seed = derive_seed(seed, index)
    if prior is None:
        simulation = simulate_pair(seed=sim_seed, **kwargs)
    else:
        from seeinggan.simulate.priors import check_training_seed, simulate_from_prior

        check_training_seed(seed)
        simulation = simulate_from_prior(prior, seed=seed, index=index, **kwargs)
    return pair_from_simulation(
        simulation,
        name=f"sim_{seed}_{index:06d}",
        meta={"stream_seed": int(seed), "stream_index": int(index), "simulation_seed": sim_seed},
    )


def simulated_pairs(*, n: int, seed: int, prior: Any = None,
                    **simulate_kwargs: Any) -> SimulatedPairs:
    """``n`` simulated pairs, made lazily on access.

    Parameters
    ----------
    n : int
        Number of pairs.
    seed : int
        Seed of the stream; item ``i`` uses the simulator seed `derive_seed(seed, i)`.
    prior : str or seeinggan.simulate.priors.Prior, optional
        Draw each pair's settings from this prior (a name in `seeinggan.simulate.priors.PRIORS`)
        (``"broad"``: every stress suite's pixel scales, seeing, PSFs, scenes and noise).
        The evaluation sets' seeds are refused. Default: `simulate_pair`'s settings.
    **simulate_kwargs
        Passed to `seeinggan.simulate.simulate_pair` (``space_shape``, ``seeing_fwhm``,
        ``morphology``, ...); with a prior, they override its drawn settings.

    Returns
    -------
    SimulatedPairs
        A sequence of `Pair`: ``len``, indexing, slicing and iteration.
    """
    if prior is not None:
        from seeinggan.simulate.priors import check_training_seed, get_prior

        get_prior(prior)
        check_training_seed(seed)
        simulate_kwargs = {"prior": prior, **simulate_kwargs}
    return SimulatedPairs(n=n, seed=seed, simulate_kwargs=simulate_kwargs)
