"""Training pairs: a ground image on the space grid, the matching space image, and a mask.

Every source of pairs ends in the same `Pair`: the ground image is resampled onto the space
image's pixel grid with `seeinggan.geometry.resample_to_grid(..., conserve="flux")`, the same
arithmetic `seeinggan.infer.Deblurrer` uses at inference, so training and deblurring see the same
kind of input. Sources:

- `folder_pairs`: a folder ``ground/NAME.fits`` + ``space/NAME.fits`` (as written by
  `seeinggan.simulate.write_pairs`).
- `pairs_from_frames`: a ground frame and a space frame of one field; sources are detected on the
  space frame and matched stamps of side 2 x R90 (the paper's section 2.9) are cut around them.
- `pairs_from_regions`: boxes drawn by a user (the napari Fine-tune dock), in space-frame pixels.
- `seeinggan.data.simulated`: pairs from the simulator, on the fly.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.wcs import WCS
from scipy import ndimage

from seeinggan.progress import ProgressCallback, StopCallback, check_stop

__all__ = [
    "detect_sources",
    "pairs_summary",
    "Pair",
    "PairList",
    "folder_pairs",
    "make_pair",
    "pairs_from_frames",
    "pairs_from_regions",
    "stamp_size_from_r90",
]

_MIN_STAMP = 64
_STAMP_MULTIPLE = 16
# Catalogue columns that are not pair meta: the pair's own files, the JSON dump of every parameter.
_NOT_META = (None, "name", "params", "ground_file", "space_file")
# Ground pixels kept around a stamp's footprint, so the cubic spline sees real data at the edge.
_GROUND_MARGIN = 4


@dataclass
class Pair:
    """One training pair on the space pixel grid.

    Attributes
    ----------
    ground : ndarray
        The ground image resampled onto the space grid with flux conserved (float32; its total
        over the stamp equals the ground image's total over the same sky area).
    space : ndarray
        The space image (float32), same shape as ``ground``.
    mask : ndarray
        Boolean, True where both images hold valid (finite, covered) data.
    meta : dict
        ``name``, ``source`` (``"folder"``, ``"frames"``, ``"regions"`` or ``"simulated"``),
        source files when known (``ground_file``, ``space_file``), ``ground_pixel_scale`` and
        ``space_pixel_scale`` (arcsec/px), ``seeing_fwhm`` (arcsec) and ``class`` when known, and
        what each source adds (for stamps: ``center_ra``, ``center_dec``, ``r90_arcsec``, the
        ``bbox`` on the space frame).
    wcs : astropy.wcs.WCS or None
        Celestial WCS of the space grid of this pair (both arrays share it).
    truth : ndarray or None
        The noiseless space image (simulated pairs), same shape; training targets it instead of
        the noisy ``space`` when present and asked for. None for real pairs.
    psf : ndarray or None
        The ground image's PSF on the space grid (seeing convolved with the ground pixel;
        centred, odd side, sum 1) when known: the data-consistency loss re-blurs with it.
    """

    ground: np.ndarray
    space: np.ndarray
    mask: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    wcs: WCS | None = None
    truth: np.ndarray | None = None
    psf: np.ndarray | None = None

    def __post_init__(self) -> None:
        # Native-endian float32: FITS arrays arrive big-endian, and torch refuses those.
        self.ground = np.asarray(self.ground, dtype=np.float32)
        self.space = np.asarray(self.space, dtype=np.float32)
        self.mask = np.asarray(self.mask, dtype=bool)
        name = self.meta.get("name", "pair")
        if self.truth is not None:
            self.truth = np.asarray(self.truth, dtype=np.float32)
            if self.truth.shape != self.space.shape:
                raise ValueError(
                    f"pair {name!r}: truth {self.truth.shape} must have the space image's shape "
                    f"{self.space.shape}")
        if self.ground.ndim != 2:
            raise ValueError(f"pair {name!r}: images must be 2-D, got shape {self.ground.shape}")
        if not self.ground.shape == self.space.shape == self.mask.shape:
            raise ValueError(
                f"pair {name!r}: ground {self.ground.shape}, space {self.space.shape} and mask "
                f"{self.mask.shape} must share one shape (the space grid)"
            )

    @property
    def name(self) -> str:
        """The pair's name (``meta["name"]``, else ``"pair"``)."""
        return str(self.meta.get("name", "pair"))

    @property
    def shape(self) -> tuple[int, int]:
        """The ``(rows, cols)`` of the pair on the space grid."""
        return self.space.shape


