"""Matched stamp pairs cut from a ground frame and a space frame of one field.

- `pairs_from_frames`: sources are detected on the space frame (`seeinggan.data.detection`) and
  stamps of side 2 x R90 (the paper's section 2.9) are cut around them.
- `pairs_from_regions`: boxes drawn by a user (the napari Fine-tune dock), in space-frame pixels.

For each stamp only a small window of the ground frame is resampled onto the stamp's grid
(`seeinggan.data.pairs.make_pair`, flux conserved), so memory is bounded by the stamp size.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from astropy.wcs import WCS

from seeinggan.data.detection import detect_sources, stamp_size_from_r90
from seeinggan.data.pairs import Pair, PairList, _check_wcs, _geometry, make_pair
from seeinggan.progress import ProgressCallback, StopCallback, check_stop

__all__ = ["pairs_from_frames", "pairs_from_regions"]

# Ground pixels kept around a stamp's footprint, so the cubic spline sees real data at the edge.
_GROUND_MARGIN = 4


def _space_to_ground_pixels(x, y, space_wcs: WCS, ground_wcs: WCS):
    x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
    lon, lat = space_wcs.pixel_to_world_values(x, y)
    return ground_wcs.world_to_pixel_values(lon, lat)


def _frame_overlap(
    ground_shape: tuple[int, int], ground_wcs: WCS, space_shape: tuple[int, int], space_wcs: WCS
) -> tuple[int, int, int, int] | None:
    """Bounding box (y0, x0, y1, x1) on the space frame of the ground frame's footprint."""
    rows, cols = ground_shape
    # Points along the ground frame's edges: a TAN-to-TAN map is nearly affine, so edges suffice.
    t = np.linspace(0, 1, 17)
    ex = np.concatenate([t * cols, np.full_like(t, cols), t * cols, np.zeros_like(t)]) - 0.5
    ey = np.concatenate([np.zeros_like(t), t * rows, np.full_like(t, rows), t * rows]) - 0.5
    lon, lat = ground_wcs.pixel_to_world_values(ex, ey)
    sx, sy = space_wcs.world_to_pixel_values(lon, lat)
    if not (np.all(np.isfinite(sx)) and np.all(np.isfinite(sy))):
        return None  # part of the ground frame is beyond the space frame's projection horizon
    x0 = max(0, math.floor(sx.min() + 0.5))
    x1 = min(space_shape[1], math.ceil(sx.max() + 0.5))
    y0 = max(0, math.floor(sy.min() + 0.5))
    y1 = min(space_shape[0], math.ceil(sy.max() + 0.5))
    if x1 <= x0 or y1 <= y0:
        return None
    return y0, x0, y1, x1


def _ground_window(
    box: tuple[int, int, int, int], space_wcs: WCS, ground_wcs: WCS
) -> tuple[float, float, float, float]:
    """Extent (gy_min, gx_min, gy_max, gx_max) in ground pixels of a space-pixel box's outline."""
    y0, x0, y1, x1 = box
    t = np.linspace(0, 1, 9)
    along_x, along_y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
    ex = np.concatenate([along_x, np.full_like(t, x1), along_x, np.full_like(t, x0)]) - 0.5
    ey = np.concatenate([np.full_like(t, y0), along_y, np.full_like(t, y1), along_y]) - 0.5
    gx, gy = _space_to_ground_pixels(ex, ey, space_wcs, ground_wcs)
    return float(gy.min()), float(gx.min()), float(gy.max()), float(gx.max())


def _cut_pair(
    ground: np.ndarray,
    ground_wcs: WCS,
    space: np.ndarray,
    space_wcs: WCS,
    box: tuple[int, int, int, int],
    meta: dict[str, Any],
) -> Pair:
    """Pair on the space box ``(y0, x0, y1, x1)``: only a small ground window is resampled."""
    y0, x0, y1, x1 = box
    stamp_wcs = space_wcs.slice((slice(y0, y1), slice(x0, x1)))
    gy0, gx0, gy1, gx1 = _ground_window(box, space_wcs, ground_wcs)
    rows, cols = ground.shape
    wy0 = min(max(0, math.floor(gy0) - _GROUND_MARGIN), rows - 1)
    wx0 = min(max(0, math.floor(gx0) - _GROUND_MARGIN), cols - 1)
    wy1 = max(min(rows, math.ceil(gy1) + _GROUND_MARGIN + 1), wy0 + 1)
    wx1 = max(min(cols, math.ceil(gx1) + _GROUND_MARGIN + 1), wx0 + 1)
    window_wcs = ground_wcs.slice((slice(wy0, wy1), slice(wx0, wx1)))
    meta = dict(meta)
    meta["bbox"] = [int(y0), int(x0), int(y1), int(x1)]
    return make_pair(
        ground[wy0:wy1, wx0:wx1], window_wcs, space[y0:y1, x0:x1], stamp_wcs, meta=meta
    )


