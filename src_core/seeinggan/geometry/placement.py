"""Grids without a WCS: placement by pixel arithmetic (a finer grid's offset, an affine from points)."""

from __future__ import annotations

import numpy as np

__all__ = ["affine_from_points", "finer_grid_placement"]


def finer_grid_placement(factor: float, *, offset: tuple[float, float] = (0.0, 0.0)
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Scale and translation, in input pixels, of a grid ``factor`` times finer.

    Input pixel ``i`` covers ``[i - 0.5, i + 0.5]``; a grid ``factor`` times finer whose first
    pixel edge lies on the edge of input pixel ``offset`` (row, col) has pixel ``j`` centred at
    ``offset - 0.5 + (j + 0.5) / factor``: ``j * scale + translate`` with the values returned
    (the edges align, as `upsampled_wcs` aligns them on the sky).

    Parameters
    ----------
    factor : float
        Input pixel size over output pixel size (> 0).
    offset : tuple of float, optional
        Input (row, col) of the first input pixel the finer grid covers.

    Returns
    -------
    scale, translate : numpy.ndarray
        Two ``(2,)`` arrays: output pixel (row, col) -> input pixel (row, col).
    """
    if not factor > 0:
        raise ValueError(f"the grid factor must be > 0, got {factor}")
    scale = np.full(2, 1.0 / float(factor))
    translate = np.asarray(offset, dtype=float) - 0.5 + 0.5 / float(factor)
    return scale, translate


def affine_from_points(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 3x3 affine that maps ``source`` points onto ``target`` points (least squares).

    Parameters
    ----------
    source, target : array_like
        ``(n, 2)`` coordinates, ``n >= 3`` and not all on a line (three corners of a pixel
        grid give the exact affine between two grids).

    Returns
    -------
    numpy.ndarray
        ``(3, 3)``, with ``target ~= (matrix @ [x, y, 1])[:2]``.
    """
    source = np.asarray(source, dtype=float)
    target = np.asarray(target, dtype=float)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2 or len(source) < 3:
        raise ValueError(f"need two (n, 2) point arrays with n >= 3, got {source.shape} and {target.shape}")
    design = np.column_stack([source, np.ones(len(source))])
    solution, _residuals, rank, _ = np.linalg.lstsq(design, target, rcond=None)
    if rank < 3:
        raise ValueError("the source points lie on a line: no affine is defined")
    matrix = np.eye(3)
    matrix[:2, :] = solution.T
    return matrix
