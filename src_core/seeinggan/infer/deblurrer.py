"""`Deblurrer`: run a SeeingGAN generator over images of any size.

The steps of `Deblurrer.deblur`, each in its one home:

1. the input goes onto the model's working pixel scale (``metadata["pixel_scale_arcsec"]``,
   0.03"/px for the paper's HST grid) with `seeinggan.geometry.zoom_to_scale` (``conserve="flux"``:
   counts per output pixel) and its WCS with `seeinggan.geometry.upsampled_wcs`;
2. the `seeinggan.transforms.IntensityTransform` is fitted once on that resampled image (the whole
   image given), or built from the ``sky=`` / ``noise=`` the caller measured on a whole frame;
   a seeing-conditioned model is told the seeing (``seeing=``) and the input pixel scale, and
   an image outside the model's trained ranges raises an `OutOfRangeWarning` (a warning: the
   result is still made);
3. tiles (`seeinggan.infer.tiling`) go through the network ``batch_size`` at a time under
   ``torch.inference_mode`` in float32; NaN pixels are given the sky level for the network;
4. each tile's output returns to flux units (the transform's inverse) and is blended into the
   output with smooth weights; NaN input positions (on the resampled grid) are NaN again.

Memory is bounded by the tile batch plus the resampled input and the output image, which is
memory-mapped to a file when ``out=`` names one, or to a temporary file (deleted when the array
is released) above ``stream_threshold`` bytes.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from astropy.wcs import WCS

from seeinggan.constants import SPACE_PIXEL_SCALE
from seeinggan.devices import resolve_device
from seeinggan.errors import InputError
from seeinggan.infer import sanity
from seeinggan.infer.maps import TrustMaps
from seeinggan.infer.support import GUARD_SCALES, GUARD_SMOOTH_FWHM, SupportGuard
from seeinggan.infer.tiling import (
    TileGrid,
    plan_tiles,
    read_tile,
    receptive_field_radius,
    reflect_indices,
    tile_blend,
)
from seeinggan.models.conditions import (
    DEFAULT_SEEING,
    AssumedSeeingWarning,
    OutOfRangeWarning,
    condition_vector,
    out_of_range,
    trained_ranges,
)
from seeinggan.progress import ProgressCallback, StopCallback, check_stop
from seeinggan.transforms import IntensityTransform
from seeinggan.units import AngleLike, to_arcsec

logger = logging.getLogger(__name__)

__all__ = ["DeblurResult", "Deblurrer", "OutOfRangeWarning", "AssumedSeeingWarning", "resolve_device"]

DEFAULT_STREAM_THRESHOLD = 1 << 30
"""Outputs larger than this (bytes, float32) are memory-mapped to a temporary file."""


@dataclass
class DeblurResult:
    """The output of `Deblurrer.deblur`.

    Attributes
    ----------
    data : numpy.ndarray
        The deblurred image (float32, possibly a `numpy.memmap`), in the input's flux units per
        output pixel: totals are those of the input (counts per pixel times the area ratio).
        NaN where the resampled input was NaN. For `Deblurrer.deblur_cutouts`, a stack
        ``[N, H, W]``.
    wcs : astropy.wcs.WCS or None
        Celestial WCS of the output grid (None when the input came with a pixel scale only).
    pixel_scale : float
        Output pixel scale in arcsec per pixel.
    metadata : dict
        Model name and path, settings (tile, overlap, batch size, device), pixel scales,
        the fitted intensity transform(s), date and seeinggan version; ``"history"`` is a
        one-line summary for a FITS HISTORY card.
    maps : seeinggan.infer.maps.TrustMaps or None
        The uncertainty and consistency maps with their WCS and summary, when asked for
        (``deblur(..., uncertainty=True, consistency=True)``).
    """

    data: np.ndarray
    wcs: WCS | None
    pixel_scale: float
    metadata: dict[str, Any] = field(default_factory=dict)
    maps: TrustMaps | None = None

    @property
    def uncertainty(self) -> np.ndarray | None:
        """The uncertainty map (output grid, flux units), or None."""
        return None if self.maps is None else self.maps.uncertainty

    @property
    def consistency(self) -> np.ndarray | None:
        """The consistency (chi) map (input grid), or None."""
        return None if self.maps is None else self.maps.consistency


class Deblurrer:
    """Deblur seeing-limited images with a SeeingGAN generator.

    Parameters
    ----------
    model : "default", "adversarial", str, Path or (generator, metadata)
        A shipped model's name (``"default"``: the fidelity model, for science;
        ``"adversarial"``: realistic texture, not for photometry), a saved user model's name, a
        path to ``NAME.safetensors`` / ``NAME.json`` (`seeinggan.models.io.resolve_model`; an
        unknown name raises `ModelFileError` listing the models); or an already built generator with its metadata
        dict (keys as in a model file; missing pixel scales default to 0.03 and 0.202).
    device : str, optional
        ``"auto"`` (CUDA > MPS > CPU), ``"cpu"``, ``"cuda"``, ``"mps"``...
    tile : int, optional
        Tile side in pixels on the model grid (a multiple of the network's ``2**n_down``).
    overlap : int or "auto", optional
        Overlap between tiles in pixels. Tiled output equals untiled output (to float
        rounding) when ``overlap >= 4 * receptive_field_radius``; see `seeinggan.infer.tiling`.
        ``"auto"`` (the default) takes that overlap, capped at ``tile // 2`` (no seams at the
        tile stride; costs up to 4x the untiled work, against 1.3x for a fixed 32 px).
    batch_size : int, optional
        Tiles per forward pass: memory grows with it, not with the image.
    stream_threshold : int, optional
        Output size in bytes above which `deblur` writes into a temporary memory-mapped file.
    support_guard : bool, optional
        Keep the network's restored detail only where the input shows significant detail near
        the resolution limit, and spread it over 1.5 seeing FWHM elsewhere, flux kept
        (`seeinggan.infer.support`; on by default). It needs the seeing (given, or assumed by a
        conditioned model). Turn it off to see the network's raw output (e.g. the adversarial
        model's texture).

    Attributes
    ----------
    generator : torch.nn.Module
        The network, in eval mode on `device`.
    metadata : dict
        The model's metadata.
    pixel_scale : float
        The model's working (output) pixel scale, arcsec/px.
    receptive_field_radius : int
        Theoretical receptive-field radius of the network, pixels.
    """

    def __init__(
        self,
        model: str | os.PathLike | tuple[torch.nn.Module, dict[str, Any]] = "default",
        *,
        device: str | torch.device = "auto",
        tile: int = 256,
        overlap: int | str = "auto",
        batch_size: int = 4,
        stream_threshold: int = DEFAULT_STREAM_THRESHOLD,
        support_guard: bool = True,
    ):
        from seeinggan.infer.streaming import steady_allocator

        # Every path (in memory, streamed, cutouts, the napari dock) runs the network batch after
        # batch: fixed allocator thresholds keep its speed steady (15-30% otherwise, at random).
        steady_allocator()
        self.device = resolve_device(device)
        if isinstance(model, tuple):
            generator, metadata = model
            self.model_path: Path | None = None
            metadata = dict(metadata or {})
            name = str(metadata.get("name") or type(generator).__name__)
        else:
            from seeinggan.models.io import load_model, resolve_model

            path = resolve_model(model)  # a shipped model's name, a saved model's name or a file
            generator, metadata = load_model(path, device="cpu")
            self.model_path = Path(path)
            name = str(metadata.get("name") or Path(path).stem)
        self.generator = generator.to(self.device, memory_format=torch.channels_last).eval()  # type: ignore[call-overload]
        self.metadata = metadata
        self.model_name = name
        self.pixel_scale = float(metadata.get("pixel_scale_arcsec", SPACE_PIXEL_SCALE))
        self.multiple = int(getattr(generator, "multiple", 16))
        self.receptive_field_radius = receptive_field_radius(generator)
        if int(tile) % self.multiple or int(tile) < 2 * self.multiple:
            raise InputError(
                f"tile must be a multiple of {self.multiple} and at least {2 * self.multiple}, got {tile}"
            )
        self.tile = int(tile)
        if overlap == "auto":
            overlap = min(4 * self.receptive_field_radius, self.tile // 2)
        self.overlap = int(overlap)
        if not 0 <= self.overlap <= self.tile - self.multiple:
            raise InputError(f"overlap must be between 0 and {self.tile - self.multiple}, got {overlap}")
        if int(batch_size) < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.stream_threshold = int(stream_threshold)
        self.support_guard = bool(support_guard)
        template = {k: v for k, v in (metadata.get("intensity_transform") or {}).items() if k in ("kind", "softening")}
        self.transform_template = IntensityTransform.from_dict(template)
        self.n_conditions = int(getattr(generator, "n_conditions", 0) or 0)
        self.trained_ranges = trained_ranges(metadata)

    def __repr__(self) -> str:
        return (
            f"Deblurrer(model={self.model_name!r}, device={str(self.device)!r}, tile={self.tile}, "
            f"overlap={self.overlap}, batch_size={self.batch_size})"
        )

    # ----------------------------------------------------------------------------------------
    # Whole images
    # ----------------------------------------------------------------------------------------

    def deblur(
        self,
        data: np.ndarray,
        *,
        wcs: WCS | None = None,
        pixel_scale: AngleLike | None = None,
        progress: ProgressCallback | None = None,
        should_stop: StopCallback | None = None,
        out: str | os.PathLike | np.ndarray | None = None,
        output_pixel_scale: AngleLike | None = None,
        seeing: AngleLike | None = None,
        sky: float | None = None,
        noise: float | np.ndarray | None = None,
        input_pixel_scale: AngleLike | None = None,
        uncertainty: bool = False,
        consistency: bool = False,
        moffat_beta: float | None = None,
        psf_model: str = "moffat",
        gain: float | None = None,
        clean_cosmic_rays: bool = False,
    ) -> DeblurResult:
        """Deblur one 2-D image onto the model's pixel grid.

        Parameters
        ----------
        data : numpy.ndarray
            2-D image in any flux units (counts per pixel). Leading axes of length 1 are
            dropped; a real cube raises ValueError (deblur its planes one by one). NaN/inf
            pixels are masked: the network sees the sky level there and the output is NaN.
        wcs : astropy.wcs.WCS, optional
            Celestial WCS of `data`; gives the pixel scale and the output WCS.
        pixel_scale : float or astropy Quantity, optional
            Input pixel scale in arcsec/px (or an angle per pixel, `seeinggan.units`), for data
            without a celestial WCS. With a WCS too, both must agree within 1%.
        progress : callable, optional
            ``progress(done_tiles, total_tiles)`` after each batch of tiles.
        should_stop : callable, optional
            Polled before each batch of tiles; `seeinggan.Cancelled` is raised when it says so.
        out : str, Path or numpy.ndarray, optional
            A ``.npy`` path to stream the output into (memory-mapped, kept), or a float32 array
            of the output shape to fill. By default the output is in memory, or in a deleted-
            on-release temporary memory-mapped file when larger than ``stream_threshold``.
            With ``output_pixel_scale``, ``out`` receives the model-grid image before binning.
        output_pixel_scale : float or astropy Quantity, optional
            A coarser output grid (arcsec/px), a whole multiple of the model's pixel scale: the network runs
            on the model's grid and its output is binned (flux kept; `seeinggan.geometry.bin_image`),
            so the result is smaller but not faster to compute. Default: the model's own scale.
        seeing : float or astropy Quantity, optional
            Seeing FWHM of the image in arcsec (from the header's SEEING/FWHM keywords, see
            `seeinggan.models.conditions.seeing_from_header`, or measured on stars). A
            seeing-conditioned model without it assumes the middle of its trained range and
            warns (`AssumedSeeingWarning`); older models ignore it except for the range check.
        sky, noise : float, optional
            Sky level and per-pixel noise of the input (``noise`` may also be a per-pixel noise
            map of the input, used by the consistency map only), in its own flux units per pixel as
            observed (per `input_pixel_scale` pixel when that is given),
            measured on the whole frame (e.g. `seeinggan.transforms.measure_sky_noise` on the
            full HDU) or from the header. Give them when `data` is a cutout filled by a galaxy:
            by default they are measured on `data` itself. Either may be given alone.
        input_pixel_scale : float or astropy Quantity, optional
            For an image already resampled from a coarser grid (e.g. a training pair's ground
            image on the space grid): the pixel scale it was observed with, in arcsec/px, which
            a conditioned model is told and the range check uses. Default: its own pixel scale.
        uncertainty : bool, optional
            Also compute the uncertainty map: the spread over the 8 dihedral views of every tile
            (8 times the network work; `seeinggan.infer.maps`). The output itself is unchanged.
        consistency : bool, optional
            Also compute the consistency (chi) map on the input grid; needs ``seeing``.
        moffat_beta : float, optional
            Moffat index of that PSF (default `seeinggan.infer.maps.DEFAULT_MOFFAT_BETA`).
        psf_model : {"moffat", "kolmogorov"}, optional
            Shape of that PSF. The output is taken to carry the PSF of the model's training
            targets (``metadata["target_psf"]``, default ``"space"``), which the re-blurring
            kernel divides out.
        gain : float, optional
            Detector gain in e-/count: the chi map's noise then includes the source's Poisson
            noise, and cosmic-ray cleaning needs it.
        clean_cosmic_rays : bool, optional
            Clean cosmic rays and hot pixels from `data` first (a single exposure; stacks have had
            theirs rejected): `seeinggan.infer.cosmic_rays.find_cosmic_rays` (L.A.Cosmic), which
            needs ``gain``. The network would otherwise restore each hit as a compact source.
            ``metadata["cosmic_rays"]`` then holds the number of pixels cleaned.

        Returns
        -------
        DeblurResult
            ``metadata`` also holds ``seeing`` (the value the model was given), ``seeing_source``
            (``"given"`` or ``"assumed"``), ``sky_noise_source``, ``out_of_range`` (the
            warnings' sentences) and ``support_guard`` (its settings; None when it was off).
            With ``maps`` (a `seeinggan.infer.maps.TrustMaps`) when a map was asked for.
        """
        from seeinggan import geometry
        from seeinggan.infer.streaming import output_bin

        image = _as_2d(data)
        cosmic = self._cleaned_of_cosmic_rays(image, gain=gain, sky=sky, noise=noise, seeing=seeing,
                                              wcs=wcs, pixel_scale=pixel_scale) if clean_cosmic_rays else None
        if cosmic is not None:
            image = cosmic.cleaned
        if consistency and seeing is None:
            raise ValueError("the consistency map needs the input's seeing: pass seeing= (FWHM, arcsec)")
        if (uncertainty or consistency) and output_pixel_scale is not None:
            raise ValueError("the trust maps are made on the model's own grid: leave output_pixel_scale "
                             "unset to get them")
        input_scale = self._input_scale(wcs, pixel_scale)
        output_pixel_scale = to_arcsec(output_pixel_scale, name="output_pixel_scale", per_pixel=True)
        seeing = to_arcsec(seeing, name="seeing", positive=True)
        observed_scale = (to_arcsec(input_pixel_scale, name="input_pixel_scale", per_pixel=True, positive=True)
                          or input_scale)
        factor = input_scale / self.pixel_scale
        # Sizes, memory and time before any work (seeinggan.infer.sanity; warns when long).
        sanity.check_pixel_scale(input_scale, what="input pixel scale")
        sanity.plan_deblur(image.shape, factor, device=str(self.device),
                           in_memory_output=out is None and image.size * factor**2 * 4 <= self.stream_threshold)
        if abs(factor - 1.0) < 1e-3:
            factor = 1.0
            work = image.astype(np.float32, copy=False)
            out_wcs = wcs.deepcopy() if wcs is not None else None
            out_scale = input_scale
        else:
            work = geometry.zoom_to_scale(image.astype(np.float32, copy=False), factor=factor, order=3, conserve="flux")
            out_wcs = geometry.upsampled_wcs(wcs, factor, image.shape) if wcs is not None else None
            out_scale = input_scale / factor
        work = np.ascontiguousarray(work, dtype=np.float32)
        if sanity.has_no_signal(work):  # nothing to deblur: do not invent structure
            logger.warning("the image has no signal (constant or all zero): returned resampled, "
                           "not deblurred")
            metadata = self._result_metadata(transform={}, grid=None, input_scale=input_scale,
                                              out_scale=out_scale, factor=factor)
            metadata["history"] = "deblur: no signal (constant image): resampled only"
            metadata["no_signal"] = True
            return DeblurResult(work, out_wcs, float(out_scale), metadata)
        # A noise map feeds the chi map only.
        scalar_noise = float(noise) if noise is not None and np.ndim(noise) == 0 else None
        transform, source = self._fit_transform(work, factor=observed_scale / self.pixel_scale, sky=sky,
                                                noise=scalar_noise)
        conditions, seeing_used, seeing_source = self._conditions(seeing, observed_scale)
        problems = self._check_ranges(seeing, observed_scale, work, transform)
        guard = self._support_guard(seeing_used, observed_scale)
        grid = plan_tiles(work.shape, tile=self.tile, overlap=self.overlap, multiple=self.multiple)
        result = _allocate_output(work.shape, out, self.stream_threshold)
        spread = np.zeros(work.shape, dtype=np.float32) if uncertainty else None
        self._run_tiles(work, grid, transform, result, progress=progress, should_stop=should_stop,
                        conditions=conditions, spread=spread, guard=guard)
        if isinstance(result, np.memmap):
            result.flush()
        metadata = self._result_metadata(
            transform=transform.to_dict(), grid=grid, input_scale=input_scale, out_scale=out_scale, factor=factor
        )
        metadata.update(seeing=seeing_used, seeing_source=seeing_source, sky_noise_source=source,
                        out_of_range=problems, observed_pixel_scale=float(observed_scale),
                        cosmic_rays=None if cosmic is None else cosmic.n_pixels)
        _record_guard(metadata, guard)
        if cosmic is not None:
            metadata["history"] = f"{metadata['history']}; {cosmic.n_pixels} px cleaned of cosmic rays"
        k = output_bin(output_pixel_scale, out_scale)
        maps = None
        if uncertainty or consistency:
            from seeinggan.infer.maps import build_maps

            support = guard.weights(work, pixel_noise=transform.noise) if guard is not None else None
            maps = build_maps(result, image, spread=spread, out_wcs=out_wcs, in_wcs=wcs, factor=factor,
                              out_scale=out_scale, seeing=seeing if consistency else None,
                              moffat_beta=moffat_beta, psf_model=psf_model,
                              target_psf=self.metadata.get("target_psf", "space"), noise=noise, gain=gain,
                              support=support)
            metadata["maps"] = maps.summary.to_dict()
        if k > 1:  # a coarser output grid (survey): bin the model-grid result, edges aligned
            result = geometry.bin_image(result, k)
            out_wcs = geometry.upsampled_wcs(out_wcs, 1.0 / k, work.shape) if out_wcs is not None else None
            out_scale *= k
            metadata["pixel_scale"] = float(out_scale)
            metadata["settings"]["output_bin"] = k
        return DeblurResult(result, out_wcs, float(out_scale), metadata, maps)

    def deblur_to_file(self, data: np.ndarray, path: str | os.PathLike, **options) -> DeblurResult:
        """Deblur a frame of any size straight into a new FITS file, in bounded memory.

        The streamed path of `seeinggan.infer.streaming.deblur_to_fits` (see there for the
        options: ``wcs``, ``pixel_scale``, ``header``, ``history``, ``output_pixel_scale``,
        ``progress``, ``should_stop``); its result's ``data`` is a read-only memory map of the file.
        ``clean_cosmic_rays=True`` with ``gain=`` cleans the input first, as in `deblur` (the frame
        is cleaned whole: the input, not the 45-times-larger output, is held in memory).
        """
        from seeinggan.infer.streaming import deblur_to_fits

        gain = options.pop("gain", None)
        if options.pop("clean_cosmic_rays", False):
            cosmic = self._cleaned_of_cosmic_rays(_as_2d(data), gain=gain, sky=options.get("sky"),
                                                  noise=options.get("noise"), seeing=options.get("seeing"),
                                                  wcs=options.get("wcs"), pixel_scale=options.get("pixel_scale"))
            data = cosmic.cleaned
            options["history"] = [*options.get("history", ()), cosmic.history()]
        return deblur_to_fits(self, data, path, **options)

    def _cleaned_of_cosmic_rays(self, image: np.ndarray, *, gain, sky, noise, seeing, wcs, pixel_scale):
        """`seeinggan.infer.cosmic_rays.find_cosmic_rays` on the input, on its own grid."""
        from seeinggan.infer.cosmic_rays import find_cosmic_rays

        seeing_arcsec = to_arcsec(seeing, name="seeing", positive=True)
        seeing_pixels = None
        if seeing_arcsec is not None:
            seeing_pixels = seeing_arcsec / self._input_scale(wcs, pixel_scale)
        scalar_noise = float(noise) if noise is not None and np.ndim(noise) == 0 else None
        return find_cosmic_rays(image, gain=gain, sky=sky, noise=scalar_noise, seeing_pixels=seeing_pixels)

    def deblur_catalog(
        self,
        images: Sequence[str | os.PathLike],
        catalog: str | os.PathLike,
        output_dir: str | os.PathLike,
        **options,
    ) -> list[dict[str, Any]]:
        """Deblur a stamp around each catalogue source found in any of ``images``.

        Writes ``OUTDIR/<id>_deblurred.fits`` per source and ``OUTDIR/catalog_results.csv``; see
        `seeinggan.infer.catalog.deblur_catalog` for the catalogue format and the options
        (``size``, ``hdu``, ``skip_existing``, ``output_pixel_scale``, ``progress``;
        ``clean_cosmic_rays`` and ``gain`` clean each image whole before its stamps are cut).
        """
        from seeinggan.infer.catalog import deblur_catalog

        return deblur_catalog(self, images, catalog, output_dir, **options)

    # --- what the model is told ----------------------------------------------------------------

    def _fit_transform(self, work: np.ndarray, *, factor: float, sky: float | None, noise: float | None):
        """The intensity transform.

        Measured on `work` (the whole resampled image), with the caller's sky/noise taking
        precedence where given. They are per *observed* pixel, and `factor` is the observed pixel
        scale over the model's: flux-conserving resampling divides a level by ``factor**2`` and
        smooths the noise (`resampled_noise_gain`).
        """
        fitted: Any = None
        if sky is None or noise is None:
            fitted = self.transform_template.fit(work)
        if sky is None and noise is None:
            return fitted, "measured on the image"
        area = factor * factor  # flux per input pixel -> per model pixel
        sky_work = fitted.sky if sky is None else float(sky) / area
        noise_work = fitted.noise if noise is None else float(noise) * resampled_noise_gain(factor) / area
        if not (math.isfinite(sky_work) and math.isfinite(noise_work) and noise_work > 0):
            raise ValueError(f"sky must be finite and noise positive, got sky={sky!r}, noise={noise!r}")
        transform = IntensityTransform(sky=sky_work, noise=noise_work, softening=self.transform_template.softening)
        return transform, "given" if sky is not None and noise is not None else "given in part"

    def _conditions(self, seeing: float | None, input_scale: float):
        """``(conditions [2] or None, seeing given to the model, "given"/"assumed"/None)``."""
        if not self.n_conditions:
            return None, seeing, ("given" if seeing is not None else None)
        if seeing is None:
            span = self.trained_ranges.get("seeing_fwhm_arcsec")
            assumed = 0.5 * (float(span[0]) + float(span[1])) if span else DEFAULT_SEEING
            warnings.warn(
                f"seeing unknown: assumed {assumed:.2f}\" FWHM (the middle of the trained range); "
                "pass seeing= or set the SEEING keyword for a better result",
                AssumedSeeingWarning,
                stacklevel=3,
            )
            seeing, source = assumed, "assumed"
        else:
            source = "given"
        return condition_vector(seeing=seeing, input_pixel_scale=input_scale), float(seeing), source

    def _check_ranges(self, seeing, input_scale, work: np.ndarray, transform: IntensityTransform) -> list[str]:
        peak = np.nanmax(work) if np.isfinite(work).any() else np.nan
        snr = float((peak - transform.sky) / transform.noise) if np.isfinite(peak) else None
        problems = out_of_range(self.trained_ranges, seeing=seeing, input_pixel_scale=input_scale, peak_snr=snr)
        if problems:
            warnings.warn(
                f"model {self.model_name!r} was not trained on this image: {'; '.join(problems)}; "
                "treat the result with care",
                OutOfRangeWarning,
                stacklevel=3,
            )
        return problems

    def _input_scale(self, wcs: WCS | None, pixel_scale: AngleLike | None) -> float:
        from seeinggan import geometry

        pixel_scale = to_arcsec(pixel_scale, name="pixel_scale", per_pixel=True)

        if wcs is not None:
            if not getattr(wcs, "has_celestial", False) or wcs.naxis != 2:
                raise InputError("deblur needs a 2-D celestial WCS (RA/Dec axes); pass pixel_scale= otherwise")
            scale = geometry.pixel_scale(wcs)
            if pixel_scale is not None and abs(float(pixel_scale) / scale - 1.0) > 0.01:
                raise InputError(
                    f"pixel_scale={pixel_scale} arcsec/px disagrees with the WCS's {scale:.4g} arcsec/px"
                )
            return scale
        if pixel_scale is None:
            raise InputError(
                "deblur needs the input's pixel scale: pass a celestial wcs= or pixel_scale= (arcsec/px)"
            )
        scale = float(pixel_scale)
        if not (math.isfinite(scale) and scale > 0):
            raise InputError(f"pixel_scale must be a positive number of arcsec/px, got {pixel_scale!r}")
        return scale

    def _run_tiles(
        self,
        work: np.ndarray,
        grid: TileGrid,
        transform: IntensityTransform,
        result: np.ndarray,
        *,
        progress: ProgressCallback | None,
        should_stop: StopCallback | None,
        conditions: np.ndarray | None = None,
        spread: np.ndarray | None = None,
        guard: SupportGuard | None = None,
    ) -> None:
        positions = list(grid.positions())
        total = len(positions)
        done = 0
        if progress is not None:
            progress(0, total)
        for first in range(0, total, self.batch_size):
            check_stop(should_stop)
            batch_pos = positions[first : first + self.batch_size]
            tiles = np.stack([read_tile(work, grid, r, c) for r, c in batch_pos])
            if spread is None:
                outputs = self._forward(tiles, transform, conditions=conditions, guard=guard)
            else:  # the 8 dihedral views of each tile: their variance is blended like the output
                from seeinggan.infer.maps import dihedral_forward

                outputs, variances = dihedral_forward(
                    lambda views: self._forward(views, transform, conditions=conditions, guard=guard), tiles,
                    views_per_pass=self.batch_size)
            for index, ((r0, c0), tile_out) in enumerate(zip(batch_pos, outputs, strict=True)):
                blend = tile_blend(grid, r0, c0)
                if blend is None:
                    continue
                part = tile_out[blend.tile_rows, blend.tile_cols] * blend.weights
                # NaN input pixels stay NaN: every tile adds NaN there.
                part[np.isnan(work[blend.rows, blend.cols])] = np.nan
                result[blend.rows, blend.cols] += part.astype(np.float32)
                if spread is not None:
                    spread[blend.rows, blend.cols] += (
                        variances[index][blend.tile_rows, blend.tile_cols] * blend.weights).astype(np.float32)
            done += len(batch_pos)
            if progress is not None:
                progress(done, total)

    @torch.inference_mode()
    def _forward(
        self, tiles: np.ndarray, transform: IntensityTransform, *, conditions: np.ndarray | None = None,
        guard: SupportGuard | None = None,
    ) -> np.ndarray:
        """Flux-unit tiles ``[B, H, W]`` -> flux-unit network outputs ``[B, H, W]`` (float64).

        `conditions` ``[n_conditions]`` (one image's) are given to every tile of a conditioned
        model; None for models without conditions. `guard` (`_support_guard`) keeps the restored
        detail where each tile's input supports it.
        """
        x = transform.forward(tiles.astype(np.float64))
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
        y = self._network(torch.from_numpy(x[:, None]).to(self.device).contiguous(memory_format=torch.channels_last),
                          conditions)
        out = transform.inverse(y[:, 0].float().cpu().numpy().astype(np.float64))
        if guard is not None:
            out = guard.apply(tiles, out, pixel_noise=transform.noise)[0]
        return out

    def _support_guard(self, seeing: float | None, observed_scale: float) -> SupportGuard | None:
        """The image's `seeinggan.infer.support.SupportGuard`; None when off or the seeing is unknown."""
        if not self.support_guard or seeing is None:
            return None
        return SupportGuard(seeing_pixels=float(seeing) / self.pixel_scale,
                            factor=float(observed_scale) / self.pixel_scale)

    def _network(self, x: torch.Tensor, conditions: np.ndarray | None) -> torch.Tensor:
        """The generator on a batch ``x``, with the image's conditions repeated per sample."""
        if self.n_conditions:
            if conditions is None:
                conditions = condition_vector(seeing=None, input_pixel_scale=None)
            c = torch.from_numpy(np.asarray(conditions, dtype=np.float32)).to(self.device)
            return self.generator(x, c.reshape(1, -1).expand(x.shape[0], -1))
        return self.generator(x)

    def _result_metadata(self, *, transform, grid: TileGrid | None, input_scale, out_scale, factor) -> dict[str, Any]:
        from seeinggan import __version__

        settings = {
            "tile": list(grid.tile) if grid is not None else None,
            "overlap": list(grid.overlap) if grid is not None else None,
            "batch_size": self.batch_size,
            "device": str(self.device),
        }
        # Short enough for one FITS HISTORY card (72 characters with write_image's prefix).
        history = f"deblur: model {self.model_name}"
        if grid is not None:
            history += f", tile {self.tile}, overlap {grid.overlap[0]}"
        return {
            "model": self.model_name,
            "model_path": str(self.model_path) if self.model_path is not None else None,
            "model_created": self.metadata.get("created"),
            "settings": settings,
            "input_pixel_scale": float(input_scale),
            "pixel_scale": float(out_scale),
            "resample_factor": float(factor),
            "intensity_transform": transform,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "seeinggan_version": __version__,
            "history": history,
        }

    # ----------------------------------------------------------------------------------------
    # Batches of cutouts
    # ----------------------------------------------------------------------------------------

    def deblur_cutouts(
        self,
        cutouts: np.ndarray | Sequence[np.ndarray],
        *,
        pixel_scale: AngleLike,
        progress: ProgressCallback | None = None,
        should_stop: StopCallback | None = None,
        seeing: Any = None,  # float or Quantity, or one per cutout
        sky: Any = None,  # float, or one per cutout
        noise: Any = None,
        input_pixel_scale: AngleLike | None = None,
    ) -> DeblurResult:
        """Deblur a stack of same-sized cutouts, ``batch_size`` cutouts per forward pass.

        Each cutout is resampled onto the model grid, gets its own intensity transform (it is an
        image in its own right), is mirror-padded at the bottom/right up to the network's size
        multiple and goes through the network whole, as training stamps do (no tiling). Cutouts
        larger than ``tile`` on the model grid go through `deblur` one by one instead.

        Parameters
        ----------
        cutouts : array_like ``[N, H, W]``
            The cutouts, in flux units.
        pixel_scale : float or astropy Quantity
            Their pixel scale, arcsec/px (the model's own scale means no resampling).
        progress, should_stop : callable, optional
            As in `deblur`, counted in cutouts.
        seeing : float, sequence of float or astropy Quantity, optional
            As in `deblur`: one value for all cutouts, or one per cutout.
        sky, noise : float or sequence of float, optional
            As in `deblur`, one value for all cutouts (cutouts of one frame: measure the sky and
            noise on the frame, not on each galaxy-filled cutout) or one per cutout.
        input_pixel_scale : float or astropy Quantity, optional
            As in `deblur` (cutouts already resampled from a coarser grid).

        Returns
        -------
        DeblurResult
            ``data`` is ``[N, H', W']`` float32; ``wcs`` is None; ``metadata["intensity_transform"]``
            lists the N fitted transforms.
        """
        from seeinggan import geometry

        stack = np.asarray(cutouts, dtype=np.float32)
        if stack.ndim != 3:
            raise InputError(f"deblur_cutouts takes a stack [N, H, W], got shape {stack.shape}")
        input_scale = self._input_scale(None, pixel_scale)
        observed_scale = (to_arcsec(input_pixel_scale, name="input_pixel_scale", per_pixel=True, positive=True)
                          or input_scale)
        if seeing is not None and np.ndim(seeing if not hasattr(seeing, "unit") else seeing.value) == 1:
            seeings = [to_arcsec(v, name="seeing", positive=True) for v in seeing]
            if len(seeings) != stack.shape[0]:
                raise ValueError(f"seeing has {len(seeings)} values for {stack.shape[0]} cutouts")
        else:
            seeings = [to_arcsec(seeing, name="seeing", positive=True)] * stack.shape[0]
        seeing = seeings[0] if len(set(seeings)) == 1 else None
        skies = list(sky) if np.ndim(sky) == 1 else [sky] * stack.shape[0]
        noises = list(noise) if np.ndim(noise) == 1 else [noise] * stack.shape[0]
        if len(skies) != stack.shape[0] or len(noises) != stack.shape[0]:
            raise ValueError(f"sky and noise need one value or one per cutout ({stack.shape[0]})")
        observed_factor = observed_scale / self.pixel_scale
        factor = input_scale / self.pixel_scale
        if abs(factor - 1.0) < 1e-3:
            factor = 1.0
            work = stack
            out_scale = input_scale
        else:
            work = geometry.zoom_to_scale(stack, factor=factor, order=3, conserve="flux").astype(np.float32)
            out_scale = input_scale / factor
        n, rows, cols = work.shape
        if max(rows, cols) > self.tile:
            results = [
                self.deblur(
                    plane, pixel_scale=out_scale, seeing=plane_seeing, input_pixel_scale=observed_scale,
                    sky=plane_sky, noise=plane_noise,
                ).data
                for plane, plane_seeing, plane_sky, plane_noise in zip(work, seeings, skies, noises, strict=True)
            ]
            metadata = self._result_metadata(
                transform=[],
                grid=plan_tiles((rows, cols), tile=self.tile, overlap=self.overlap, multiple=self.multiple),
                input_scale=input_scale, out_scale=out_scale, factor=factor,
            )
            return DeblurResult(np.stack(results), None, float(out_scale), metadata)
        size_r = max(-(-rows // self.multiple) * self.multiple, 2 * self.multiple)
        size_c = max(-(-cols // self.multiple) * self.multiple, 2 * self.multiple)
        rows_idx = reflect_indices(0, size_r, rows)
        cols_idx = reflect_indices(0, size_c, cols)
        result = np.empty((n, rows, cols), dtype=np.float32)
        transforms: list[Any] = []
        per_cutout = [self._conditions(value, observed_scale) for value in (seeings if seeing is None else [seeing])]
        seeing_used, seeing_source = per_cutout[0][1], per_cutout[0][2]
        if seeing is None and len(per_cutout) > 1:
            seeing_used = [c[1] for c in per_cutout]
        if progress is not None:
            progress(0, n)
        for first in range(0, n, self.batch_size):
            check_stop(should_stop)
            chunk = work[first : first + self.batch_size]
            fitted = [
                self._fit_transform(plane, factor=observed_factor, sky=skies[first + k], noise=noises[first + k])[0]
                for k, plane in enumerate(chunk)
            ]
            x = np.stack([t.forward(p.astype(np.float64)) for t, p in zip(fitted, chunk, strict=True)])
            x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)[:, rows_idx][:, :, cols_idx]
            batch = torch.from_numpy(x[:, None].astype(np.float32)).to(self.device)
            batch = batch.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                if self.n_conditions and len(per_cutout) > 1:
                    c = np.stack([per_cutout[first + k][0] for k in range(len(chunk))])
                    y = self.generator(batch, torch.from_numpy(c).to(self.device))
                else:
                    y = self._network(batch, per_cutout[0][0])
            y = y[:, 0, :rows, :cols].float().cpu().numpy().astype(np.float64)
            for k, (t, plane) in enumerate(zip(fitted, chunk, strict=True)):
                out = t.inverse(y[k])
                guard = self._support_guard(per_cutout[(first + k) if len(per_cutout) > 1 else 0][1], observed_scale)
                if guard is not None:
                    out = guard.apply(plane[None].astype(np.float64), out[None], pixel_noise=t.noise)[0][0]
                out[~np.isfinite(plane)] = np.nan
                result[first + k] = out
            transforms.extend(t.to_dict() for t in fitted)
            if progress is not None:
                progress(min(first + len(chunk), n), n)
        metadata = self._result_metadata(
            transform=transforms, grid=None, input_scale=input_scale, out_scale=out_scale, factor=factor
        )
        metadata["settings"]["tile"] = [size_r, size_c]
        problems = sorted({p for value in seeings
                           for p in out_of_range(self.trained_ranges, seeing=value, input_pixel_scale=observed_scale)})
        if problems:
            warnings.warn(
                f"model {self.model_name!r} was not trained on these cutouts: {'; '.join(problems)}",
                OutOfRangeWarning, stacklevel=2,
            )
        metadata.update(seeing=seeing_used, seeing_source=seeing_source, out_of_range=problems,
                        sky_noise_source=("given" if all(v is not None for v in skies + noises)
                                          else "measured on each cutout"))
        _record_guard(metadata, self._support_guard(per_cutout[0][1], observed_scale))
        return DeblurResult(result, None, float(out_scale), metadata)


def _record_guard(metadata: dict[str, Any], guard: SupportGuard | None) -> None:
    """The support guard's settings in the result's metadata (`history_lines` writes them)."""
    metadata["support_guard"] = None if guard is None else {
        "sigma": guard.sigma, "scales_fwhm": list(GUARD_SCALES), "smooth_fwhm": GUARD_SMOOTH_FWHM}


def history_lines(metadata: dict[str, Any]) -> list[str]:
    """The FITS HISTORY lines that say what a deblur did (each fits one card after its prefix)."""
    lines = [str(metadata["history"])]
    guard = metadata.get("support_guard")
    if guard:
        low, high = guard["scales_fwhm"]
        lines.append(f"deblur: support guard, {guard['sigma']:g} sigma at {low:g}-{high:g} FWHM")
    return lines


_NOISE_GAIN_CACHE: dict[float, float] = {}


def resampled_noise_gain(factor: float) -> float:
    """Per-pixel noise of white noise after `zoom_to_scale` by `factor`, relative to ``noise / factor**2``.

    The resampling is cubic and keeps flux. The interpolation smooths the noise, so the resampled
    image's pixel scatter is below the plain area scaling. Measured once per factor on a fixed
    white-noise image (the same `measure_sky_noise` the transform uses).
    """
    from seeinggan import geometry
    from seeinggan.transforms import measure_sky_noise

    key = round(float(factor), 4)
    if key not in _NOISE_GAIN_CACHE:
        if abs(key - 1.0) < 1e-3:
            _NOISE_GAIN_CACHE[key] = 1.0
        else:
            side = max(16, int(math.ceil(256 / key)))
            white = np.random.default_rng(12345).normal(0.0, 1.0, size=(side, side)).astype(np.float32)
            zoomed = geometry.zoom_to_scale(white, factor=key, order=3, conserve="flux")
            margin = int(math.ceil(4 * key))
            _, measured = measure_sky_noise(zoomed[margin:-margin, margin:-margin])
            _NOISE_GAIN_CACHE[key] = float(measured * key * key)
    return _NOISE_GAIN_CACHE[key]


def _as_2d(data: np.ndarray) -> np.ndarray:
    image = np.asarray(data)
    while image.ndim > 2 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 2:
        raise InputError(
            f"deblur takes a 2-D image, got shape {np.shape(data)}; deblur the planes of a cube one by one"
        )
    if not np.issubdtype(image.dtype, np.number):
        raise InputError(f"deblur takes a numeric image, got dtype {image.dtype}")
    if image.size == 0:
        raise InputError("deblur got an empty image")
    return image


def _allocate_output(shape: tuple[int, int], out, threshold: int) -> np.ndarray:
    """A zeroed float32 output: the given array, a kept .npy memmap, a temporary memmap, or RAM."""
    if isinstance(out, np.ndarray):
        if out.shape != tuple(shape) or out.dtype != np.float32:
            raise InputError(f"out= must be a float32 array of shape {tuple(shape)}, got {out.dtype} {out.shape}")
        out[...] = 0.0
        return out
    if out is not None:
        path = Path(out)
        if path.exists():
            raise FileExistsError(f"{path}: the output file already exists; choose another name")
        return np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=tuple(shape))
    nbytes = 4 * int(np.prod(shape))
    if nbytes > threshold:
        handle, name = tempfile.mkstemp(prefix="seeinggan-deblur-", suffix=".f32")
        os.close(handle)
        try:
            array = np.memmap(name, mode="w+", dtype=np.float32, shape=tuple(shape))
        finally:
            # The mapping keeps the data alive; the name goes now, so nothing is left behind.
            os.unlink(name)
        return array
    return np.zeros(shape, dtype=np.float32)