class PairList(list):
    """A list of `Pair` with a ``summary`` dict saying how it was made (counts, skips and why)."""

    def __init__(self, pairs: Iterable[Pair] = (), *, summary: dict[str, Any] | None = None):
        super().__init__(pairs)
        self.summary: dict[str, Any] = dict(summary or {})


# --------------------------------------------------------------------------------------------
# One pair from two images with WCS


def _geometry():
    # Imported when needed: keeps `import seeinggan.data` light.
    from seeinggan import geometry

    return geometry


def _check_wcs(wcs, what: str) -> WCS:
    if wcs is None:
        raise ValueError(f"{what} has no celestial WCS; pairs are matched on the sky")
    if not isinstance(wcs, WCS) or not wcs.has_celestial:
        raise ValueError(f"{what}: expected a celestial astropy WCS, got {wcs!r}")
    return wcs.celestial


def make_pair(
    ground: np.ndarray,
    ground_wcs: WCS,
    space: np.ndarray,
    space_wcs: WCS,
    *,
    meta: dict[str, Any] | None = None,
    truth: np.ndarray | None = None,
) -> Pair:
    """Build a `Pair` by resampling ``ground`` onto the grid of ``space``, flux conserved.

    Parameters
    ----------
    ground, space : ndarray
        2-D images of the same sky area (the ground one may be larger).
    ground_wcs, space_wcs : astropy.wcs.WCS
        Their celestial WCS.
    meta : dict, optional
        Added to the pair's meta (pixel scales are filled in).
    truth : ndarray, optional
        The noiseless space image (simulations), on the space grid.

    Returns
    -------
    Pair
        ``mask`` is False where either image is not finite, including space pixels that the
        ground image does not cover.
    """
    geometry = _geometry()
    ground_wcs = _check_wcs(ground_wcs, "the ground image")
    space_wcs = _check_wcs(space_wcs, "the space image")
    ground = np.asarray(ground, dtype=np.float32)
    space = np.asarray(space, dtype=np.float32)
    if ground.ndim != 2 or space.ndim != 2:
        raise ValueError(
            f"pairs need 2-D images, got ground {ground.shape} and space {space.shape}"
        )
    resampled = geometry.resample_to_grid(
        ground, ground_wcs, space_wcs, space.shape, conserve="flux"
    )
    # NaN where the ground image does not cover the space grid, or near its NaNs.
    resampled = np.asarray(resampled, dtype=np.float32)
    mask = np.isfinite(resampled) & np.isfinite(space)
    info = {
        "ground_pixel_scale": float(geometry.pixel_scale(ground_wcs)),
        "space_pixel_scale": float(geometry.pixel_scale(space_wcs)),
    }
    info.update(meta or {})
    return Pair(ground=resampled, space=space, mask=mask, meta=info, wcs=space_wcs, truth=truth)


def _space_to_ground_pixels(x, y, space_wcs: WCS, ground_wcs: WCS):
    x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
    lon, lat = space_wcs.pixel_to_world_values(x, y)
    return ground_wcs.world_to_pixel_values(lon, lat)


# --------------------------------------------------------------------------------------------
# A folder of matched pairs


def _stem(path: Path) -> str | None:
    from seeinggan.io.fits import FITS_SUFFIXES

    lower = path.name.lower()
    for suffix in sorted(FITS_SUFFIXES, key=len, reverse=True):
        if lower.endswith(suffix):
            return path.name[: -len(suffix)]
    return None


