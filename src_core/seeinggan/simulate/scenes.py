"""Ground/space image pairs of simulated galaxies, and simulated fields.

One scene, two observations:

1. The scene (galaxy components, integrated over 0.03" pixels) is drawn on a canvas that covers
   the space stamp plus a margin (light from just outside the stamp is scattered in by seeing).
2. Its Fourier transform, on a zero-padded grid large enough that the truncated PSFs never
   wrap light into the stamp, is multiplied by the transfer function of
   - the HST/ACS-like PSF: the noiseless space image (``truth``), cut to the stamp;
   - the seeing PSF (Moffat or Kolmogorov): the fine ground image, then integrated over the
     0.202" ground pixels (exact area overlaps: counts are conserved).
   Stars are added in Fourier space at their exact sub-pixel position (with the pixel's box).
3. Each image gets its instrument's noise (`seeinggan.simulate.observe`).

Both images share one flux scale (counts; `MAG_ZEROPOINT`), one sky centre and a TAN WCS each
(north up, east left); the ground stamp has ``round(space_shape * space_scale / ground_scale)``
pixels, so the two footprints match to within half a ground pixel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from scipy import fft as sfft

from seeinggan.constants import GROUND_PIXEL_SCALE, SPACE_PIXEL_SCALE
from seeinggan.geometry import make_tan_wcs
from seeinggan.simulate.galaxies import (
    MORPHOLOGIES,
    Canvas,
    Galaxy,
    PointSource,
    draw_galaxy,
    draw_star,
)
from seeinggan.simulate.observe import (
    DRIZZLE,
    Instrument,
    add_correlated_noise,
    add_noise,
    drizzle_kernel,
    instrument_header,
    instruments_at_scales,
)
from seeinggan.simulate.psf import optical_transfer_function
from seeinggan.units import AngleLike, to_arcsec

__all__ = [
    "CANVAS_MARGIN",
    "COSMOS_CENTER",
    "SEEING_TRUNCATE",
    "SPACE_NOISE_KINDS",
    "SPACE_PSF_FWHM",
    "SimulatedPair",
    "ground_shape_for",
    "simulate_field",
    "simulate_pair",
]

COSMOS_CENTER = (150.1191667, 2.2058333)
"""RA, Dec (deg, ICRS) of the COSMOS field's centre; stamps are scattered within 0.6 deg of it."""

SPACE_PSF_FWHM = 0.095
"""FWHM (arcsec) of the HST/ACS-like PSF (`seeinggan.simulate.psf.space_psf`)."""

SEEING_TRUNCATE = 4.0
"""Radius (arcsec) where the seeing PSF is cut (then renormalised)."""

SPACE_TRUNCATE = 2.0
"""Radius (arcsec) where the space PSF is cut (then renormalised)."""

CANVAS_MARGIN = 1.5
"""Arcsec of scene drawn around the stamp on each side (by default; ``canvas_margin=``)."""

SPACE_NOISE_KINDS = ("white", "drizzle")
"""Noise of the space image: independent pixels, or correlated by drizzling (`drizzle_kernel`)."""


@dataclass
class SimulatedPair:
    """A simulated ground image and space image of the same scene.

    Attributes
    ----------
    ground : numpy.ndarray
        Ground image (seeing, 0.202"/px), noisy, counts per pixel, sky-subtracted, float32.
    space : numpy.ndarray
        Space image (HST-like PSF, 0.03"/px), noisy, counts per pixel, float32.
    truth : numpy.ndarray
        The space image without noise.
    ground_noiseless : numpy.ndarray
        The ground image without noise.
    ground_wcs, space_wcs : astropy.wcs.WCS
        TAN WCSs centred on the same sky position.
    params : dict
        Everything drawn: ``class``, ``seed``, ``seeing_fwhm``, ``psf_model``, ``moffat_beta``,
        ``flux``, ``mag``, ``r_e``, the class's own parameters, positions, ``components``.
    ground_header, space_header : astropy.io.fits.Header
        The simulation's keywords (SEEING, PIXSCALE, TELESCOP, INSTRUME, BUNIT, GAIN, SKYLEVEL,
        MORPHCLS, SEED, ...), without WCS keywords (the FITS writer adds those from the WCS).
        Built when first asked for (headers are slow to build; training never needs them).
    """

    ground: np.ndarray
    space: np.ndarray
    truth: np.ndarray
    ground_noiseless: np.ndarray
    ground_wcs: WCS
    space_wcs: WCS
    params: dict[str, Any] = field(default_factory=dict)
    header_info: dict[str, Any] = field(default_factory=dict, repr=False)

    @cached_property
    def ground_header(self) -> fits.Header:
        """The ground image's keywords (instrument, seeing, PSF, class, seed)."""
        info = self.header_info
        header = instrument_header(info["ground"], seeing_fwhm=self.params["seeing_fwhm"],
                                   psf_model=info["psf_name"], morphology=self.params["class"],
                                   seed=self.params["seed"], extra=info.get("extra"))
        if self.params.get("moffat_beta") is not None:
            header["PSFBETA"] = (round(float(self.params["moffat_beta"]), 5), "Moffat beta")
        if self.params.get("psf_ellipticity"):
            header["PSFELL"] = (round(float(self.params["psf_ellipticity"]), 5),
                                "PSF reduced shear (a-b)/(a+b)")
            header["PSFANGLE"] = (round(float(self.params["psf_angle"]), 3),
                                  "[deg] PSF major axis, from +x (columns) to +y")
        return header

    @cached_property
    def space_header(self) -> fits.Header:
        """The space image's keywords (instrument, PSF, class, seed)."""
        info = self.header_info
        header = instrument_header(info["space"], seeing_fwhm=SPACE_PSF_FWHM,
                                   psf_model="HST-like airy+pixel+gauss",
                                   morphology=self.params["class"], seed=self.params["seed"],
                                   extra=info.get("extra"))
        if self.params.get("space_noise", "white") == "drizzle":
            header["NOISECOR"] = ("drizzle", "noise correlated by drizzling; SKYNOISE per pixel")
            header["PIXFRAC"] = (DRIZZLE["pixfrac"], "drizzle drop size / native pixel")
            header["NATIVEPX"] = (DRIZZLE["native_pixel_arcsec"], "[arcsec] detector pixel")
        return header


