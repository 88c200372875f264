"""Deblur a frame of any size straight into a FITS file, in memory that does not grow with it.

`deblur_to_fits` does what `seeinggan.infer.Deblurrer.deblur` does, a band of tiles at a time:

1. The output grid (the model's pixel scale, optionally binned to a coarser ``output_pixel_scale``)
   and its WCS are known from the input's shape and WCS alone (`seeinggan.geometry`), so the output
   file is created first with its final header (`seeinggan.infer.header`), under a temporary name
   in the target folder (`seeinggan.io.atomic.atomic_path`), its data section a sparse file of
   zeros (`seeinggan.io.fits.create_image_file`). Its size is checked against the free disk space
   first (`seeinggan.io.atomic.check_output_folder`).
2. What the model is told is decided once per frame, never per tile, by the `Deblurrer`'s own
   pieces: the intensity transform (fitted on `frame_fit_sample`, or the given sky/noise), the
   seeing conditions and the trained-range check.
3. Tiles are planned on the model grid (`seeinggan.infer.tiling.plan_tiles`, the same grid as the
   in-memory path). The input is resampled onto the model grid as a strip of whole rows that
   moves down the frame with the tile rows (`_ResampledRows`): each model-grid row is resampled
   once (`seeinggan.geometry.zoom_window`, which reads only the input rows under it plus a
   margin), although neighbouring tile rows overlap. The tiles of a tile row are cut from the
   strip, go through `Deblurrer._forward` (the same per-tile forward, transform and conditions as
   the in-memory path) a batch at a time, and are blended with the same normalised Hann weights
   (`seeinggan.infer.tiling.tile_blend`) into a band of output rows in memory.
4. Rows that no later tile touches are final: they are binned if asked, and written into the
   file's data section through a memory map of just those rows, which is flushed and unmapped
   (the pages of a mapping count towards a process's resident memory; a band-sized mapping keeps
   that bounded). At the end the file is flushed to disk and renamed to its final name.

Peak memory: the input frame (as given: in memory or a memory map) plus one band of tile rows
across the output and one strip of resampled input rows (each ``tile x model-grid columns``
float32) plus one batch of tiles; it does not depend on the number of output rows. For frames
small enough that the whole resampled frame is below `WHOLE_FIT_PIXELS`, the result equals
`Deblurrer.deblur`'s to float rounding.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from seeinggan import geometry
from seeinggan.errors import InputError
from seeinggan.infer.tiling import plan_tiles, reflect_indices, tile_blend
from seeinggan.progress import ProgressCallback, StopCallback, check_stop
from seeinggan.transforms import IntensityTransform

__all__ = [
    "WHOLE_FIT_PIXELS",
    "deblur_to_fits",
    "estimate_output_bytes",
    "fit_frame_transform",
    "frame_fit_sample",
    "output_bin",
    "output_grid",
    "steady_allocator",
]

WHOLE_FIT_PIXELS = 4_000_000
"""Resampled frames up to this many pixels are fitted whole (exactly as `Deblurrer.deblur`)."""

FIT_SAMPLE_PIXELS = 1_000_000
"""Larger frames are fitted on windows of this many resampled pixels in all, spread over the frame
(8 x 8 windows of 125 x 125: some 20,000 independent ground pixels, so the noise is measured to
~0.5%). `Deblurrer.deblur` fits such frames on a regular subsample of the whole resampled frame
instead; the two transforms agree to that precision, not bit for bit."""

_FIT_WINDOWS_PER_AXIS = 8
_CHUNK_PIXELS = 1 << 20
"""Model-grid pixels of input resampled by one call (new rows of the strip, a block of columns)."""



_MMAP_THRESHOLD_BYTES = 64 << 20
_TRIM_THRESHOLD_BYTES = 128 << 20


def steady_allocator() -> bool:
    """Keep the C allocator from handing the network's buffers back to the system after every batch.

    glibc serves an allocation above its threshold (dynamic: 128 kB, rising to at most 32 MB) with
    fresh pages from ``mmap`` and unmaps them when freed, so torch's activations for a batch of
    256 x 256 tiles (16 MB each) fault in new zeroed pages on every batch. Measured on the shipped
    model, 150 tiles of a 512² frame, 1 thread: ~1.1 million minor page faults and 3.1-3.4 CPU s per
    output Mpx, against ~0.12 million and 2.15 s/Mpx with the thresholds fixed at 64 MB (mmap) and
    128 MB (trim); peak RSS unchanged (565 vs 558 MB). Whether the dynamic threshold happened to
    rise above the activations' size depended on what the process freed before, which made the
    same run 30% faster or slower at random. Process-wide (it is the process's allocator) and
    idempotent; on systems without glibc's ``mallopt`` it does nothing.

    Returns
    -------
    bool
        True when the thresholds were set.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's <malloc.h>
    return bool(mallopt(m_mmap_threshold, _MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(m_trim_threshold, _TRIM_THRESHOLD_BYTES))


def _snap_factor(input_scale: float, model_scale: float) -> float:
    factor = input_scale / model_scale
    return 1.0 if abs(factor - 1.0) < 1e-3 else factor


def output_grid(
    shape: tuple[int, int],
    *,
    input_scale: float,
    model_scale: float,
    wcs: WCS | None = None,
    output_pixel_scale: float | None = None,
) -> dict[str, Any]:
    """The model grid and the output grid of a frame, before any pixel is computed.

    Parameters
    ----------
    shape : tuple of int
        Input ``(rows, cols)``.
    input_scale, model_scale : float
        Arcsec per pixel of the input and of the model's grid.
    wcs : astropy.wcs.WCS, optional
        The input's celestial WCS.
    output_pixel_scale : float, optional
        A coarser output grid: a whole multiple (within 1%) of ``model_scale``; the model's
        output is binned onto it (`seeinggan.geometry.bin_image`).

    Returns
    -------
    dict
        ``factor`` (input over model scale), ``work_shape`` (model grid), ``bin`` (pixels per
        output pixel along each axis), ``shape`` and ``wcs`` (the output grid) and
        ``pixel_scale`` (output arcsec/px).
    """
    factor = _snap_factor(input_scale, model_scale)
    work_shape = tuple(int(n) for n in shape) if factor == 1.0 else geometry.upsampled_shape(shape, factor)
    work_scale = input_scale / factor
    k = output_bin(output_pixel_scale, work_scale)
    out_shape = work_shape if k == 1 else geometry.upsampled_shape(work_shape, 1.0 / k)
    out_wcs = None
    if wcs is not None:
        out_wcs = wcs.deepcopy() if factor == 1.0 else geometry.upsampled_wcs(wcs, factor, shape)
        if k > 1:
            out_wcs = geometry.upsampled_wcs(out_wcs, 1.0 / k, work_shape)
    return {
        "factor": factor,
        "work_shape": work_shape,
        "bin": k,
        "shape": tuple(out_shape),
        "wcs": out_wcs,
        "pixel_scale": work_scale * k,
    }


def output_bin(output_pixel_scale: float | None, model_scale: float) -> int:
    """Model pixels per output pixel (per axis) for ``output_pixel_scale``; 1 for None."""
    if output_pixel_scale is None:
        return 1
    value = float(output_pixel_scale)
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"output pixel scale must be a positive number of arcsec/px, got {output_pixel_scale!r}")
    k = round(value / model_scale)
    if k < 1 or abs(value / (k * model_scale) - 1.0) > 0.01:
        raise InputError(
            f"output pixel scale {value:g}\"/px must be a whole multiple of the model's "
            f"{model_scale:g}\"/px (for example {model_scale:g}, {2 * model_scale:g}, {4 * model_scale:g})"
        )
    return int(k)


def fit_frame_transform(
    image: np.ndarray, *, factor: float, template: IntensityTransform
) -> IntensityTransform:
    """`IntensityTransform` of a frame fitted on `frame_fit_sample` (see there)."""
    return template.fit(frame_fit_sample(image, factor=factor))


def frame_fit_sample(image: np.ndarray, *, factor: float) -> np.ndarray:
    """The resampled pixels the intensity transform of a whole frame is fitted on, in bounded memory.

    The transform's sky and noise are those of the network's input: the frame resampled onto the
    model grid (the convention the model was trained with; a fit at the native scale would need
    the resampling's noise gain, which differs for correlated-noise stacks). Frames whose
    resampled size is at most `WHOLE_FIT_PIXELS` are resampled whole and fitted exactly as
    `Deblurrer.deblur` does; larger frames are fitted on an 8 x 8 grid of windows spread
    evenly over the frame, `FIT_SAMPLE_PIXELS` resampled pixels in all.
    """
    if factor == 1.0:
        return np.asarray(image)
    work_shape = geometry.upsampled_shape(image.shape, factor)
    if work_shape[0] * work_shape[1] <= WHOLE_FIT_PIXELS:
        return geometry.zoom_to_scale(np.asarray(image, dtype=np.float32), factor=factor, order=3, conserve="flux")
    side = int(math.sqrt(FIT_SAMPLE_PIXELS / _FIT_WINDOWS_PER_AXIS**2))
    pieces = []
    for r in _spread(work_shape[0], side, _FIT_WINDOWS_PER_AXIS):
        for c in _spread(work_shape[1], side, _FIT_WINDOWS_PER_AXIS):
            block = geometry.zoom_window(image, factor=factor, rows=r, cols=c)
            pieces.append(block.ravel())
    return np.concatenate(pieces)


def _spread(length: int, side: int, count: int) -> list[tuple[int, int]]:
    side = min(side, length)
    n = max(1, min(count, length // side))
    starts = np.linspace(0, length - side, n).round().astype(int)
    return [(int(s), int(s) + side) for s in np.unique(starts)]


def estimate_output_bytes(shape: tuple[int, int]) -> int:
    """Bytes of a float32 FITS image of ``shape`` (header and 2880-byte padding included)."""
    data = 4 * int(shape[0]) * int(shape[1])
    return -(-data // 2880) * 2880 + 2 * 2880 * 4


def deblur_to_fits(
    deblurrer,
    data: np.ndarray,
    path: str | os.PathLike,
    *,
    wcs: WCS | None = None,
    pixel_scale: float | None = None,
    header: fits.Header | None = None,
    history: list[str] | tuple[str, ...] = (),
    output_pixel_scale: float | None = None,
    progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
    seeing: float | None = None,
    sky: float | None = None,
    noise: float | None = None,
    seeing_keyword: str | None = None,
    overwrite: bool = False,
):
    """Deblur one 2-D frame into a new FITS file, streaming (see the module docstring).

    Parameters
    ----------
    deblurrer : seeinggan.infer.Deblurrer
        The model and the tiling settings.
    data : numpy.ndarray
        2-D image in flux units (may be a memory map of a FITS file, in any byte order).
    path : str or path-like
        The FITS file to create; it must not exist. Written under a temporary name in the same
        folder and renamed when complete, so a crash never leaves a half-written ``path``.
    wcs, pixel_scale
        As in `Deblurrer.deblur`.
    header : astropy.io.fits.Header, optional
        Input keywords to carry over (the WCS is replaced by the output grid's).
    history : sequence of str, optional
        Extra HISTORY lines (after the model and settings lines written here).
    output_pixel_scale : float, optional
        Output grid scale, a whole multiple of the model's (see `output_grid`). Coarser grids
        make smaller files; the network still runs on the model's grid.
    progress, should_stop, seeing, sky, noise
        As in `Deblurrer.deblur` (progress counted in tiles; the model's warnings are raised
        as there, before any tile).
    seeing_keyword : str, optional
        The input header keyword the seeing came from (for `seeinggan.infer.header`).
    overwrite : bool, optional
        Replace an existing ``path`` (atomically, at the end). Default: an existing file is an
        error before any work.

    Returns
    -------
    DeblurResult
        ``data`` is a read-only memory map of the written file's data (big-endian float32).
    """
    from seeinggan.infer import sanity
    from seeinggan.infer.deblurrer import DeblurResult, _as_2d, _record_guard, history_lines
    from seeinggan.infer.header import deblurred_header
    from seeinggan.io.atomic import atomic_path, check_output_folder
    from seeinggan.io.fits import FitsExistsError, create_image_file
    from seeinggan.units import to_arcsec

    path = Path(path)
    if path.exists() and not overwrite:
        raise FitsExistsError(f"{path}: file exists; refusing to overwrite it")
    image = _as_2d(data)
    input_scale = sanity.check_pixel_scale(deblurrer._input_scale(wcs, pixel_scale), what="input pixel scale")
    seeing = to_arcsec(seeing, name="seeing", positive=True)
    output_pixel_scale = to_arcsec(output_pixel_scale, name="output_pixel_scale", per_pixel=True)
    plan = output_grid(
        image.shape, input_scale=input_scale, model_scale=deblurrer.pixel_scale, wcs=wcs,
        output_pixel_scale=output_pixel_scale,
    )
    factor, work_shape, k = plan["factor"], plan["work_shape"], plan["bin"]
    out_rows, out_cols = plan["shape"]
    if work_shape[0] * work_shape[1] > sanity.MAX_OUTPUT_PIXELS:
        raise sanity.InputError(f"{path.name}: a {work_shape[1]}x{work_shape[0]} px model grid; check the pixel scale")
    check_output_folder(path.parent, needed_bytes=estimate_output_bytes(plan["shape"]), what=path.name)

    # What the model is told: the Deblurrer's own pieces, fitted once on the frame.
    sample = frame_fit_sample(image, factor=factor)
    no_signal = sanity.has_no_signal(sample)
    transform, source = deblurrer._fit_transform(sample, factor=factor, sky=sky, noise=noise) if not no_signal else (
        IntensityTransform(sky=0.0, noise=1.0), "none")
    conditions, seeing_used, seeing_source = deblurrer._conditions(seeing, input_scale)
    # the range check's peak: the frame's brightest pixel, in model-grid units
    peak = np.nanmax(image) / factor**2 if np.isfinite(image).any() else np.nan
    problems = [] if no_signal else deblurrer._check_ranges(seeing, input_scale, np.array([peak]), transform)
    grid = plan_tiles(work_shape, tile=deblurrer.tile, overlap=deblurrer.overlap, multiple=deblurrer.multiple)
    metadata = deblurrer._result_metadata(
        transform=transform.to_dict() if not no_signal else {}, grid=grid, input_scale=input_scale,
        out_scale=plan["pixel_scale"], factor=factor,
    )
    metadata.update(seeing=seeing_used, seeing_source=seeing_source, sky_noise_source=source,
                    out_of_range=problems, observed_pixel_scale=float(input_scale))
    guard = None if no_signal else deblurrer._support_guard(seeing_used, input_scale)
    _record_guard(metadata, guard)
    metadata["settings"]["streamed"] = True
    metadata["settings"]["output_bin"] = k
    if no_signal:
        metadata["history"] = "deblur: no signal (constant image): resampled only"
        metadata["no_signal"] = True
    lines = [
        *history_lines(metadata),
        f"deblur: {input_scale:.4g} -> {plan['pixel_scale']:.4g} arcsec/px, device {metadata['settings']['device']}",
    ]
    if k > 1:
        lines.append(f"deblur: model grid {input_scale / factor:.4g}\"/px binned {k}x{k}")
    lines.extend(history)
    out_header = deblurred_header(header, metadata, seeing_keyword=seeing_keyword)

    steady_allocator()
    with atomic_path(path, overwrite=overwrite) as temporary:
        offset = create_image_file(temporary, plan["shape"], header=out_header, wcs=plan["wcs"], history=lines)
        writer = _RowWriter(temporary, offset, plan["shape"], work_shape, k)
        forward = (lambda tiles: tiles.astype(np.float64)) if no_signal else (
            lambda tiles: deblurrer._forward(tiles, transform, conditions=conditions, guard=guard))
        _stream_tiles(image, factor, grid, forward, deblurrer.batch_size, writer, progress=progress,
                      should_stop=should_stop)
        writer.close()
    result = np.memmap(path, dtype=">f4", mode="r", offset=offset, shape=(out_rows, out_cols))
    return DeblurResult(result, plan["wcs"], float(plan["pixel_scale"]), metadata)


class _RowWriter:
    """Takes final model-grid rows in order, bins them, writes them into the file's data section."""

    def __init__(self, path: Path, offset: int, shape: tuple[int, int], work_shape: tuple[int, int], k: int):
        self.path, self.offset, self.shape, self.work_shape, self.k = path, offset, shape, work_shape, k
        self.pending = np.empty((0, work_shape[1]), dtype=np.float32)
        self.rows_done = 0  # output rows written
        self.work_rows_seen = 0

    def push(self, rows: np.ndarray) -> None:
        self.work_rows_seen += rows.shape[0]
        if self.k == 1:
            self._write(rows)
            return
        block = np.concatenate([self.pending, rows]) if self.pending.size else rows
        whole = (block.shape[0] // self.k) * self.k
        if whole:
            self._write(geometry.bin_image(block[:whole], self.k, shape=(whole // self.k, self.shape[1])))
        self.pending = np.array(block[whole:], dtype=np.float32)

    def close(self) -> None:
        left = self.shape[0] - self.rows_done
        if self.k > 1 and left > 0 and self.pending.shape[0]:
            self._write(geometry.bin_image(self.pending, self.k, shape=(left, self.shape[1])))
        if self.rows_done != self.shape[0] or self.work_rows_seen != self.work_shape[0]:
            raise RuntimeError(
                f"internal error: {self.rows_done} of {self.shape[0]} output rows written "
                f"({self.work_rows_seen} of {self.work_shape[0]} model-grid rows)"
            )

    def _write(self, rows: np.ndarray) -> None:
        n = min(rows.shape[0], self.shape[0] - self.rows_done)
        if n <= 0:
            return
        start = self.offset + 4 * self.rows_done * self.shape[1]
        mapped = np.memmap(self.path, dtype=">f4", mode="r+", offset=start, shape=(n, self.shape[1]))
        mapped[:] = rows[:n]
        mapped.flush()
        del mapped  # unmapped: its pages no longer count as this process's memory
        self.rows_done += n


class _ResampledRows:
    """A strip of whole model-grid rows of the input, each row resampled once.

    Tile rows overlap (by ``overlap`` of their ``tile`` rows), so resampling each tile's window
    would resample most model-grid pixels twice or more. The strip keeps the rows the current
    tile row needs; moving down, it drops the rows above and resamples only the new ones
    (`seeinggan.geometry.zoom_window`, a block of at most `_CHUNK_PIXELS` at a time, so the
    resampler's temporaries stay small). Memory: ``tile x model-grid columns`` float32.
    """

    def __init__(self, image: np.ndarray, factor: float, work_shape: tuple[int, int]):
        self.image, self.factor = image, factor
        self.cols = int(work_shape[1])
        self.start = 0
        self.rows = np.empty((0, self.cols), dtype=np.float32)

    @property
    def stop(self) -> int:
        return self.start + self.rows.shape[0]

    def take(self, lo: int, hi: int) -> np.ndarray:
        """Model-grid rows ``lo .. hi - 1`` (all columns); ``strip[i]`` is row ``lo + i``."""
        if lo < self.start or lo > self.stop:  # not a continuation of the strip: start afresh
            self.start, self.rows = lo, np.empty((0, self.cols), dtype=np.float32)
        kept = self.rows[lo - self.start :]
        new = self._resample(self.stop, hi) if hi > self.stop else None
        self.rows = kept if new is None else np.concatenate([kept, new])
        self.start = lo
        return self.rows[: hi - lo]

    def _resample(self, lo: int, hi: int) -> np.ndarray:
        if self.factor == 1.0:
            return np.asarray(self.image[lo:hi], dtype=np.float32)
        out = np.empty((hi - lo, self.cols), dtype=np.float32)
        step = max(1, _CHUNK_PIXELS // (hi - lo))
        for c0 in range(0, self.cols, step):
            c1 = min(self.cols, c0 + step)
            out[:, c0:c1] = geometry.zoom_window(self.image, factor=self.factor, rows=(lo, hi), cols=(c0, c1))
        return out


def _stream_tiles(image, factor, grid, forward, batch_size: int, writer: _RowWriter, *, progress, should_stop) -> None:
    rows, cols = grid.shape
    tile_r, tile_c = grid.tile
    col_starts = grid.starts[1]
    col_idx = [reflect_indices(c0 - grid.pad, tile_c, cols) for c0 in col_starts]
    total = grid.n_tiles
    done = 0
    if progress is not None:
        progress(0, total)
    strip = _ResampledRows(image, factor, grid.shape)
    band = np.zeros((0, cols), dtype=np.float32)
    band_start = 0  # model-grid row of band[0]
    row_starts = grid.starts[0]
    for i, r0 in enumerate(row_starts):
        last_row = min(r0 + tile_r - grid.pad, rows)
        # Grow the band to cover this tile row (rows above band_start were written already).
        if last_row - band_start > band.shape[0]:
            band = np.concatenate([band, np.zeros((last_row - band_start - band.shape[0], cols), np.float32)])
        row_idx = reflect_indices(r0 - grid.pad, tile_r, rows)
        r_lo, r_hi = int(row_idx.min()), int(row_idx.max()) + 1
        check_stop(should_stop)
        block = strip.take(r_lo, r_hi)
        local_rows = row_idx - r_lo
        for b in range(0, len(col_starts), batch_size):
            check_stop(should_stop)
            batch = range(b, min(b + batch_size, len(col_starts)))
            tiles = np.stack([block[np.ix_(local_rows, col_idx[t])] for t in batch])
            outputs = forward(tiles)
            for t, tile_out in zip(batch, outputs, strict=True):
                blend = tile_blend(grid, r0, col_starts[t])
                if blend is None:
                    continue
                part = tile_out[blend.tile_rows, blend.tile_cols] * blend.weights
                # NaN input pixels stay NaN: every tile adds NaN there.
                part[np.isnan(block[blend.rows.start - r_lo : blend.rows.stop - r_lo, blend.cols])] = np.nan
                band[blend.rows.start - band_start : blend.rows.stop - band_start, blend.cols] += part.astype(
                    np.float32
                )
            done += len(batch)
            if progress is not None:
                progress(done, total)
        # Rows above the next tile row's first row are final.
        final_to = rows if i + 1 == len(row_starts) else max(row_starts[i + 1] - grid.pad, 0)
        final_to = max(final_to, band_start)
        n_final = final_to - band_start
        if n_final > 0:
            writer.push(band[:n_final])
            band = band[n_final:].copy()
            band_start = final_to