def _fits_by_name(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        stem = _stem(path)
        if stem is None or not path.is_file():
            continue
        if stem in found:
            raise ValueError(
                f"{folder}: two FITS files share the name {stem!r}: {found[stem].name}, {path.name}"
            )
        found[stem] = path
    return found


def _parse_number(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _read_catalogue(root: Path) -> dict[str, dict[str, Any]]:
    """Rows of ``root/catalogue.csv`` keyed by their ``name`` column (numbers parsed)."""
    path = root / "catalogue.csv"
    if not path.is_file():
        return {}
    rows: dict[str, dict[str, Any]] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            name = row.get("name")
            if not name:
                continue
            parsed: dict[str, Any] = {}
            for key, value in row.items():
                if key in _NOT_META or value in (None, ""):
                    continue
                parsed[key] = _parse_number(value)
            rows[_stem(Path(name)) or name] = parsed
    return rows


def folder_pairs(
    root: str | Path,
    *,
    progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
) -> PairList:
    """Read matched pairs from ``root/ground/NAME.fits`` and ``root/space/NAME.fits``.

    Files are matched by name (any ending `seeinggan.io.fits` reads: ``.fits``, ``.fit``,
    ``.fts``, gzipped, ``.fits.fz``). Each ground
    image is resampled onto its space image's grid (`make_pair`). When ``root/catalogue.csv``
    exists (as written by `seeinggan.simulate.write_pairs`), its row with the same ``name`` is
    added to the pair's meta (``class``, ``seeing_fwhm``, ...).

    Parameters
    ----------
    root : str or Path
        The pairs folder.
    progress, should_stop : callable, optional
        ``progress(done, total)`` after each pair; ``should_stop()`` polled between pairs.

    Returns
    -------
    PairList
        Pairs in name order; ``summary`` has ``root`` and ``n_pairs``.

    Raises
    ------
    FileNotFoundError
        If ``root``, ``root/ground`` or ``root/space`` is missing.
    ValueError
        If names do not match (all unmatched names are listed), if the folder holds no pair, or
        if a file has no celestial WCS (the file is named).
    """
    from seeinggan.io.fits import read_image

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"pairs folder not found: {root}")
    folders = {side: root / side for side in ("ground", "space")}
    for side, folder in folders.items():
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{root}: no '{side}/' folder; a pairs folder holds ground/NAME.fits and "
                "space/NAME.fits"
            )
    ground_files = _fits_by_name(folders["ground"])
    space_files = _fits_by_name(folders["space"])
    only_ground = sorted(set(ground_files) - set(space_files))
    only_space = sorted(set(space_files) - set(ground_files))
    if only_ground or only_space:
        lines = [f"{root}: ground and space files do not match by name"]
        if only_ground:
            lines.append(f"  in ground/ only ({len(only_ground)}): {', '.join(only_ground)}")
        if only_space:
            lines.append(f"  in space/ only ({len(only_space)}): {', '.join(only_space)}")
        raise ValueError("\n".join(lines))
    names = sorted(ground_files)
    if not names:
        raise ValueError(f"{root}: no FITS pairs in ground/ and space/")
    catalogue = _read_catalogue(root)

    pairs = PairList(summary={"root": str(root), "n_pairs": len(names)})
    for done, name in enumerate(names):
        check_stop(should_stop)
        images = {}
        for side, path in (("ground", ground_files[name]), ("space", space_files[name])):
            image = read_image(path)
            if image.wcs is None:
                raise ValueError(f"{path}: no celestial WCS; pairs are matched on the sky")
            if np.asarray(image.data).ndim != 2:
                raise ValueError(f"{path}: expected a 2-D image, got shape {np.shape(image.data)}")
            images[side] = image
        meta: dict[str, Any] = {"name": name, "source": "folder"}
        meta.update(catalogue.get(name, {}))
        meta.update(
            {
                "ground_file": str(ground_files[name]),
                "space_file": str(space_files[name]),
            }
        )
        pair = make_pair(
            images["ground"].data,
            images["ground"].wcs,
            images["space"].data,
            images["space"].wcs,
            meta=meta,
        )
        if not pair.mask.any():
            raise ValueError(
                f"{ground_files[name]} and {space_files[name]} do not overlap on the sky"
            )
        pairs.append(pair)
        if progress is not None:
            progress(done + 1, len(names))
    return pairs


# --------------------------------------------------------------------------------------------
# Stamps from two frames of one field


def stamp_size_from_r90(r90_pixels: float) -> int:
    """Side of a 2 x R90 stamp (paper section 2.9), rounded up to a multiple of 16, at least 64."""
    side = 2.0 * float(r90_pixels)
    return max(_MIN_STAMP, _STAMP_MULTIPLE * math.ceil(side / _STAMP_MULTIPLE))