def _frames_checked(ground, ground_wcs, space, space_wcs):
    ground_wcs = _check_wcs(ground_wcs, "the ground frame")
    space_wcs = _check_wcs(space_wcs, "the space frame")
    ground = np.asarray(ground)
    space = np.asarray(space)
    if ground.ndim != 2 or space.ndim != 2:
        raise ValueError(f"frames must be 2-D, got ground {ground.shape} and space {space.shape}")
    return ground, ground_wcs, space, space_wcs


def _center_meta(stamp_wcs: WCS, shape: tuple[int, int]) -> dict[str, float]:
    center = _geometry().sky_center(stamp_wcs, shape)
    return {"center_ra": float(center.ra.deg), "center_dec": float(center.dec.deg)}


def pairs_from_frames(
    ground: np.ndarray,
    ground_wcs: WCS,
    space: np.ndarray,
    space_wcs: WCS,
    *,
    stamp_size: int | None = None,
    detect_sigma: float = 5.0,
    min_area: int = 20,
    max_pairs: int | None = None,
    name_prefix: str = "stamp",
    meta: dict[str, Any] | None = None,
    progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
) -> PairList:
    """Cut matched stamp pairs around the sources of a ground frame and a space frame of one field.

    Sources are detected on the part of the space frame that the ground frame covers
    (`detect_sources`). Around each, brightest first, a square stamp is cut on the space grid,
    centred on the source's centroid to within half a pixel, of side ``stamp_size`` or, by
    default, 2 x R90 (the paper's section 2.9; R90 measured on the space segment), rounded up to
    a multiple of 16 and at least 64. For each stamp only a small window of the ground frame
    around the stamp is resampled onto the stamp's grid (flux conserved), so memory stays bounded
    by the stamp size, whatever the frames' size.

    Stamps that run off either frame, or that hold NaNs, are skipped; ``summary`` says how many
    and why.

    Parameters
    ----------
    ground, space : ndarray
        The two frames (2-D).
    ground_wcs, space_wcs : astropy.wcs.WCS
        Their celestial WCS.
    stamp_size : int, optional
        Fixed stamp side in space pixels; default 2 x R90 per source.
    detect_sigma : float, optional
        Detection threshold in units of the (smoothed) sky noise.
    min_area : int, optional
        Smallest segment, in space pixels, that counts as a source.
    max_pairs : int, optional
        Stop after this many pairs (the brightest sources come first).
    name_prefix : str, optional
        Pairs are named ``f"{name_prefix}_{i:04d}"``.
    meta : dict, optional
        Added to every pair's meta (for example the layer or file names).
    progress, should_stop : callable, optional
        ``progress(done, total)`` per source; ``should_stop()`` polled between sources.

    Returns
    -------
    PairList
        The pairs; ``summary`` holds ``n_sources`` (detected), ``n_pairs``, ``skipped`` (a dict
        reason -> count: ``"off_space_edge"``, ``"off_ground_edge"``, ``"nan"``),
        ``stopped_at_max_pairs`` and ``overlap_bbox`` (y0, x0, y1, x1 on the space frame).

    Raises
    ------
    ValueError
        If a WCS is missing, the frames are not 2-D, or they do not overlap.
    """
    ground, ground_wcs, space, space_wcs = _frames_checked(ground, ground_wcs, space, space_wcs)
    if stamp_size is not None and int(stamp_size) < 1:
        raise ValueError(f"stamp_size must be positive, got {stamp_size}")
    overlap = _frame_overlap(ground.shape, ground_wcs, space.shape, space_wcs)
    if overlap is None:
        raise ValueError("the ground frame and the space frame do not overlap on the sky")
    oy0, ox0, oy1, ox1 = overlap
    sources = detect_sources(space[oy0:oy1, ox0:ox1], detect_sigma=detect_sigma, min_area=min_area)
    extra = dict(meta or {})
    base = {"source": "frames", "detect_sigma": float(detect_sigma)}
    space_scale = float(_geometry().pixel_scale(space_wcs))

    skipped = {"off_space_edge": 0, "off_ground_edge": 0, "nan": 0}
    pairs = PairList()
    stopped = False
    for done, source in enumerate(sources):
        check_stop(should_stop)
        if max_pairs is not None and len(pairs) >= max_pairs:
            stopped = True
            break
        cy, cx = source.y + oy0, source.x + ox0
        size = int(stamp_size) if stamp_size is not None else stamp_size_from_r90(source.r90)
        # Centre of the stamp, (size - 1) / 2 from its first pixel, within 0.5 px of the centroid.
        y0 = int(round(cy - (size - 1) / 2.0))
        x0 = int(round(cx - (size - 1) / 2.0))
        box = (y0, x0, y0 + size, x0 + size)
        if y0 < 0 or x0 < 0 or box[2] > space.shape[0] or box[3] > space.shape[1]:
            skipped["off_space_edge"] += 1
            continue
        gy0, gx0, gy1, gx1 = _ground_window(box, space_wcs, ground_wcs)
        if gy0 < -0.5 or gx0 < -0.5 or gy1 > ground.shape[0] - 0.5 or gx1 > ground.shape[1] - 0.5:
            skipped["off_ground_edge"] += 1
            continue
        if not np.isfinite(space[y0 : box[2], x0 : box[3]]).all():
            skipped["nan"] += 1
            continue
        info = {
            **base,
            "name": f"{name_prefix}_{len(pairs):04d}",
            "r90_arcsec": source.r90 * space_scale,
            "stamp_size": size,
            "source_flux": source.flux,
            "source_yx": [cy, cx],
            **extra,
        }
        pair = _cut_pair(ground, ground_wcs, space, space_wcs, box, info)
        if not pair.mask.all():
            skipped["nan"] += 1
            continue
        pair.meta.update(_center_meta(pair.wcs, pair.shape))
        pairs.append(pair)
        if progress is not None:
            progress(done + 1, len(sources))
    pairs.summary = {
        "n_sources": len(sources),
        "n_pairs": len(pairs),
        "skipped": skipped,
        "stopped_at_max_pairs": stopped,
        "overlap_bbox": list(overlap),
    }
    return pairs


