"""Training pairs: a ground image on the space grid, the matching space image, and a mask.

Every source of pairs ends in the same `Pair`: the ground image is resampled onto the space
image's pixel grid with `seeinggan.geometry.resample_to_grid(..., conserve="flux")`, the same
arithmetic `seeinggan.infer.Deblurrer` uses at inference, so training and deblurring see the same
kind of input. This module holds the type (`Pair`, `PairList`), the one way to build one
(`make_pair`) and its one-line summary. Sources of pairs, one module each:

- `seeinggan.data.folder`: `folder_pairs`, a folder ``ground/NAME.fits`` + ``space/NAME.fits``
  (as written by `seeinggan.simulate.write_pairs`).
- `seeinggan.data.stamps`: `pairs_from_frames`, a ground frame and a space frame of one field;
  sources are detected on the space frame (`seeinggan.data.detection`) and matched stamps of
  side 2 x R90 (the paper's section 2.9) are cut around them; `pairs_from_regions`, boxes drawn by
  a user (the napari Fine-tune dock), in space-frame pixels.
- `seeinggan.data.simulated`: pairs from the simulator, on the fly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy.wcs import WCS

__all__ = [
    "pairs_summary",
    "Pair",
    "PairList",
    "make_pair",
]


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
