"""Sources on a space frame: detection, centroid, flux and R90, and the 2 x R90 stamp side.

`seeinggan.data.stamps.pairs_from_frames` cuts its stamps around these sources.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["detect_sources", "stamp_size_from_r90"]

_MIN_STAMP = 64
_STAMP_MULTIPLE = 16


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

