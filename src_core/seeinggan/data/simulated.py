"""Pairs from the simulator (`seeinggan.simulate.simulate_pair`), made when asked for.

Pair ``i`` of the stream with seed ``s`` is simulated with the seed derived from ``(s, i)`` by
`numpy.random.SeedSequence` (`seeinggan.simulate.pair_seed`, the derivation `write_pairs` uses),
so a stream is reproducible, indexable in any order, and two streams with different seeds share
no stamp. Use different seeds for training and validation.
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

    The simulation's ``params`` go into the pair's meta; ``seeing_fwhm`` and ``class`` keep
    those names. The noiseless space image becomes the pair's ``truth``.
    """
    info: dict[str, Any] = {"name": name, "source": "simulated"}
    params = dict(getattr(simulation, "params", {}) or {})
    info.update({key: value for key, value in params.items() if _is_plain(value)})
    info.update(meta or {})
    return make_pair(
        simulation.ground,
        simulation.ground_wcs,
        simulation.space,
        simulation.space_wcs,
        meta=info,
        truth=getattr(simulation, "truth", None),
    )


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

    def __getitem__(self, index):  # type: ignore[override]
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
    """Item ``index`` of the simulated stream ``seed`` (any non-negative index)."""
    from seeinggan.simulate import simulate_pair

    sim_seed = derive_seed(seed, index)
    simulation = simulate_pair(seed=sim_seed, **(simulate_kwargs or {}))
    return pair_from_simulation(
        simulation,
        name=f"sim_{seed}_{index:06d}",
        meta={"stream_seed": int(seed), "stream_index": int(index), "simulation_seed": sim_seed},
    )


def simulated_pairs(*, n: int, seed: int, **simulate_kwargs: Any) -> SimulatedPairs:
    """``n`` simulated pairs, made lazily on access.

    Parameters
    ----------
    n : int
        Number of pairs.
    seed : int
        Seed of the stream; item ``i`` uses the simulator seed `derive_seed(seed, i)`.
    **simulate_kwargs
        Passed to `seeinggan.simulate.simulate_pair` (``space_shape``, ``seeing_fwhm``,
        ``morphology``, ...).

    Returns
    -------
    SimulatedPairs
        A sequence of `Pair`: ``len``, indexing, slicing and iteration.
    """
    return SimulatedPairs(n=n, seed=seed, simulate_kwargs=simulate_kwargs)
