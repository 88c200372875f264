"""Honest output headers: what the deblurred image is, not what its input was.

The deblurred image lies on the model's grid (0.03"/px for the shipped model) with a resolution
the seeing no longer sets, so keywords that describe the input's pixels or PSF would lie if
copied. `deblurred_header` is the one header builder of a deblurred image (the command line, the
survey runs and the plugin's Save all use it). It starts from `seeinggan.io.fits.derived_header`
(every card of the input except the structural ones, the integer scaling and the WCS, which is
replaced by the output's when given) and

- updates ``PIXSCALE`` to the output pixel scale and drops the other pixel-scale keywords
  (`GRID_PIXEL_SCALE_KEYWORDS`; the WCS, written separately, carries the geometry);
- drops the input's PSF keywords (`PSF_KEYWORDS`: SEEING, FWHM, PSF_FWHM, PSFBETA ...);
- drops per-pixel detector and sky keywords whose values change with the pixel area or lose
  their meaning after resampling and deconvolution (`PER_PIXEL_KEYWORDS`: SATURATE, GAIN,
  RDNOISE, SKYLEVEL, SKYSIG ...), and the input's pixel sections (DATASEC, LTV1 ...);
- records what the model was told: ``SGSEEING`` (seeing FWHM, arcsec) with ``SGSEESRC``
  (header keyword, "given" or "assumed"), ``SGINSCL`` (input pixel scale), ``SGOUTSCL`` (output
  pixel scale), ``SGMODEL`` (model name) and ``SGRANGE`` (False when the image lies outside the
  model's trained ranges; the reasons go to HISTORY).

Flux units are unchanged (counts per output pixel, totals kept), so BUNIT and photometric zero
points stay. The keyword lists live in `seeinggan.io.fits` (one home of the FITS patterns).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from astropy.io import fits

from seeinggan.io.fits import (
    GRID_PIXEL_SCALE_KEYWORDS,
    PER_PIXEL_KEYWORDS,
    PSF_KEYWORDS,
    derived_header,
)

if TYPE_CHECKING:
    from astropy.wcs import WCS

__all__ = ["GRID_PIXEL_SCALE_KEYWORDS", "PSF_KEYWORDS", "PER_PIXEL_KEYWORDS", "PROVENANCE_KEYWORDS",
           "deblur_history", "deblurred_header"]

PROVENANCE_KEYWORDS = ("SGSEEING", "SGSEESRC", "SGINSCL", "SGOUTSCL", "SGMODEL", "SGRANGE")
"""The cards `deblurred_header` writes about the run (an input's own are replaced)."""


def deblurred_header(
    header: fits.Header | None,
    metadata: Mapping[str, Any],
    *,
    seeing_keyword: str | None = None,
    wcs: WCS | None = None,
    history: Iterable[str] | str = (),
) -> fits.Header:
    """The header for a deblurred image, from its input's header and `DeblurResult.metadata`.

    Parameters
    ----------
    header : astropy.io.fits.Header or None
        The input image's header (not modified).
    metadata : mapping
        `seeinggan.infer.DeblurResult.metadata` (``pixel_scale``, ``input_pixel_scale``,
        ``seeing``, ``seeing_source``, ``model``, ``out_of_range``).
    seeing_keyword : str, optional
        The input keyword the seeing came from (recorded in ``SGSEESRC``).
    wcs : astropy.wcs.WCS, optional
        The output's celestial WCS (its cards replace the input's); without it the input's WCS
        cards are dropped and the FITS writer adds the output's.
    history : str or iterable of str, optional
        What was done, as ``HISTORY seeinggan <version>: <line>`` (or give it to the writer).

    Returns
    -------
    astropy.io.fits.Header
        A new header (``header`` is not modified); structural keywords are left to the writer.
    """
    out = derived_header(header, wcs=wcs, history=history, new_grid=True)  # drops GRID_KEYWORDS
    for key in PROVENANCE_KEYWORDS:  # an input deblurred before: its run's cards go
        while key in out:
            del out[key]
    scale = metadata.get("pixel_scale")
    if scale is not None:
        out["PIXSCALE"] = (round(float(scale), 6), "[arcsec/pix] output (deblurred) pixel scale")
        out["SGOUTSCL"] = (round(float(scale), 6), "[arcsec/pix] seeinggan output pixel scale")
    observed = metadata.get("observed_pixel_scale", metadata.get("input_pixel_scale"))
    if observed is not None:
        out["SGINSCL"] = (round(float(observed), 6), "[arcsec/pix] input pixel scale given to the model")
    seeing = metadata.get("seeing")
    if isinstance(seeing, (int, float)):
        out["SGSEEING"] = (round(float(seeing), 4), "[arcsec] input seeing FWHM given to the model")
        source = seeing_keyword or metadata.get("seeing_source") or "given"
        out["SGSEESRC"] = (str(source)[:60], "where SGSEEING came from")
    if metadata.get("model"):
        out["SGMODEL"] = (str(metadata["model"])[:60], "seeinggan model")
    problems = list(metadata.get("out_of_range") or [])
    out["SGRANGE"] = (not problems, "input within the model's trained ranges")
    for problem in problems:
        out.add_history(f"seeinggan: outside trained range: {problem}"[:72])
    return out


def deblur_history(provenance: Mapping[str, Any]) -> list[str]:
    """HISTORY lines saying how a deblurred image was made.

    Parameters
    ----------
    provenance : mapping
        ``date``, ``model`` (path), ``model_name``, ``input_layer`` (or input file name),
        ``region`` and ``region_pixels`` (rows start, stop, cols start, stop of the input),
        ``tile``, ``overlap``, ``device``; optionally ``pixel_scale`` and ``seeing`` (arcsec).
    """
    from pathlib import Path

    rows0, rows1, cols0, cols1 = provenance["region_pixels"]
    lines = [f"deblurred with SeeingGAN on {provenance['date']}",
             f"model: {Path(provenance['model']).name} ({provenance['model_name']})",
             f"model path: {provenance['model']}",  # long paths wrap over cards
             f"input layer: {provenance['input_layer']}",
             f"region: {provenance['region']} rows {rows0}:{rows1} cols {cols0}:{cols1} of the input",
             f"tile {provenance['tile']} px, overlap {provenance['overlap']} px, device {provenance['device']}"]
    if provenance.get("pixel_scale"):
        lines.append(f"input pixel scale {provenance['pixel_scale']:.4g} arcsec/px")
    if provenance.get("seeing"):
        lines.append(f"seeing {provenance['seeing']:.3g} arcsec (typed or from the header)")
    return lines
