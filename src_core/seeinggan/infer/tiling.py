"""The tile grid and the smooth blending weights of tiled inference.

How an image of any size goes through a fixed-size network without seams:

1. The image is extended by ``pad = overlap // 2`` pixels of mirror (``reflect``) padding on each
   side, so that border tiles see plausible context, and further at the bottom/right so that the
   padded image is covered exactly by tiles of ``tile`` pixels at a ``stride = tile - overlap``.
   The stride is a multiple of the network's ``multiple`` (``2**n_down``), so every tile sits on
   the same down-sampling lattice as the whole image: a strided network is only equivariant to
   shifts by that multiple. No padded copy of the image is made; tiles are read through
   reflected indices (`read_tile`).
2. Each tile's output is weighted by a separable window (`blend_window`): along each axis the
   outer ``overlap // 4`` pixels at a tile edge get a tiny ``floor`` weight (their values saw the
   tile border, not the neighbouring pixels), the next ``overlap // 2`` rise as a raised cosine
   (Hann) ramp, the rest is 1. The ramps of two neighbours are complementary, so a cross-fade
   happens in the middle half of each overlap.
3. Because the tile grid is a Cartesian product and the windows are separable, the sum of all
   weights at a pixel is ``Sy[row] * Sx[col]`` (`weight_sums`); each tile's contribution is divided
   by it as it is added, so no weight image is ever stored and the output can be written in place
   (in memory or in a memory-mapped file).

Exactness: a network output pixel depends only on input pixels within the receptive-field
radius ``R`` (`receptive_field_radius`). If ``overlap // 4 >= R`` every pixel that receives a
non-floor weight is computed with all of its context, identical to the untiled result up to
float rounding and ``floor`` (1e-6) times the border error. Deep networks have a theoretical
``R`` larger than a tile (the paper-width generator: ~174 pixels) but a much smaller effective
one; there the cross-fade hides the small differences that remain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from torch import nn

__all__ = [
    "TileBlend",
    "TileGrid",
    "blend_window",
    "plan_tiles",
    "read_tile",
    "receptive_field_radius",
    "reflect_indices",
    "tile_blend",
    "weight_sums",
]

WEIGHT_FLOOR = 1e-6
"""Weight of a tile's outermost pixels: never zero, so every padded pixel has a defined blend."""


@dataclass(frozen=True)
class TileGrid:
    """Where the tiles of one image lie, in padded coordinates.

    Attributes
    ----------
    shape : tuple of int
        The image ``(rows, cols)``.
    tile : tuple of int
        Tile ``(rows, cols)`` (a tile is smaller than ``tile_size`` for images smaller than it).
    overlap : tuple of int
        Overlap between neighbouring tiles along each axis (at least the requested overlap).
    pad : int
        Mirror padding before the image's first row/column (``overlap // 2`` as requested).
    starts : tuple of tuple of int
        Tile start positions (padded coordinates) along rows and along columns.
    """

    shape: tuple[int, int]
    tile: tuple[int, int]
    overlap: tuple[int, int]
    pad: int
    starts: tuple[tuple[int, ...], tuple[int, ...]]

    @property
    def n_tiles(self) -> int:
        """The number of tiles."""
        return len(self.starts[0]) * len(self.starts[1])

    def positions(self):
        """Tile origins ``(row0, col0)`` in padded coordinates, in raster order."""
        for r in self.starts[0]:
            for c in self.starts[1]:
                yield r, c


