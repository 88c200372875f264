"""Honest output headers: what the deblurred image is, not what its input was.

The deblurred image lies on the model's grid (0.03"/px for the shipped model) with a resolution
the seeing no longer sets, so keywords that describe the input's pixels or PSF would lie if
copied. `deblurred_header` takes the input header and

- updates ``PIXSCALE`` to the output pixel scale and drops the other pixel-scale keywords
  (`PIXEL_SCALE_KEYWORDS`; the WCS, written separately, carries the geometry);
- drops the input's PSF keywords (`PSF_KEYWORDS`: SEEING, FWHM, PSF_FWHM, PSFBETA ...);
- drops per-pixel detector and sky keywords whose values change with the pixel area or lose
  their meaning after resampling and deconvolution (`PER_PIXEL_KEYWORDS`: SATURATE, GAIN,
  RDNOISE, SKYLEVEL, SKYSIG ...);
- records what the model was told: ``SGSEEING`` (seeing FWHM, arcsec) with ``SGSEESRC``
  (header keyword, "given" or "assumed"), ``SGINSCL`` (input pixel scale), ``SGOUTSCL`` (output
  pixel scale), ``SGMODEL`` (model name) and ``SGRANGE`` (False when the image lies outside the
  model's trained ranges; the reasons go to HISTORY).

Flux units are unchanged (counts per output pixel, totals kept), so BUNIT and photometric zero
points stay. The plugin's save and the command line both use this function.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from astropy.io import fits

__all__ = ["PIXEL_SCALE_KEYWORDS", "PSF_KEYWORDS", "PER_PIXEL_KEYWORDS", "deblurred_header"]

PIXEL_SCALE_KEYWORDS = ("PIXSCALE", "PIXSCAL1", "PIXSCAL2", "SECPIX", "SECPIX1", "SECPIX2", "PLATESCL",
                        "PIXSIZE", "SCALE")
PSF_KEYWORDS = ("SEEING", "FWHM", "PSF_FWHM", "PSFFWHM", "FWHMPSF", "SEEING_FWHM", "IQ", "PSFBETA",
                "PSFMODEL", "PSF_MOD", "ELLIPTIC", "PSFELLIP")
PER_PIXEL_KEYWORDS = ("SATURATE", "SATLEVEL", "SATURLEV", "MAXLIN", "GAIN", "EGAIN", "CCDGAIN", "GAINEFF",
                      "RDNOISE", "READNOIS", "RON", "SKYLEVEL", "SKY", "SKYVAL", "SKYSIG", "SKYNOISE",
                      "SKYRMS", "SKYSTD", "BKGSIG", "NOISE")
_OURS = ("SGSEEING", "SGSEESRC", "SGINSCL", "SGOUTSCL", "SGMODEL", "SGRANGE")


def deblurred_header(
    header: fits.Header | None,
    metadata: Mapping[str, Any],
    *,
    seeing_keyword: str | None = None,
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

    Returns
    -------
    astropy.io.fits.Header
        A new header; structural and WCS keywords are left to the FITS writer.
    """
    out = fits.Header() if header is None else header.copy()
    for key in PIXEL_SCALE_KEYWORDS + PSF_KEYWORDS + PER_PIXEL_KEYWORDS + _OURS:
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