def ground_shape_for(space_shape: Sequence[int], space_pixel_scale: AngleLike,
                     ground_pixel_scale: AngleLike) -> tuple[int, int]:
    """Ground stamp shape covering the space stamp's footprint.

    ``round(n * ratio)`` pixels per axis, or one more where that would leave the outermost space
    pixel centres outside the ground image (``n_ground * ground_scale < (n - 1) * space_scale``),
    so every space pixel of a simulated pair is covered (e.g. 20, not 19, ground pixels of
    0.396" for 256 space pixels of 0.03"; 38 of 0.202" as always).
    """
    ratio = (to_arcsec(space_pixel_scale, name="space_pixel_scale", per_pixel=True)
             / to_arcsec(ground_pixel_scale, name="ground_pixel_scale", per_pixel=True))

    def side(n: int) -> int:
        rounded = int(round(n * ratio))
        needed = math.ceil((n - 1) * ratio - 1e-9)
        return max(1, rounded, needed)

    return (side(int(space_shape[0])), side(int(space_shape[1])))


def _draw_value(rng: np.random.Generator, value: float | Sequence[float], name: str) -> float:
    if np.ndim(value) == 0:
        number = float(value)  # type: ignore[arg-type]
    else:
        lo, hi = (float(v) for v in value)  # type: ignore[union-attr]
        if lo > hi:
            raise ValueError(f"{name} range must be (low, high), got {value!r}")
        number = float(rng.uniform(lo, hi))
    if not np.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return number


