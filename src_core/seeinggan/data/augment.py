"""Augmentation by the eight symmetries of the square: flips and right-angle rotations.

Sky images have no preferred orientation, so each of the eight dihedral transforms of a stamp is
as good a training example as the original. The same transform must be applied to the network
input, its target and the mask, or the pair would no longer match: `augment_arrays` draws one
transform and applies it to every array it is given.

Every function works on the last two axes, so ``(H, W)``, ``(C, H, W)`` and ``(N, C, H, W)``
numpy arrays and torch tensors are all accepted.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

__all__ = ["N_DIHEDRAL", "augment_arrays", "dihedral", "inverse_dihedral", "random_dihedral"]

N_DIHEDRAL = 8
"""Number of distinct flip/rotation combinations (the dihedral group of the square)."""

ArrayT = TypeVar("ArrayT")


def _check_k(k: int) -> int:
    k = int(k)
    if not 0 <= k < N_DIHEDRAL:
        raise ValueError(f"dihedral index must be in 0..{N_DIHEDRAL - 1}, got {k}")
    return k


def _is_tensor(x) -> bool:
    return type(x).__module__.startswith("torch")


def _rot90(x, turns: int):
    if _is_tensor(x):
        return x.rot90(turns, dims=(-2, -1))
    return np.rot90(x, turns, axes=(-2, -1))


def _flip_columns(x):
    if _is_tensor(x):
        return x.flip(-1)
    return x[..., ::-1]


def dihedral(x: ArrayT, k: int) -> ArrayT:
    """Apply dihedral transform number ``k`` to the last two axes of ``x``.

    ``k % 4`` counter-clockwise quarter turns, then a left-right flip when ``k >= 4``.
    ``k = 0`` is the identity.

    Parameters
    ----------
    x : ndarray or torch.Tensor
        Array with at least two dimensions.
    k : int
        Transform index in ``0..7``.

    Returns
    -------
    ndarray or torch.Tensor
        The transformed array (numpy results are contiguous copies, safe for
        ``torch.from_numpy``).
    """
    k = _check_k(k)
    out = _rot90(x, k % 4)
    if k >= 4:
        out = _flip_columns(out)
    if _is_tensor(out):
        return out.contiguous()
    return np.ascontiguousarray(out)  # type: ignore[return-value]


def inverse_dihedral(x: ArrayT, k: int) -> ArrayT:
    """Undo `dihedral` with the same ``k``."""
    k = _check_k(k)
    out = x
    if k >= 4:
        out = _flip_columns(out)
    out = _rot90(out, -(k % 4))
    if _is_tensor(out):
        return out.contiguous()
    return np.ascontiguousarray(out)  # type: ignore[return-value]


def random_dihedral(rng: np.random.Generator) -> int:
    """Draw a dihedral transform index uniformly from ``0..7``."""
    return int(rng.integers(N_DIHEDRAL))


def augment_arrays(*arrays, rng: np.random.Generator) -> tuple:
    """Apply one random flip/rotation, the same for every array (input, target, mask, ...).

    Parameters
    ----------
    *arrays : ndarray or torch.Tensor
        Arrays whose last two axes are the image axes; they should share that shape.
    rng : numpy.random.Generator
        Source of the random draw (one draw per call).

    Returns
    -------
    tuple
        The transformed arrays, in the order given.
    """
    k = random_dihedral(rng)
    return tuple(dihedral(a, k) for a in arrays)