# --------------------------------------------------------------------------------------------
# Boxes drawn by a user


def _region_box(region, index: int) -> tuple[int, int, int, int]:
    points = np.asarray(region, dtype=float)
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] < 2:
        raise ValueError(
            f"region {index}: expected (row, col) vertices with shape (N >= 2, 2), "
            f"got shape {points.shape}"
        )
    if not np.isfinite(points).all():
        raise ValueError(f"region {index}: vertices must be finite")
    # Pixels whose centres (integer coordinates) lie inside the box.
    y0 = math.ceil(points[:, 0].min())
    x0 = math.ceil(points[:, 1].min())
    y1 = math.floor(points[:, 0].max()) + 1
    x1 = math.floor(points[:, 1].max()) + 1
    return y0, x0, y1, x1


def pairs_from_regions(
    ground: np.ndarray,
    ground_wcs: WCS,
    space: np.ndarray,
    space_wcs: WCS,
    regions: Iterable[Any],
    *,
    min_valid_fraction: float = 0.5,
    name_prefix: str = "region",
    meta: dict[str, Any] | None = None,
) -> PairList:
    """Pairs from boxes drawn on the space frame (the napari Fine-tune dock's rectangles).

    A region is given in **space-frame pixel coordinates**: an array-like of ``(row, col)``
    vertices, shape ``(N >= 2, 2)``, for example the four corners of a napari rectangle mapped
    with ``space_layer.world_to_data`` or two opposite corners. The box is the vertices'
    bounding box; pixels whose centres lie inside it are kept (clipped to the space frame). The
    ground frame is resampled onto the box (flux conserved); parts the ground frame does not
    cover, or NaNs, are masked rather than skipped.

    Parameters
    ----------
    ground, space : ndarray
        The two frames (2-D).
    ground_wcs, space_wcs : astropy.wcs.WCS
        Their celestial WCS.
    regions : iterable
        The boxes, as above.
    min_valid_fraction : float, optional
        A region whose valid (unmasked) fraction is below this is skipped.
    name_prefix : str, optional
        Pairs are named ``f"{name_prefix}_{i:04d}"`` after the region's index.
    meta : dict, optional
        Added to every pair's meta.

    Returns
    -------
    PairList
        ``summary`` holds ``n_regions``, ``n_pairs`` and ``skipped`` (reason -> count:
        ``"outside_space_frame"``, ``"too_little_valid_data"``).
    """
    ground, ground_wcs, space, space_wcs = _frames_checked(ground, ground_wcs, space, space_wcs)
    regions = list(regions)
    skipped = {"outside_space_frame": 0, "too_little_valid_data": 0}
    pairs = PairList()
    for index, region in enumerate(regions):
        y0, x0, y1, x1 = _region_box(region, index)
        y0, x0 = max(y0, 0), max(x0, 0)
        y1, x1 = min(y1, space.shape[0]), min(x1, space.shape[1])
        if y1 <= y0 or x1 <= x0:
            skipped["outside_space_frame"] += 1
            continue
        info = {"source": "regions", "name": f"{name_prefix}_{index:04d}", "region_index": index}
        info.update(meta or {})
        pair = _cut_pair(ground, ground_wcs, space, space_wcs, (y0, x0, y1, x1), info)
        if pair.mask.mean() < min_valid_fraction:
            skipped["too_little_valid_data"] += 1
            continue
        pair.meta.update(_center_meta(pair.wcs, pair.shape))
        pairs.append(pair)
    pairs.summary = {"n_regions": len(regions), "n_pairs": len(pairs), "skipped": skipped}
    return pairs