@dataclass
class _Source:
    y: float
    x: float
    flux: float
    area: int
    r90: float  # space pixels


def _sky_noise(data: np.ndarray) -> tuple[float, float]:
    from seeinggan.transforms import measure_sky_noise

    return measure_sky_noise(data)


def detect_sources(
    image: np.ndarray,
    *,
    detect_sigma: float = 5.0,
    segment_sigma: float = 2.0,
    min_area: int = 20,
    smooth_sigma: float = 1.5,
) -> list[_Source]:
    """Detect sources on an image; measure their centroid, flux and R90.

    The image is smoothed with a Gaussian of ``smooth_sigma`` pixels (a matched-filter stand-in
    that keeps single noisy pixels from forming segments) and its sky and noise are measured
    robustly (`seeinggan.transforms.measure_sky_noise`). Segments are the 8-connected regions
    (`scipy.ndimage.label`) above ``segment_sigma`` times that noise; a segment is a source when
    its peak exceeds ``detect_sigma`` times the noise and it covers at least ``min_area`` pixels
    (hysteresis thresholding; no deblending). Centroid and flux come from the unsmoothed,
    sky-subtracted pixels of the segment; R90 is the radius about the centroid that holds 90 %
    of the segment's positive flux.

    Returns
    -------
    list
        Sources, brightest first.
    """
    # Memory: one float32 copy, its smoothed version (freed before labelling), two boolean maps
    # and the int32 labels, about 14 bytes per pixel of the searched area at the peak.
    work = np.array(image, dtype=np.float32)
    finite = np.isfinite(work)
    if not finite.any():
        return []
    sky, _ = _sky_noise(work)
    work -= np.float32(sky)
    work[~finite] = 0
    smoothed = ndimage.gaussian_filter(work, smooth_sigma) if smooth_sigma > 0 else work.copy()
    smoothed[~finite] = np.nan
    _, smooth_noise = _sky_noise(smoothed)
    del finite
    # Hysteresis: a segment is everything connected above `segment_sigma`, and it counts as a
    # source only if its peak reaches `detect_sigma`. Faint outskirts then join their galaxy
    # (a fuller R90) instead of breaking into islands that would each make a stamp.
    above = smoothed > min(segment_sigma, detect_sigma) * smooth_noise
    labels, n_labels = ndimage.label(above, structure=np.ones((3, 3)))
    del above
    peaks = ndimage.maximum(smoothed, labels, index=np.arange(1, n_labels + 1)) if n_labels else []
    detected = np.flatnonzero(np.asarray(peaks) > detect_sigma * smooth_noise) + 1
    del smoothed
    sources: list[_Source] = []
    boxes = ndimage.find_objects(labels)
    for index in detected:
        box = boxes[index - 1]
        if box is None:
            continue
        segment = labels[box] == index
        area = int(segment.sum())
        if area < min_area:
            continue
        values = np.clip(work[box], 0, None) * segment
        flux = float(values.sum())
        if flux <= 0:
            continue
        yy, xx = np.nonzero(segment)
        weights = values[yy, xx]
        cy = float((yy * weights).sum() / flux)
        cx = float((xx * weights).sum() / flux)
        radius = np.hypot(yy - cy, xx - cx)
        order = np.argsort(radius)
        cumulative = np.cumsum(weights[order])
        r90 = float(radius[order][np.searchsorted(cumulative, 0.9 * cumulative[-1])])
        sources.append(
            _Source(y=cy + box[0].start, x=cx + box[1].start, flux=flux, area=area, r90=r90)
        )
    sources.sort(key=lambda s: -s.flux)
    return sources


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


def pairs_summary(pairs: Sequence[Pair]) -> str:
    """One line describing a `PairList` (for logs and the GUI)."""
    summary = getattr(pairs, "summary", {}) or {}
    skipped = summary.get("skipped") or {}
    parts = [f"{len(pairs)} pairs"]
    if "n_sources" in summary:
        parts.append(f"from {summary['n_sources']} sources")
    if "n_regions" in summary:
        parts.append(f"from {summary['n_regions']} regions")
    reasons = ", ".join(
        f"{count} {reason.replace('_', ' ')}" for reason, count in skipped.items() if count
    )
    if reasons:
        parts.append(f"skipped: {reasons}")
    return "; ".join(parts)