def _ceil_to(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _axis_plan(length: int, tile: int, overlap: int, pad: int, multiple: int) -> tuple[int, int, tuple[int, ...]]:
    """(tile, overlap, starts) along one axis."""
    needed = length + 2 * pad
    if _ceil_to(needed, multiple) <= tile:
        # One tile covers everything: shrink it to the padded image (a multiple, >= 2 multiples).
        size = max(_ceil_to(needed, multiple), 2 * multiple)
        return size, overlap, (0,)
    stride = ((tile - overlap) // multiple) * multiple
    if stride < multiple:
        raise ValueError(
            f"overlap {overlap} leaves no room in a tile of {tile} pixels: the stride "
            f"tile - overlap must be at least {multiple}"
        )
    n = max(1, math.ceil((needed - tile) / stride) + 1)
    return tile, tile - stride, tuple(i * stride for i in range(n))


def plan_tiles(shape: tuple[int, int], *, tile: int, overlap: int, multiple: int = 16) -> TileGrid:
    """Lay tiles over an image of ``shape`` (see the module docstring).

    Parameters
    ----------
    shape : tuple of int
        Image ``(rows, cols)`` on the network's grid.
    tile : int
        Tile side in pixels; a multiple of `multiple`.
    overlap : int
        Requested overlap between neighbours in pixels; the actual overlap is larger when
        ``tile - overlap`` is not a multiple of `multiple` (the stride is rounded down).
    multiple : int
        The network's size multiple (``2**n_down``).

    Returns
    -------
    TileGrid
    """
    rows, cols = (int(n) for n in shape)
    if rows < 1 or cols < 1:
        raise ValueError(f"cannot tile an empty image of shape {shape}")
    if tile % multiple or tile < 2 * multiple:
        raise ValueError(f"tile must be a multiple of {multiple} and at least {2 * multiple}, got {tile}")
    if overlap < 0 or overlap >= tile:
        raise ValueError(f"overlap must be between 0 and tile - 1 ({tile - 1}), got {overlap}")
    pad = overlap // 2
    t_r, o_r, s_r = _axis_plan(rows, tile, overlap, pad, multiple)
    t_c, o_c, s_c = _axis_plan(cols, tile, overlap, pad, multiple)
    return TileGrid((rows, cols), (t_r, t_c), (o_r, o_c), pad, (s_r, s_c))


def blend_window(size: int, overlap: int, *, floor: float = WEIGHT_FLOOR) -> np.ndarray:
    """1-D blending weights of one tile along one axis (float64, ``size`` values).

    ``overlap // 4`` floor pixels at each end, then a Hann ramp of ``overlap - 2 * (overlap // 4)``
    pixels up to 1. Two neighbours overlapping by ``overlap`` pixels have complementary ramps.
    """
    weights = np.ones(size, dtype=np.float64)
    if overlap <= 0:
        return weights
    context = overlap // 4
    ramp = overlap - 2 * context
    edge = np.full(context + ramp, floor)
    i = np.arange(ramp, dtype=np.float64)
    edge[context:] = np.maximum(np.sin(0.5 * np.pi * (i + 0.5) / ramp) ** 2, floor)
    n = min(len(edge), size // 2)
    weights[:n] = np.minimum(weights[:n], edge[:n])
    weights[size - n :] = np.minimum(weights[size - n :], edge[:n][::-1])
    return weights


def weight_sums(grid: TileGrid, *, floor: float = WEIGHT_FLOOR) -> tuple[np.ndarray, np.ndarray]:
    """Per-axis sums of the tile windows over the padded image: total weight = ``Sy[:, None] * Sx``."""
    sums = []
    for axis in (0, 1):
        size = grid.tile[axis]
        window = blend_window(size, grid.overlap[axis], floor=floor)
        length = grid.starts[axis][-1] + size
        total = np.zeros(length, dtype=np.float64)
        for start in grid.starts[axis]:
            total[start : start + size] += window
        sums.append(total)
    return sums[0], sums[1]


@dataclass(frozen=True)
class TileBlend:
    """Where one tile's output goes and with what weight (see `tile_blend`).

    ``tile_out[tile_rows, tile_cols] * weights`` is added to ``image[rows, cols]``.
    """

    rows: slice
    cols: slice
    tile_rows: slice
    tile_cols: slice
    weights: np.ndarray


def tile_blend(grid: TileGrid, row0: int, col0: int, *, floor: float = WEIGHT_FLOOR) -> TileBlend | None:
    """The normalised blending weights of the tile at padded origin ``(row0, col0)``.

    The part of the tile inside the image, its place in the image and its weights already
    divided by the sum of all tiles' weights there (`weight_sums`), so that the contributions of
    all tiles add up to the blended output. None when the tile lies wholly in the padding.
    """
    rows, cols = grid.shape
    pad = grid.pad
    pr0, pr1 = max(row0, pad), min(row0 + grid.tile[0], pad + rows)
    pc0, pc1 = max(col0, pad), min(col0 + grid.tile[1], pad + cols)
    if pr0 >= pr1 or pc0 >= pc1:
        return None
    sum_y, sum_x = _cached_sums(grid, floor)
    win_y = blend_window(grid.tile[0], grid.overlap[0], floor=floor)
    win_x = blend_window(grid.tile[1], grid.overlap[1], floor=floor)
    wy = win_y[pr0 - row0 : pr1 - row0] / sum_y[pr0:pr1]
    wx = win_x[pc0 - col0 : pc1 - col0] / sum_x[pc0:pc1]
    return TileBlend(
        rows=slice(pr0 - pad, pr1 - pad),
        cols=slice(pc0 - pad, pc1 - pad),
        tile_rows=slice(pr0 - row0, pr1 - row0),
        tile_cols=slice(pc0 - col0, pc1 - col0),
        weights=wy[:, None] * wx[None, :],
    )


_SUMS_CACHE: dict = {}


def _cached_sums(grid: TileGrid, floor: float):
    key = (grid, floor)
    if key not in _SUMS_CACHE:
        if len(_SUMS_CACHE) > 64:
            _SUMS_CACHE.clear()
        _SUMS_CACHE[key] = weight_sums(grid, floor=floor)
    return _SUMS_CACHE[key]


def reflect_indices(start: int, size: int, length: int) -> np.ndarray:
    """Indices into an axis of ``length`` for padded positions ``start .. start + size - 1``.

    Padded position ``p`` is image position ``p`` mirrored at the edges without repeating the
    edge pixel (numpy's ``reflect``), repeatedly for paddings longer than the image.
    """
    p = np.arange(start, start + size)
    if length == 1:
        return np.zeros(size, dtype=np.intp)
    period = 2 * (length - 1)
    p = np.mod(p, period)
    return np.where(p < length, p, period - p).astype(np.intp)


def read_tile(image: np.ndarray, grid: TileGrid, row0: int, col0: int) -> np.ndarray:
    """The tile at padded origin ``(row0, col0)``, mirrored where it leaves the image."""
    rows = reflect_indices(row0 - grid.pad, grid.tile[0], image.shape[0])
    cols = reflect_indices(col0 - grid.pad, grid.tile[1], image.shape[1])
    return image[np.ix_(rows, cols)]


def receptive_field_radius(network: nn.Module) -> int:
    """Theoretical receptive-field radius (pixels) of a convolutional network's deepest path.

    Walks the modules in registration order (forward order for our generator): each
    ``Conv2d`` widens the field by ``(kernel - 1) * dilation * jump``, a strided convolution
    multiplies the ``jump`` (input pixels per feature pixel), a ``PixelShuffle`` divides it.
    For `seeinggan.models.UNetGenerator` that is ``1 + 30 + 64 * n_res + 60 + 2`` pixels wide for
    ``n_down = 4``. An upper bound on the distance over which tiles can disagree.
    """
    field = 1.0
    jump = 1.0
    for module in network.modules():
        if isinstance(module, nn.Conv2d):
            k = max(module.kernel_size)
            d = max(module.dilation)
            field += (k - 1) * d * jump
            jump *= max(module.stride)
        elif isinstance(module, nn.PixelShuffle):
            jump /= module.upscale_factor
        elif isinstance(module, nn.Upsample):
            # a bilinear x2 resize reads two neighbours: one more feature pixel each side
            factor = module.scale_factor
            scale = factor if isinstance(factor, (int, float)) else max(factor or (1.0,))
            field += jump
            jump /= scale
        elif isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
            k = module.kernel_size if isinstance(module.kernel_size, int) else max(module.kernel_size)
            s = module.stride if isinstance(module.stride, int) else max(module.stride)
            field += (k - 1) * jump
            jump *= s
    return int(math.ceil((field - 1) / 2))