def _positive(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not np.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return number


def _check_shape(shape: Sequence[int], name: str) -> tuple[int, int]:
    if len(shape) != 2 or any(int(n) < 8 for n in shape):
        raise ValueError(f"{name} must be two sizes of at least 8 pixels, got {shape!r}")
    return (int(shape[0]), int(shape[1]))


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    scene, space, ground = np.random.SeedSequence(int(seed)).spawn(3)
    return (np.random.default_rng(scene), np.random.default_rng(space),
            np.random.default_rng(ground))


def _extension_stream(seed: int) -> np.random.Generator:
    # A fourth child of the seed for draws added after the first three streams were fixed
    # (PSF angle): the older draws, and so the default pairs, stay bit-identical.
    return np.random.default_rng(np.random.SeedSequence(int(seed)).spawn(4)[3])


def _psf_shape(seed: int, ellipticity: float, angle: float | None) -> tuple[float, float]:
    ellipticity = float(ellipticity)
    if not 0.0 <= ellipticity < 1.0:
        raise ValueError(f"psf_ellipticity must be in [0, 1), got {ellipticity!r}")
    if ellipticity == 0.0:
        return 0.0, 0.0
    if angle is None:
        angle = float(_extension_stream(seed).uniform(0.0, 180.0))
    return ellipticity, float(angle)


def _check_space_noise(kind: str) -> str:
    if kind not in SPACE_NOISE_KINDS:
        raise ValueError(f"space_noise must be one of {', '.join(SPACE_NOISE_KINDS)}, got {kind!r}")
    return kind


def _draw_psf(rng, psf, seeing_fwhm, moffat_beta):
    fwhm = _draw_value(rng, seeing_fwhm, "seeing_fwhm")
    model = psf if psf is not None else str(rng.choice(["moffat", "kolmogorov"]))
    if model not in ("moffat", "kolmogorov"):
        raise ValueError(f"psf must be 'moffat', 'kolmogorov' or None (random), got {psf!r}")
    beta = _draw_value(rng, moffat_beta, "moffat_beta") if model == "moffat" else None
    return fwhm, model, beta


def _draw_center(rng, center: SkyCoord | None) -> SkyCoord:
    if center is not None:
        return center.icrs
    dec = COSMOS_CENTER[1] + rng.uniform(-0.6, 0.6)
    ra = COSMOS_CENTER[0] + rng.uniform(-0.6, 0.6) / math.cos(math.radians(dec))
    return SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")


def _ground_evaluation_matrices(ground_shape, ground_scale, canvas_shape, scale, fft_shape, k_max):
    """Matrices that evaluate a cropped spectrum at the ground pixels' centres (see `_observe`)."""
    key = (tuple(ground_shape), ground_scale, tuple(canvas_shape), scale, tuple(fft_shape), k_max)
    cached = _EVAL_CACHE.get(key)
    if cached is not None:
        return cached
    ratio = ground_scale / scale
    # Canvas pixel coordinates of the ground pixels' centres (both grids share their centre).
    rows, cols = (
        (canvas_shape[a] - 1) / 2.0 + (np.arange(ground_shape[a]) - (ground_shape[a] - 1) / 2.0) * ratio
        for a in (0, 1)
    )
    ky = np.concatenate([np.arange(k_max + 1), np.arange(-k_max, 0)])
    kx = np.arange(k_max + 1)
    fy = ky / (fft_shape[0] * scale)  # cycles per arcsec
    fx = kx / (fft_shape[1] * scale)
    # Pixel response: the canvas holds 0.03" box integrals; the ground pixel integrates its box.
    box_y = np.sinc(fy * ground_scale) / np.sinc(fy * scale)
    box_x = np.sinc(fx * ground_scale) / np.sinc(fx * scale)
    weight_x = np.where(kx == 0, 1.0, 2.0)  # the half-plane of a real image's spectrum
    norm = ratio**2 / (fft_shape[0] * fft_shape[1])
    e_y = np.exp(2j * np.pi * np.outer(rows, ky) / fft_shape[0]) * box_y[None, :] * norm
    e_x = np.exp(2j * np.pi * np.outer(cols, kx) / fft_shape[1]) * (box_x * weight_x)[None, :]
    index_y = np.concatenate([np.arange(k_max + 1), np.arange(fft_shape[0] - k_max, fft_shape[0])])
    result = (e_y, e_x.T.copy(), index_y, ky, kx)
    if len(_EVAL_CACHE) > 64:
        _EVAL_CACHE.clear()
    _EVAL_CACHE[key] = result
    return result


_EVAL_CACHE: dict = {}


def _seeing_otf_crop(model, *, fwhm, beta, fft_shape, scale, k_max, ellipticity=0.0, angle=0.0):
    """The seeing OTF at the frequencies kept for the ground image (|k| <= k_max per axis).

    The truncated PSF is sampled on a coarser periodic grid of the same period (its spectrum
    is negligible beyond the kept band, so nothing aliases) and transformed there.
    """
    n = min(fft_shape)
    factor = 1
    for candidate in range(1, n + 1):
        if fft_shape[0] % candidate or fft_shape[1] % candidate:
            continue
        coarse = (fft_shape[0] // candidate, fft_shape[1] // candidate)
        if min(coarse) >= 3 * k_max + 2:
            factor = candidate
    coarse_shape = (fft_shape[0] // factor, fft_shape[1] // factor)
    otf = optical_transfer_function(model, shape=coarse_shape, pixel_scale=scale * factor,
                                    fwhm=fwhm, beta=beta, truncate=SEEING_TRUNCATE,
                                    ellipticity=ellipticity, angle=angle)
    rows = np.concatenate([np.arange(k_max + 1),
                           np.arange(coarse_shape[0] - k_max, coarse_shape[0])])
    return otf[rows][:, : k_max + 1]


def _observe(
    objects: Sequence[Galaxy],
    *,
    space_shape: tuple[int, int],
    space_scale: float,
    ground_scale: float,
    seeing_fwhm: float,
    psf_model: str,
    moffat_beta: float | None,
    space_rng: np.random.Generator,
    ground_rng: np.random.Generator,
    noise: bool,
    space: Instrument,
    ground: Instrument,
    psf_ellipticity: float = 0.0,
    psf_angle: float = 0.0,
    canvas_margin: float = CANVAS_MARGIN,
    peak_snr: float | None = None,
    space_noise: str = "white",
    fill_snr: float | None = None,
) -> dict[str, Any]:
    """Render, convolve, integrate over pixels and add noise (see the module's docstring).

    The ground image is evaluated exactly from the scene's spectrum: ground pixel values are
    ``(scene * seeing * ground pixel box)`` at the ground pixel centres, a band-limited sum
    done as two small matrix products over the frequencies the seeing lets through
    (``|f| < 3 / FWHM``), with the 0.03" box of the canvas swapped for the 0.202" box of the
    ground pixel (``sinc(f g) / sinc(f s)``). Flux in the footprint is conserved.

    With ``peak_snr`` the noiseless scene is scaled (before noise) so that the ground image's
    brightest pixel is ``peak_snr`` times the ground sky noise; with ``fill_snr``, so that its
    10th-percentile pixel is ``fill_snr`` sky sigmas (90% of the stamp at least that bright).
    The factor is returned as ``flux_scale``.
    """
    ground_shape = ground_shape_for(space_shape, space_scale, ground_scale)
    # Canvas: the space stamp plus a margin that also covers the whole ground footprint.
    ground_half = (ground_shape[0] * ground_scale / 2.0, ground_shape[1] * ground_scale / 2.0)
    margin = max(
        math.ceil(canvas_margin / space_scale),
        math.ceil(max(g - n * space_scale / 2.0 for g, n in zip(ground_half, space_shape, strict=True))
                  / space_scale) + 2,
    )
    canvas_shape = (space_shape[0] + 2 * margin, space_shape[1] + 2 * margin)
    canvas = Canvas(canvas_shape, space_scale)
    points: list[PointSource] = []
    for galaxy in objects:
        canvas.add_galaxy(galaxy)
        points += galaxy.points
    # Zero padding: light scattered by at most `reach` pixels never wraps into the canvas.
    reach = math.ceil(max(SEEING_TRUNCATE, SPACE_TRUNCATE) / space_scale) + 1
    fft_shape = (_fast_even_len(canvas_shape[0] + reach), _fast_even_len(canvas_shape[1] + reach))
    scene_ft = sfft.rfft2(canvas.image.astype(np.float32), s=fft_shape)
    if points:
        fy = sfft.fftfreq(fft_shape[0])
        fx = sfft.rfftfreq(fft_shape[1])
        box = (np.sinc(fy)[:, None] * np.sinc(fx)[None, :]).astype(np.float32)  # pixel response
        for star in points:
            row = star.y / space_scale + canvas.cy
            col = star.x / space_scale + canvas.cx
            phase_y = np.exp(-2j * np.pi * fy * row).astype(np.complex64)
            phase_x = np.exp(-2j * np.pi * fx * col).astype(np.complex64)
            scene_ft += np.float32(star.flux) * box * phase_y[:, None] * phase_x[None, :]
    space_otf = _space_otf32(fft_shape, space_scale)
    space_full = sfft.irfft2(scene_ft * space_otf, s=fft_shape)
    truth = space_full[margin: margin + space_shape[0], margin: margin + space_shape[1]]
    truth = truth.astype(np.float64)
    # Ground: only the band the seeing lets through.
    nyquist_index = min(fft_shape) // 2 - 1
    k_max = min(nyquist_index, math.ceil(3.0 / seeing_fwhm * max(fft_shape) * space_scale))
    e_y, e_x_t, index_y, _, _ = _ground_evaluation_matrices(
        ground_shape, ground_scale, canvas_shape, space_scale, fft_shape, k_max)
    otf = _seeing_otf_crop(psf_model, fwhm=seeing_fwhm,
                           beta=moffat_beta if moffat_beta is not None else 3.5,
                           fft_shape=fft_shape, scale=space_scale, k_max=k_max,
                           ellipticity=psf_ellipticity, angle=psf_angle)
    spectrum = scene_ft[index_y][:, : k_max + 1].astype(np.complex128) * otf
    ground_noiseless = (e_y @ spectrum @ e_x_t).real
    flux_scale = 1.0
    if peak_snr is not None and fill_snr is not None:
        raise ValueError("give peak_snr or fill_snr, not both")
    if peak_snr is not None or fill_snr is not None:
        target = peak_snr if peak_snr is not None else fill_snr
        level = float(ground_noiseless.max() if peak_snr is not None
                      else np.percentile(ground_noiseless, 10.0))
        if level <= 0:
            raise ValueError("peak_snr / fill_snr need a scene with light in the ground stamp")
        flux_scale = _positive(target, "peak_snr / fill_snr") * ground.sky_noise() / level
        truth = truth * flux_scale
        ground_noiseless = ground_noiseless * flux_scale
    if noise:
        if space_noise == "drizzle":
            kernel = drizzle_kernel(output_scale=space_scale,
                                    native_scale=DRIZZLE["native_pixel_arcsec"],
                                    pixfrac=DRIZZLE["pixfrac"])
            space_image = add_correlated_noise(truth, space, space_rng, kernel)
        else:
            space_image = add_noise(truth, space, space_rng)
        ground_image = add_noise(ground_noiseless, ground, ground_rng)
    else:
        space_image = truth.astype(np.float32)
        ground_image = ground_noiseless.astype(np.float32)
    return {
        "truth": truth.astype(np.float32),
        "space": space_image,
        "ground_noiseless": ground_noiseless.astype(np.float32),
        "ground": ground_image,
        "flux_scale": flux_scale,
    }


def _fast_even_len(n: int) -> int:
    # An FFT-friendly even length with many small divisors (for the coarse seeing grid).
    n = sfft.next_fast_len(int(n), real=True)
    while n % 2 or n % 3:
        n = sfft.next_fast_len(n + 1, real=True)
    return n


_SPACE_OTF32: dict = {}


def _space_otf32(fft_shape, scale):
    key = (tuple(fft_shape), float(scale))
    otf = _SPACE_OTF32.get(key)
    if otf is None:
        otf = optical_transfer_function("space", shape=fft_shape, pixel_scale=scale,
                                        truncate=SPACE_TRUNCATE).astype(np.complex64)
        if len(_SPACE_OTF32) > 8:
            _SPACE_OTF32.clear()
        _SPACE_OTF32[key] = otf
    return otf


def _component_records(galaxy: Galaxy) -> list[dict[str, Any]]:
    records = [dict(p.params, x=p.x, y=p.y) for p in galaxy.profiles]
    if galaxy.blobs:
        records.append({"component": "gaussian knots", "count": len(galaxy.blobs),
                        "flux": float(sum(b.flux for b in galaxy.blobs))})
    records += [{"component": "point", "flux": s.flux, "x": s.x, "y": s.y} for s in galaxy.points]
    return records


def _package(images, *, space_shape, space_scale, ground_scale, center, seeing, model, beta,
             space, ground, params, extra_header=None) -> SimulatedPair:
    ground_shape = images["ground"].shape
    space_wcs = make_tan_wcs(center=center, pixel_scale=space_scale, shape=space_shape)
    ground_wcs = make_tan_wcs(center=center, pixel_scale=ground_scale, shape=ground_shape)
    psf_name = model if model == "kolmogorov" else f"moffat beta={beta:.3f}"
    params.update(
        space_shape=tuple(space_shape), ground_shape=tuple(ground_shape),
        space_pixel_scale=space_scale, ground_pixel_scale=ground_scale,
        center_ra=float(center.ra.deg), center_dec=float(center.dec.deg),
        space_psf_fwhm=SPACE_PSF_FWHM, space_sky_noise=space.sky_noise(),
        ground_sky_noise=ground.sky_noise(), space_sky_level=space.sky, ground_sky_level=ground.sky,
    )
    return SimulatedPair(
        ground=images["ground"], space=images["space"], truth=images["truth"],
        ground_noiseless=images["ground_noiseless"], ground_wcs=ground_wcs, space_wcs=space_wcs,
        params=params,
        header_info={"ground": ground, "space": space, "psf_name": psf_name,
                     "extra": extra_header},
    )


def _sky_of_offsets(wcs: WCS, shape, scale, offsets):
    """RA, Dec (deg) of arcsec offsets (x west, y north) from the centre of a WCS's array."""
    offsets = np.atleast_2d(np.asarray(offsets, dtype=float))
    cols = (shape[1] - 1) / 2.0 + offsets[:, 0] / scale
    rows = (shape[0] - 1) / 2.0 + offsets[:, 1] / scale
    ra, dec = wcs.pixel_to_world_values(cols, rows)
    return np.asarray(ra, dtype=float), np.asarray(dec, dtype=float)


def _galaxy_ranges(mag_range, r_e_range, sersic_n_range) -> dict[str, Any]:
    ranges = {"mag_range": mag_range, "r_e_range": r_e_range, "sersic_n_range": sersic_n_range}
    checked: dict[str, Any] = {}
    for name, value in ranges.items():
        if value is None:
            continue
        lo, hi = (float(v) for v in value)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
            raise ValueError(f"galaxy {name} must be (low, high), got {value!r}")
        if name != "mag_range" and lo <= 0:
            raise ValueError(f"galaxy {name} must be positive, got {value!r}")
        checked[name] = (lo, hi)
    return checked


def _apply_flux_scale(params: dict[str, Any], scale: float, peak_snr: float | None,
                      fill_snr: float | None = None) -> None:
    # The scene was scaled to a peak (or fill) S/N: the recorded fluxes and magnitudes follow.
    if peak_snr is None and fill_snr is None:
        return
    if peak_snr is not None:
        params["peak_snr"] = float(peak_snr)
    elif fill_snr is not None:
        params["fill_snr"] = float(fill_snr)
    params["flux_scale"] = float(scale)
    for key in ("flux", "field_star_flux"):
        if params.get(key) is not None:
            params[key] = float(params[key]) * scale
    if params.get("mag") is not None:
        params["mag"] = float(params["mag"]) - 2.5 * math.log10(scale)
    for record in params.get("components", []) + params.get("objects", []):
        if record.get("flux") is not None:
            record["flux"] = float(record["flux"]) * scale
        if record.get("mag") is not None:
            record["mag"] = float(record["mag"]) - 2.5 * math.log10(scale)


def simulate_pair(
    *,
    seed: int,
    space_shape: Sequence[int] = (256, 256),
    space_pixel_scale: AngleLike = SPACE_PIXEL_SCALE,
    ground_pixel_scale: AngleLike = GROUND_PIXEL_SCALE,
    seeing_fwhm: AngleLike | Sequence[float] = (0.5, 1.2),
    morphology: str | None = None,
    psf: str | None = None,
    moffat_beta: float | Sequence[float] = (2.5, 4.5),
    noise: bool = True,
    field_star_rate: float = 0.1,
    center: SkyCoord | None = None,
    psf_ellipticity: float = 0.0,
    psf_angle: float | None = None,
    galaxy_mag_range: Sequence[float] | None = None,
    galaxy_r_e_range: Sequence[float] | None = None,
    sersic_n_range: Sequence[float] | None = None,
    peak_snr: float | None = None,
    canvas_margin: float = CANVAS_MARGIN,
    space_noise: str = "white",
    fill_snr: float | None = None,
) -> SimulatedPair:
    """Simulate one galaxy seen from the ground (seeing) and from space (HST-like).

    Parameters
    ----------
    seed : int
        Everything (galaxy, seeing, sky position, noise) is a function of the seed.
    space_shape : tuple of int, optional
        Space stamp ``(rows, cols)``; the ground stamp is ``round(space_shape * 0.03 / 0.202)``.
    space_pixel_scale, ground_pixel_scale : float or astropy Quantity, optional
        Arcsec per pixel (COSMOS ACS 0.03, Subaru Suprime-Cam 0.202), or angle Quantities
        (`seeinggan.units`).
    seeing_fwhm : float, (low, high) or astropy Quantity, optional
        Ground PSF FWHM in arcsec, or a range to draw it from uniformly.
    morphology : str, optional
        One of `MORPHOLOGIES` (``"star"`` gives a lone star); default drawn at random.
    psf : {"moffat", "kolmogorov"}, optional
        Seeing PSF model; default drawn at random (half each).
    moffat_beta : float or (low, high), optional
        Moffat index, or its range.
    noise : bool, optional
        Add noise (default). Without it ``ground`` and ``space`` are the noiseless images.
    field_star_rate : float, optional
        Mean number of faint field stars in the stamp (Poisson); 0 for none.
    center : astropy.coordinates.SkyCoord, optional
        Sky position of the stamps' centre; default drawn near the COSMOS field.
    psf_ellipticity : float, optional
        Reduced shear ``g = (a - b) / (a + b)`` of a slightly elliptical seeing PSF (0: round,
        the default); ``seeing_fwhm`` is then the geometric mean of the axes' FWHMs.
    psf_angle : float, optional
        Its major axis, degrees from +x (columns) to +y; default drawn uniformly.
    galaxy_mag_range, galaxy_r_e_range, sersic_n_range : (float, float), optional
        Ranges of the galaxy's AB magnitude (uniform), half-light radius in arcsec
        (log-uniform) and Sersic index (ellipticals, S0 bulges); see
        `seeinggan.simulate.galaxies.draw_galaxy`. Default: the standard mix.
    peak_snr : float, optional
        Scale the scene (before noise) so that the ground image's brightest pixel is this many
        ground sky sigmas; ``params`` then holds the scaled ``flux`` and ``mag`` and the
        ``flux_scale``. Default: the drawn magnitude decides.
    canvas_margin : float, optional
        Arcsec of scene drawn around the stamp (default 1.5). Use `SEEING_TRUNCATE` (4) for
        galaxies larger than the stamp, so that all the light seeing scatters in is there.
    space_noise : {"white", "drizzle"}, optional
        Independent pixel noise in the space image (default), or noise correlated as drizzling
        does (`seeinggan.simulate.observe.drizzle_kernel`), each pixel's rms unchanged.
    fill_snr : float, optional
        Instead of ``peak_snr``: scale the scene so that the ground image's 10th-percentile
        pixel is this many sky sigmas (a galaxy-filled stamp with no blank sky).

    Returns
    -------
    SimulatedPair

    Notes
    -----
    With every keyword after ``center`` at its default the pair is bit-identical to what this
    function made before those keywords existed (same draws in the same order).
    """
    space_shape = _check_shape(space_shape, "space_shape")
    space_pixel_scale = to_arcsec(space_pixel_scale, name="space_pixel_scale", per_pixel=True)
    ground_pixel_scale = to_arcsec(ground_pixel_scale, name="ground_pixel_scale", per_pixel=True)
    space_scale = _positive(space_pixel_scale, "space_pixel_scale")
    ground_scale = _positive(ground_pixel_scale, "ground_pixel_scale")
    if morphology is not None and morphology not in MORPHOLOGIES:
        raise ValueError(
            f"unknown morphology {morphology!r}; choose one of {', '.join(MORPHOLOGIES)}")
    space_noise = _check_space_noise(space_noise)
    canvas_margin = _positive(canvas_margin, "canvas_margin")
    rng, space_rng, ground_rng = _streams(seed)
    ellipticity, angle = _psf_shape(seed, psf_ellipticity, psf_angle)
    sky_center = _draw_center(rng, center)
    seeing, model, beta = _draw_psf(rng, psf, to_arcsec(seeing_fwhm, name="seeing_fwhm"), moffat_beta)
    # The galaxy sits near the centre, as in the paper's stamps centred on each galaxy.
    x, y = rng.uniform(-0.15, 0.15, size=2)
    galaxy = draw_galaxy(rng, morphology, x=float(x), y=float(y),
                         **_galaxy_ranges(galaxy_mag_range, galaxy_r_e_range, sersic_n_range))
    objects = [galaxy]
    n_stars = int(rng.poisson(field_star_rate)) if field_star_rate > 0 else 0
    half = (space_shape[1] * space_scale / 2.0, space_shape[0] * space_scale / 2.0)
    for _ in range(n_stars):
        sx, sy = rng.uniform(-half[0], half[0]), rng.uniform(-half[1], half[1])
        objects.append(draw_star(rng, x=float(sx), y=float(sy), mag_range=(20.0, 24.5)))
    space, ground = instruments_at_scales(space_scale, ground_scale)
    images = _observe(objects, space_shape=space_shape, space_scale=space_scale,
                      ground_scale=ground_scale, seeing_fwhm=seeing, psf_model=model,
                      moffat_beta=beta, space_rng=space_rng, ground_rng=ground_rng, noise=noise,
                      space=space, ground=ground, psf_ellipticity=ellipticity, psf_angle=angle,
                      canvas_margin=canvas_margin, peak_snr=peak_snr, space_noise=space_noise,
                      fill_snr=fill_snr)
    params: dict[str, Any] = {
        "class": galaxy.morphology,
        "seed": int(seed),
        "seeing_fwhm": seeing,
        "psf_model": model,
        "moffat_beta": beta,
        "psf_ellipticity": ellipticity,
        "psf_angle": angle,
        "space_noise": space_noise,
        **galaxy.params,
        "x_offset": float(x),
        "y_offset": float(y),
        "field_stars": n_stars,
        "field_star_flux": float(sum(o.flux for o in objects[1:])),
        "components": _component_records(galaxy),
    }
    _apply_flux_scale(params, images["flux_scale"], peak_snr, fill_snr)
    pair = _package(images, space_shape=space_shape, space_scale=space_scale,
                    ground_scale=ground_scale, center=sky_center, seeing=seeing, model=model,
                    beta=beta, space=space, ground=ground, params=params)
    ra, dec = _sky_of_offsets(pair.space_wcs, space_shape, space_scale, [(x, y)])
    params["ra"], params["dec"] = float(ra[0]), float(dec[0])
    pair.header_info["extra"] = {
        "SIMFLUX": (round(galaxy.flux * images["flux_scale"], 4),
                    "[count] total counts of the object"),
        "OBJRA": (params["ra"], "[deg] RA of the object's centre"),
        "OBJDEC": (params["dec"], "[deg] Dec of the object's centre"),
    }
    return pair


def simulate_field(
    *,
    seed: int,
    space_shape: Sequence[int] = (1024, 1024),
    n_galaxies: int = 8,
    n_stars: int = 3,
    space_pixel_scale: AngleLike = SPACE_PIXEL_SCALE,
    ground_pixel_scale: AngleLike = GROUND_PIXEL_SCALE,
    seeing_fwhm: AngleLike | Sequence[float] = (0.5, 1.2),
    morphology: str | None = None,
    psf: str | None = None,
    moffat_beta: float | Sequence[float] = (2.5, 4.5),
    noise: bool = True,
    center: SkyCoord | None = None,
    psf_ellipticity: float = 0.0,
    psf_angle: float | None = None,
    galaxy_mag_range: Sequence[float] | None = None,
    galaxy_r_e_range: Sequence[float] | None = None,
    sersic_n_range: Sequence[float] | None = None,
    star_mag_range: Sequence[float] = (18.0, 23.0),
    canvas_margin: float = CANVAS_MARGIN,
    space_noise: str = "white",
) -> SimulatedPair:
    """Simulate a field: several galaxies and stars at random places, seen from ground and space.

    The ground frame covers the same footprint as the space frame (same centre, same
    orientation). ``params["objects"]`` lists each object's class, flux, size, position as
    arcsec offsets ``(x, y)`` from the frame centre (``x`` west, ``y`` north) and its RA/Dec.

    Parameters
    ----------
    seed : int
        Everything is a function of the seed.
    space_shape : tuple of int, optional
        Space frame ``(rows, cols)``.
    n_galaxies, n_stars : int, optional
        How many galaxies and stars.
    space_pixel_scale, ground_pixel_scale, seeing_fwhm, morphology, psf, moffat_beta, noise, center
        As in `simulate_pair` (``morphology`` applies to every galaxy).
    psf_ellipticity, psf_angle, galaxy_mag_range, galaxy_r_e_range, sersic_n_range
        As in `simulate_pair` (the ranges apply to every galaxy).
    star_mag_range : (float, float), optional
        AB magnitude range of the stars (uniform).
    canvas_margin, space_noise
        As in `simulate_pair`.

    Returns
    -------
    SimulatedPair
        With ``params["class"] == "field"``; ``truth`` is the noiseless space frame.
    """
    space_shape = _check_shape(space_shape, "space_shape")
    space_pixel_scale = to_arcsec(space_pixel_scale, name="space_pixel_scale", per_pixel=True)
    ground_pixel_scale = to_arcsec(ground_pixel_scale, name="ground_pixel_scale", per_pixel=True)
    space_scale = _positive(space_pixel_scale, "space_pixel_scale")
    ground_scale = _positive(ground_pixel_scale, "ground_pixel_scale")
    if n_galaxies < 0 or n_stars < 0:
        raise ValueError(f"n_galaxies and n_stars must be >= 0, got {n_galaxies}, {n_stars}")
    if morphology == "star":
        raise ValueError("a field's galaxies cannot be stars; use n_stars for stars")
    space_noise = _check_space_noise(space_noise)
    canvas_margin = _positive(canvas_margin, "canvas_margin")
    ranges = _galaxy_ranges(galaxy_mag_range, galaxy_r_e_range, sersic_n_range)
    star_lo, star_hi = (float(v) for v in star_mag_range)
    rng, space_rng, ground_rng = _streams(seed)
    ellipticity, angle = _psf_shape(seed, psf_ellipticity, psf_angle)
    sky_center = _draw_center(rng, center)
    seeing, model, beta = _draw_psf(rng, psf, to_arcsec(seeing_fwhm, name="seeing_fwhm"), moffat_beta)
    # Keep galaxy centres 1" inside the frame so that most of each one is seen.
    half_x = max(0.0, space_shape[1] * space_scale / 2.0 - 1.0)
    half_y = max(0.0, space_shape[0] * space_scale / 2.0 - 1.0)
    objects: list[Galaxy] = []
    records: list[dict[str, Any]] = []
    for index in range(n_galaxies + n_stars):
        x, y = float(rng.uniform(-half_x, half_x)), float(rng.uniform(-half_y, half_y))
        if index < n_galaxies:
            obj = draw_galaxy(rng, morphology, x=x, y=y, **ranges)
        else:
            obj = draw_star(rng, x=x, y=y, mag_range=(star_lo, star_hi))
        objects.append(obj)
        records.append({"class": obj.morphology, "x": x, "y": y, "flux": obj.flux,
                        "mag": obj.params.get("mag"), "r_e": obj.params.get("r_e")})
    space, ground = instruments_at_scales(space_scale, ground_scale)
    images = _observe(objects, space_shape=space_shape, space_scale=space_scale,
                      ground_scale=ground_scale, seeing_fwhm=seeing, psf_model=model,
                      moffat_beta=beta, space_rng=space_rng, ground_rng=ground_rng, noise=noise,
                      space=space, ground=ground, psf_ellipticity=ellipticity, psf_angle=angle,
                      canvas_margin=canvas_margin, space_noise=space_noise)
    params: dict[str, Any] = {
        "class": "field",
        "seed": int(seed),
        "seeing_fwhm": seeing,
        "psf_model": model,
        "moffat_beta": beta,
        "psf_ellipticity": ellipticity,
        "psf_angle": angle,
        "space_noise": space_noise,
        "flux": float(sum(o.flux for o in objects)),
        "n_galaxies": int(n_galaxies),
        "n_stars": int(n_stars),
        "objects": records,
    }
    pair = _package(images, space_shape=space_shape, space_scale=space_scale,
                    ground_scale=ground_scale, center=sky_center, seeing=seeing, model=model,
                    beta=beta, space=space, ground=ground, params=params)
    if records:
        ra, dec = _sky_of_offsets(pair.space_wcs, space_shape, space_scale,
                                  [(r["x"], r["y"]) for r in records])
        for record, r, d in zip(records, ra, dec, strict=True):
            record["ra"], record["dec"] = float(r), float(d)
    return pair

