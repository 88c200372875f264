"""FITS images in and out (the one home of FITS IO).

Reading (`read_images`, `read_image`)
-------------------------------------
- Every image HDU with data is returned, in file order: the primary HDU, image extensions and
  tile-compressed extensions (``.fits.fz``). An empty primary HDU (as in compressed and
  multi-extension files) is skipped silently; table HDUs are skipped with a note.
- Before astropy touches a file, `seeinggan.io.fits_guard` reads its headers and checks every
  structural keyword (BITPIX, NAXIS/NAXISn, PCOUNT/GCOUNT, TFIELDS, ZNAXISn...) against FITS's
  rules and the file's size, so no corrupt header can make astropy loop or allocate for ever;
  astropy then reads only the HDUs checked. Memory for the floats is checked before converting
  (`seeinggan.io.resources.check_memory`; `ResourceLimitError` says how much is needed).
- ``.gz`` (and ``.bz2``) files, recognised by their first bytes, are decompressed in pieces with a
  cap (the memory available; the size the header announces is checked first), in memory: no
  memory map. A corrupt or truncated stream fails at once.
- 3-D cubes stay 3-D (``(planes, rows, cols)``).
- Values: ``BSCALE``/``BZERO`` are applied and ``BLANK`` integers become NaN; the data come back as
  native-byte-order float32, or float64 when float32 would lose the data's precision (integers
  beyond 2**24 steps, float64 values whose float32 rounding exceeds 1e-4 of their range, or
  values beyond float32's range). NaN and inf are kept as they are.
- Memory: files are opened with ``memmap=True``. An uncompressed float HDU larger than
  `MEMMAP_THRESHOLD_BYTES` whose bytes are already float32/float64 is returned as a read-only
  memory map **in the file's byte order** (FITS is big-endian; converting it to native order
  would read the whole file into memory): ``FitsImage.memory_mapped`` is True and a note says so.
  Convert the pieces you use with ``np.asarray(piece, dtype=np.float32)``. Integer or scaled
  data of any size must become floats and are converted into memory block by block (peak memory:
  the float result only).
- The returned header has ``BSCALE``/``BZERO``/``BLANK`` removed (the data are already scaled).

Errors: `FitsReadError` (a `seeinggan.errors.SeeingGANError` and ValueError) names the file and
the problem: not a FITS file, truncated or corrupt, a header astropy cannot parse, no image data;
`ResourceLimitError` when the image needs more memory than is free (it says how much).

Writing (`write_image`)
-----------------------
Data + header + WCS + a ``HISTORY seeinggan <version>: ...`` line; an existing file is never
replaced unless ``overwrite=True``. The file is written atomically (`seeinggan.io.atomic`): a
temporary name in the same folder, flushed and fsync'ed, then renamed; the free space is checked
first (`NoSpaceError`, "no space left"), and a full disk or a kill never leaves a partial file
under the final name.
"""

from __future__ import annotations

import gzip
import math
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning
from astropy.utils.exceptions import AstropyUserWarning
from astropy.wcs import WCS

from seeinggan.errors import (
    FitsExistsError,
    FitsReadError,
    FitsWriteError,
    OutputExistsError,
    ResourceLimitError,
    SeeingGANError,
)
from seeinggan.io.atomic import atomic_open, check_output_folder
from seeinggan.io.fits_guard import HduLayout, compression_of, decompress, scan_hdus
from seeinggan.io.resources import check_memory, format_bytes

__all__ = [
    "FITS_SUFFIXES",
    "MEMMAP_THRESHOLD_BYTES",
    "FitsImage",
    "FitsReadError",
    "FitsWriteError",
    "create_image_file",
    "GRID_KEYWORDS",
    "GRID_PIXEL_SCALE_KEYWORDS",
    "PER_PIXEL_KEYWORDS",
    "PIXEL_SCALE_READ_KEYWORDS",
    "PIXEL_SECTION_KEYWORDS",
    "PSF_KEYWORDS",
    "ImageExtension",
    "derived_header",
    "header_gain",
    "is_fits_path",
    "read_image",
    "read_images",
    "write_image",
]

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz", ".fits.fz")

"""File name endings this module reads (lower case)."""

MEMMAP_THRESHOLD_BYTES = 256 * 1024**2
"""Float HDUs larger than this stay memory-mapped in the file's byte order (see module doc)."""

_SCALE_KEYWORDS = ("BSCALE", "BZERO", "BLANK")
_BLOCK_BYTES = 32 * 1024**2  # block size for converting integer data without a second full copy


@dataclass
class FitsImage:
    """One image HDU of a FITS file, ready for computing.

    Attributes
    ----------
    data : numpy.ndarray
        ``(rows, cols)`` or ``(planes, rows, cols)``; float32 or float64 (see the module doc for
        byte order of large memory-mapped files).
    header : astropy.io.fits.Header
        The HDU's header (scaling keywords removed).
    wcs : astropy.wcs.WCS or None
        2-D celestial WCS, or None when the header has none (or it could not be parsed: see notes).
    pixel_scale : float or None
        Arcsec per pixel from ``wcs``.
    name : str
        ``"file.fits[EXTNAME]"``, or ``"file.fits[N]"`` for an HDU without EXTNAME.
    path : pathlib.Path
        The file.
    hdu_index : int
        Index of the HDU in the file (0 = primary).
    notes : list of str
        Things the user should know (skipped tables, missing WCS, memory mapping...).
    memory_mapped : bool
        True when ``data`` is a memory map of the file in its own byte order.
    """

    data: np.ndarray
    header: fits.Header
    wcs: WCS | None
    pixel_scale: float | None
    name: str
    path: Path
    hdu_index: int
    notes: list[str] = field(default_factory=list)
    memory_mapped: bool = False


def is_fits_path(path: str | os.PathLike) -> bool:
    """True when ``path``'s name ends with one of `FITS_SUFFIXES` (case-insensitive)."""
    return str(path).lower().endswith(FITS_SUFFIXES)


def _display_name(path: Path) -> str:
    return path.name


def _open(path: Path) -> tuple[fits.HDUList, list[HduLayout], bool]:
    """Check the file's structure (`seeinggan.io.fits_guard`), then open it with astropy.

    Returns the HDU list (lazily loaded: only the checked HDUs are ever touched), the checked
    layouts and whether the file was compressed (gzip/bzip2, decompressed in memory).
    """
    if not path.exists():
        raise FitsReadError(f"{path}: no such file")
    if path.is_dir():
        raise FitsReadError(f"{path}: is a folder, not a FITS file")
    try:
        with open(path, "rb") as handle:
            kind = compression_of(handle.read(8))
            if kind is None:
                size = os.fstat(handle.fileno()).st_size

                def read_at(offset: int, n: int) -> bytes:
                    handle.seek(offset)
                    return handle.read(n)

                layouts = scan_hdus(read_at, size, path)
    except OSError as exc:
        raise FitsReadError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    if kind == "zip":
        raise FitsReadError(f"{path}: a zip archive; unzip it and open the FITS file inside")
    buffer = None
    if kind is not None:
        buffer = decompress(path, kind)
        view = memoryview(buffer)
        try:
            layouts = scan_hdus(lambda o, n: bytes(view[o : o + n]), len(buffer), path)
        finally:
            view.release()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VerifyWarning)
            warnings.simplefilter("ignore", AstropyUserWarning)
            options = {"do_not_scale_image_data": True, "lazy_load_hdus": True}
            if buffer is not None:
                hdul = fits.HDUList.fromstring(buffer, **options)  # no copy of the bytes
            else:
                hdul = fits.open(path, memmap=True, **options)
    except OSError as exc:
        msg = str(exc)
        if "SIMPLE" in msg or "Empty or corrupt" in msg:
            raise FitsReadError(f"{path}: not a valid FITS file ({msg.split('.')[0]})") from exc
        raise FitsReadError(f"{path}: cannot be opened as FITS: {msg}") from exc
    except Exception as exc:  # astropy raises many types for broken headers
        raise FitsReadError(f"{path}: the FITS header cannot be parsed: {exc}") from exc
    return hdul, layouts, kind is not None


def _close(hdul: fits.HDUList) -> None:
    """Close without reading the HDUs that were never checked (astropy's close walks them all)."""
    hdul._read_all = True  # astropy's own flag: no more HDUs to read from the file
    hdul.close()


def _hdu_label(hdu, index: int) -> str:
    extname = str(hdu.header.get("EXTNAME", "")).strip() if index > 0 or "EXTNAME" in hdu.header else ""
    return extname if extname else str(index)


def _scaling(header: fits.Header) -> tuple[float, float, int | None]:
    bscale = float(header.get("BSCALE", 1.0))
    bzero = float(header.get("BZERO", 0.0))
    blank = header.get("BLANK")
    return bscale, bzero, (int(blank) if blank is not None else None)


def _needs_float64_int(raw: np.ndarray, bscale: float, bzero: float) -> bool:
    """Integers: float64 when the values span more than 2**24 steps of BSCALE (float32's mantissa)."""
    info = np.iinfo(raw.dtype)
    bound = max(abs(bzero + bscale * info.min), abs(bzero + bscale * info.max))
    if bound / abs(bscale) <= 2**24:
        return False  # no value can lose precision: skip the scan
    lo, hi = float(raw.min()), float(raw.max())
    bound = max(abs(bzero + bscale * lo), abs(bzero + bscale * hi))
    return bound / abs(bscale) > 2**24


def _needs_float64_float(values: np.ndarray) -> bool:
    """float64 values: keep float64 if float32 overflows or rounds them by > 1e-4 of their range."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return False
    big = float(np.abs(finite).max())
    if big > float(np.finfo(np.float32).max):
        return True
    spread = float(finite.max() - finite.min())
    rounding = float(np.abs(finite.astype(np.float32).astype(np.float64) - finite).max())
    return rounding > 1e-4 * spread if spread > 0 else False


def _convert_int(raw: np.ndarray, bscale: float, bzero: float, blank: int | None) -> np.ndarray:
    dtype: type[np.floating] = np.float64 if _needs_float64_int(raw, bscale, bzero) else np.float32
    out = np.empty(raw.shape, dtype=dtype)
    flat_raw = raw.reshape(-1) if raw.flags.c_contiguous else np.ravel(raw)
    flat_out = out.reshape(-1)
    step = max(1, _BLOCK_BYTES // max(1, raw.dtype.itemsize))
    for start in range(0, flat_raw.size, step):
        block = np.asarray(flat_raw[start : start + step])
        vals = block.astype(dtype)
        if bscale != 1.0:
            vals *= dtype(bscale)
        if bzero != 0.0:
            vals += dtype(bzero)
        if blank is not None:
            vals[block == blank] = np.nan
        flat_out[start : start + step] = vals
    return out


def _convert_float(raw: np.ndarray, bscale: float, bzero: float, *, allow_memmap: bool):
    """Returns (data, memory_mapped)."""
    scaled = bscale != 1.0 or bzero != 0.0
    if allow_memmap and not scaled and raw.nbytes > MEMMAP_THRESHOLD_BYTES:
        return raw, True
    if raw.dtype.itemsize == 8:
        values = np.asarray(raw, dtype=np.float64)
        if scaled:
            values = values * bscale + bzero
        dtype = np.float64 if _needs_float64_float(values) else np.float32
        return values.astype(dtype, copy=False), False
    values = np.asarray(raw, dtype=np.float32)  # native byte order, one copy
    if scaled:
        values = values * np.float32(bscale) + np.float32(bzero)
    return values, False


def _image_from_hdu(hdu, layout: HduLayout, path: Path, *, gz: bool) -> FitsImage:
    from seeinggan import geometry

    index = layout.index
    header = hdu.header.copy()
    compressed = isinstance(hdu, fits.CompImageHDU)
    shape = (layout.compressed_shape if compressed else None) or layout.shape
    # Memory for the floats (the raw bytes stay memory-mapped, or are already in memory for
    # compressed files; a tile-compressed image is decompressed too).
    needed = layout.image_bytes * (2 if compressed else 1)
    dims = "x".join(str(n) for n in shape)
    check_memory(needed, f"{path}: HDU {index} ({dims} pixels)")
    try:
        raw = hdu.data
    except MemoryError as exc:
        raise ResourceLimitError(
            f"{path}: HDU {index} ({dims} pixels) needs {format_bytes(needed)} of memory to read; "
            "not enough is free"
        ) from exc
    except Exception as exc:
        raise FitsReadError(
            f"{path}: truncated or corrupt file: HDU {index} data cannot be read ({exc})"
        ) from exc
    bscale, bzero, blank = _scaling(header)
    notes: list[str] = []
    memory_mapped = False
    if raw.dtype.kind in "iub":
        if raw.nbytes > MEMMAP_THRESHOLD_BYTES:
            notes.append(
                f"integer data of {raw.nbytes / 1024**2:.0f} MiB converted to floats in memory"
            )
        data = _convert_int(raw, bscale, bzero, blank)
    elif raw.dtype.kind == "f":
        data, memory_mapped = _convert_float(
            raw, bscale, bzero, allow_memmap=not (gz or compressed)
        )
        if memory_mapped:
            notes.append(
                f"{raw.nbytes / 1024**2:.0f} MiB memory-mapped in the file's byte order "
                f"({raw.dtype.str}); pieces are converted when used"
            )
    else:
        raise FitsReadError(f"{path}: HDU {index} holds data of unsupported type {raw.dtype}")
    for key in _SCALE_KEYWORDS:
        header.remove(key, ignore_missing=True, remove_all=True)

    if data.ndim == 1:
        raise FitsReadError(f"{path}: HDU {index} is 1-D (shape {data.shape}), not an image")
    if data.ndim > 3:
        squeezed = data.reshape([n for n in data.shape if n != 1] or [1])
        if squeezed.ndim in (2, 3):
            notes.append(f"axes of length 1 dropped: shape {data.shape} -> {squeezed.shape}")
            data = squeezed
        else:
            raise FitsReadError(
                f"{path}: HDU {index} has {data.ndim} axes (shape {data.shape}); "
                "only 2-D images and 3-D cubes can be read"
            )

    try:
        wcs = geometry.celestial_wcs(header)
    except ValueError as exc:
        wcs = None
        notes.append(f"WCS ignored: {exc}")
    else:
        if wcs is None:
            notes.append("no celestial WCS: pixel coordinates only")
    scale = geometry.pixel_scale(wcs) if wcs is not None else None
    if wcs is not None:
        wcs.pixel_shape = (data.shape[-1], data.shape[-2])

    label = _hdu_label(hdu, index)
    return FitsImage(
        data=data,
        header=header,
        wcs=wcs,
        pixel_scale=scale,
        name=f"{_display_name(path)}[{label}]",
        path=path,
        hdu_index=index,
        notes=notes,
        memory_mapped=memory_mapped,
    )


def _is_image_hdu(hdu) -> bool:
    return isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)) and not isinstance(
        hdu, fits.GroupsHDU
    )


def read_images(path: str | os.PathLike) -> list[FitsImage]:
    """Read every image HDU with data from a FITS file.

    Parameters
    ----------
    path : str or path-like
        A ``.fits``/``.fit``/``.fts`` file, their ``.gz`` forms, or a tile-compressed ``.fits.fz``.

    Returns
    -------
    list of FitsImage
        One per image HDU with data, in file order. Notes about skipped table HDUs are added to
        the first image's ``notes``.

    Raises
    ------
    FitsReadError
        The file is missing, not FITS, truncated or corrupt, has an unparsable header, or holds
        no image data.
    """
    path = Path(path)
    hdul, layouts, gz = _open(path)
    images: list[FitsImage] = []
    skipped: list[str] = []
    try:
        for layout in layouts:  # only the HDUs whose structure was checked
            index = layout.index
            hdu = hdul[index]
            if _is_image_hdu(hdu):
                if not layout.shape or layout.data_bytes == 0:
                    continue  # empty primary of a multi-extension or compressed file
                if isinstance(hdu, fits.CompImageHDU) and not layout.compressed_shape:
                    continue
                images.append(_image_from_hdu(hdu, layout, path, gz=gz))
            else:
                kind = type(hdu).__name__
                skipped.append(f"HDU {index} ({_hdu_label(hdu, index)}, {kind})")
    except (FitsReadError, ResourceLimitError):
        _close(hdul)
        raise
    except MemoryError as exc:
        _close(hdul)
        raise ResourceLimitError(
            f"{path}: out of memory while reading (the images need "
            f"{format_bytes(sum(layout.image_bytes for layout in layouts))} as floats)"
        ) from exc
    except Exception as exc:
        _close(hdul)
        raise FitsReadError(f"{path}: the FITS file cannot be read: {exc}") from exc
    # Memory-mapped arrays keep the file open through their own mmap; closing the list is safe.
    _close(hdul)
    if not images:
        what = f"; it holds only {', '.join(skipped)}" if skipped else ""
        raise FitsReadError(f"{path}: no image data{what}")
    if skipped:
        images[0].notes.append("skipped non-image HDUs: " + ", ".join(skipped))
    return images


def read_image(path: str | os.PathLike, *, hdu: int | str | None = None) -> FitsImage:
    """Read one image HDU of a FITS file.

    Parameters
    ----------
    path : str or path-like
        The FITS file.
    hdu : int or str, optional
        HDU index or EXTNAME (case-insensitive). Default: the first image HDU with data.

    Returns
    -------
    FitsImage

    Raises
    ------
    FitsReadError
        As `read_images`, or when the requested HDU is not an image with data.
    """
    images = read_images(path)
    if hdu is None:
        return images[0]
    for image in images:
        if isinstance(hdu, int) and image.hdu_index == hdu:
            return image
        if isinstance(hdu, str) and str(image.header.get("EXTNAME", "")).strip().upper() == hdu.upper():
            return image
    available = ", ".join(image.name for image in images)
    raise FitsReadError(f"{path}: no image HDU {hdu!r}; images in the file: {available}")


_WCS_KEY_PREFIXES = (
    "CRPIX", "CRVAL", "CDELT", "CTYPE", "CUNIT", "CROTA", "CD1_", "CD2_", "PC1_", "PC2_",
    "PV1_", "PV2_", "A_", "B_", "AP_", "BP_", "LONPOLE", "LATPOLE", "RADESYS", "RADECSYS",
    "EQUINOX", "WCSAXES", "MJDREF", "DATEREF",
)


@dataclass
class ImageExtension:
    """An image extension for `write_image`: EXTNAME, data, WCS and keywords (BUNIT...)."""

    name: str
    data: np.ndarray
    wcs: WCS | None = None
    cards: dict = field(default_factory=dict)
    """Keyword -> value or (value, comment), written after the WCS."""


def _extension_hdu(extension: ImageExtension) -> fits.ImageHDU:
    header = fits.Header()
    if extension.wcs is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyUserWarning)
            header.update(extension.wcs.to_header(relax=True))
    for key, value in extension.cards.items():
        if key in ("COMMENT", "HISTORY"):
            for line in [value] if isinstance(value, str) else value:
                header.add_comment(line) if key == "COMMENT" else header.add_history(line)
        else:
            header[key] = value
    return fits.ImageHDU(data=np.asarray(extension.data, dtype=np.float32), header=header,
                         name=extension.name)


def _strip_celestial_wcs(header: fits.Header) -> None:
    """Remove the WCS keywords of the two image axes before a new WCS is written."""
    for key in list(header.keys()):
        if key.startswith(_WCS_KEY_PREFIXES) and not key.endswith("3"):
            header.remove(key, ignore_missing=True, remove_all=True)


PIXEL_SCALE_READ_KEYWORDS = ("PIXSCALE", "PIXSCAL1", "SECPIX", "SECPIX1", "PIXSIZE", "PLTSCALE")
"""Keywords read for a pixel scale in arcsec/px when a header has no celestial WCS, in order of
preference (`seeinggan.geometry.pixel_scale_from_header`)."""
GRID_PIXEL_SCALE_KEYWORDS = ("PIXSCALE", "PIXSCAL1", "PIXSCAL2", "SECPIX", "SECPIX1", "SECPIX2", "PIXSIZE",
                             "PLTSCALE", "PLATESCL", "SCALE")
"""Pixel-scale cards of the input's grid, dropped on a new grid (a wider net than
`PIXEL_SCALE_READ_KEYWORDS`: the WCS, written separately, carries the geometry of a new grid)."""
PSF_KEYWORDS = ("SEEING", "FWHM", "PSF_FWHM", "PSFFWHM", "FWHMPSF", "FWHM_AVE", "SEEING_FWHM", "IQ",
                "PSFBETA", "PSFMODEL", "PSF_MOD", "ELLIPTIC", "PSFELLIP")
"""The input's PSF: it no longer holds after resampling (or deblurring)."""
PER_PIXEL_KEYWORDS = ("SATURATE", "SATURATION", "SATLEVEL", "SATURLEV", "MAXLIN", "NONLIN", "GAIN",
                      "EGAIN", "CCDGAIN", "GAINEFF", "RDNOISE", "READNOIS", "RON", "SKYLEVEL", "SKY",
                      "SKYVAL", "SKYSIG", "SKYSIGMA", "SKYNOISE", "SKYRMS", "SKYSTD", "BKGSIG", "NOISE")
"""Detector and sky levels per pixel: they change with the pixel area, and the noise model with
resampling (a gain no longer turns counts into independent Poisson electrons)."""
PIXEL_SECTION_KEYWORDS = ("DATASEC", "TRIMSEC", "BIASSEC", "CCDSEC", "DETSEC", "LTV1", "LTV2", "LTM1_1",
                          "LTM1_2", "LTM2_1", "LTM2_2")
"""Pixel sections and the IRAF logical-to-physical map of the old grid."""
GRID_KEYWORDS = GRID_PIXEL_SCALE_KEYWORDS + PSF_KEYWORDS + PER_PIXEL_KEYWORDS + PIXEL_SECTION_KEYWORDS
"""Keywords that describe the input's pixel grid; `derived_header` drops them on a new grid."""

_STRUCTURAL = ("SIMPLE", "XTENSION", "BITPIX", "EXTEND", "PCOUNT", "GCOUNT", "CHECKSUM",
               "DATASUM", "", "END")


def derived_header(
    input_header: fits.Header | None,
    *,
    wcs: WCS | None = None,
    history: Iterable[str] | str = (),
    new_grid: bool = True,
) -> fits.Header:
    """The header of an image derived from an input image (deblurred, resampled, cut out).

    Keeps every card of ``input_header`` (BUNIT, MAGZP, exposure, filter, observer, COMMENT and
    HISTORY...) except the structural ones (rebuilt when writing), the integer scaling
    (``BSCALE``/``BZERO``/``BLANK``: the output is float), the celestial WCS (replaced by
    ``wcs``) and, with ``new_grid``, the `GRID_KEYWORDS` that only hold on the input's pixels
    (pixel scale, PSF, per-pixel detector and sky levels such as GAIN, pixel sections). A
    deblurred image adds its provenance with `seeinggan.infer.header.deblurred_header`, which
    calls this. Flux units are kept: the core's
    resampling conserves flux per pixel, so ``BUNIT`` stays right. ``history`` lines are added
    as ``HISTORY seeinggan <version>: <line>``.

    Parameters
    ----------
    input_header : astropy.io.fits.Header or None
        The input image's header (None: start empty).
    wcs : astropy.wcs.WCS, optional
        Celestial WCS of the new image; its cards replace the input's WCS.
    history : str or iterable of str, optional
        What was done to the input.
    new_grid : bool, optional
        The output lies on another pixel grid than the input (default True).

    Returns
    -------
    astropy.io.fits.Header
    """
    from seeinggan import __version__

    out = fits.Header()
    dropped = set(GRID_KEYWORDS) if new_grid else set()
    for card in (input_header.cards if input_header is not None else ()):
        key = card.keyword
        if key in _STRUCTURAL or key.startswith("NAXIS") or key in _SCALE_KEYWORDS:
            continue
        if key in dropped:
            continue
        if key == "HISTORY":
            out.add_history(card.value)
        elif key == "COMMENT":
            out.add_comment(card.value)
        else:
            out.append(card)
    if wcs is not None or new_grid:
        _strip_celestial_wcs(out)
    if wcs is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyUserWarning)
            wcs_cards = wcs.to_header(relax=True).cards
        for card in wcs_cards:
            if card.keyword in ("DATE-OBS", "MJD-OBS", "DATEREF", "MJDREFI", "MJDREFF") \
                    and card.keyword in out:
                continue
            out[card.keyword] = (card.value, card.comment)
    lines = [history] if isinstance(history, str) else list(history)
    for line in lines:
        out.add_history(f"seeinggan {__version__}: {line}")
    return out


def write_image(
    path: str | os.PathLike,
    data: np.ndarray,
    *,
    header: fits.Header | None = None,
    wcs: WCS | None = None,
    history: Iterable[str] | str = (),
    overwrite: bool = False,
    extensions: Iterable[ImageExtension] = (),
) -> Path:
    """Write an image (2-D or a 3-D cube) to a FITS file.

    Parameters
    ----------
    path : str or path-like
        Output file (``.fits``; a ``.gz`` ending writes gzip-compressed).
    data : numpy.ndarray
        Image data; written as float32 (float64 data stay float64, integers are kept).
    header : astropy.io.fits.Header, optional
        Keywords to carry over (structural keywords are rebuilt from ``data``).
    wcs : astropy.wcs.WCS, optional
        Celestial WCS; replaces the header's WCS keywords for the image axes.
    history : str or iterable of str, optional
        What was done; each line is written as ``HISTORY seeinggan <version>: <line>``. With no
        history, one ``HISTORY seeinggan <version>: written`` line is written.
    overwrite : bool, optional
        Replace an existing file. Default False: an existing file raises `FitsWriteError`.
    extensions : iterable of ImageExtension, optional
        Image extensions written after the primary image, in order (e.g. the ``UNCERTAINTY``
        and ``CONSISTENCY`` maps of ``seeinggan deblur --maps``), each with its own WCS.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FitsExistsError(f"{path}: file exists; refusing to overwrite it (pass overwrite=True)")
    array = np.asarray(data)
    if array.ndim not in (2, 3):
        raise FitsWriteError(
            f"{path}: can only write 2-D images or 3-D cubes, got data of shape {array.shape}"
        )
    if array.dtype.kind == "f" and array.dtype != np.float64:
        array = array.astype(np.float32, copy=False)
    elif array.dtype.kind == "b":
        array = array.astype(np.uint8)
    elif array.dtype.kind not in "iuf":
        raise FitsWriteError(f"{path}: cannot write data of type {array.dtype} to FITS")
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))

    out_header = _output_header(header, wcs, history, ndim=array.ndim)
    hdu = fits.PrimaryHDU(data=array, header=out_header)
    hdus = fits.HDUList([hdu, *(_extension_hdu(ext) for ext in extensions)])
    # Room for the data and headers, checked before writing (a full disk says so, up front).
    needed = sum((h.data.nbytes if h.data is not None else 0) + 2880 * (len(h.header) // 36 + 2) for h in hdus)
    check_output_folder(path.parent, needed_bytes=needed, what=path.name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VerifyWarning)
            with atomic_open(path, "wb", overwrite=overwrite) as handle:
                if path.name.lower().endswith(".gz"):
                    with gzip.GzipFile(filename=path.name[:-3], mode="wb", fileobj=handle) as zipped:
                        hdus.writeto(zipped, output_verify="silentfix")
                else:
                    hdus.writeto(handle, output_verify="silentfix")
    except OutputExistsError as exc:
        raise FitsExistsError(f"{path}: file exists; refusing to overwrite it") from exc
    except SeeingGANError:
        raise
    except OSError as exc:
        raise FitsWriteError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    return path


def _output_header(header: fits.Header | None, wcs: WCS | None, history, *, ndim: int) -> fits.Header:
    """The keywords `write_image` and `create_image_file` write besides the structural ones."""
    from seeinggan import __version__

    out_header = fits.Header()
    if header is not None:
        for card in header.cards:
            if card.keyword in ("SIMPLE", "XTENSION", "BITPIX", "EXTEND", "PCOUNT", "GCOUNT",
                                "CHECKSUM", "DATASUM", "", "END") or card.keyword.startswith("NAXIS"):
                continue
            if card.keyword in _SCALE_KEYWORDS:
                continue
            if card.keyword in ("COMMENT", "HISTORY"):
                out_header.add_comment(card.value) if card.keyword == "COMMENT" else out_header.add_history(card.value)
                continue
            out_header.append(card)
    if wcs is not None:
        _strip_celestial_wcs(out_header)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyUserWarning)
            wcs_header = wcs.to_header(relax=True)
        for card in wcs_header.cards:
            if card.keyword in ("DATE-OBS", "MJD-OBS", "DATEREF", "MJDREFI", "MJDREFF") and card.keyword in out_header:
                continue
            out_header[card.keyword] = (card.value, card.comment)
        if ndim == 3 and "CTYPE3" in out_header:
            out_header["WCSAXES"] = 3  # keep the cube's third axis described
    lines = [history] if isinstance(history, str) else list(history)
    for line in lines or ["written"]:
        out_header.add_history(f"seeinggan {__version__}: {line}")

    return out_header


def create_image_file(
    path: str | os.PathLike,
    shape: tuple[int, int],
    *,
    header: fits.Header | None = None,
    wcs: WCS | None = None,
    history: Iterable[str] | str = (),
) -> int:
    """Create a float32 FITS image of ``shape`` with its final header, data to be filled in place.

    The header is that of `write_image` (carried keywords, ``wcs``, HISTORY lines). The data
    section is allocated as a sparse file of zeros (no disk blocks until written); fill it with
    ``numpy.memmap(path, dtype=">f4", mode="r+", offset=<returned offset>, shape=...)``, a band of
    rows at a time. Nothing exists at ``path`` beforehand: an existing file raises
    `FitsWriteError` (write to a temporary name and rename it when the data are complete).

    Parameters
    ----------
    path : str or path-like
        The file to create.
    shape : tuple of int
        ``(rows, cols)`` of the image.
    header, wcs, history
        As in `write_image`.

    Returns
    -------
    int
        Byte offset of the data section in the file (FITS data are big-endian float32, ``>f4``).
    """
    path = Path(path)
    rows, cols = (int(n) for n in shape)
    if rows < 1 or cols < 1:
        raise FitsWriteError(f"{path}: cannot create an image of shape {shape}")
    out_header = _output_header(header, wcs, history, ndim=2)
    hdu = fits.PrimaryHDU(data=np.zeros((1, 1), dtype=np.float32), header=out_header)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)
        hdu.verify("silentfix")
    hdu.header["NAXIS1"] = cols
    hdu.header["NAXIS2"] = rows
    text = hdu.header.tostring()  # padded to a multiple of 2880 bytes, END included
    data_bytes = 4 * rows * cols
    padded = -(-data_bytes // 2880) * 2880
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as stream:
            stream.write(text.encode("ascii"))
            stream.truncate(len(text) + padded)
    except FileExistsError as exc:
        raise FitsExistsError(f"{path}: file exists; refusing to overwrite it") from exc
    except OSError as exc:
        raise FitsWriteError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    return len(text)


def header_gain(header: Any) -> float | None:
    """The header's GAIN card (detector gain, e-/count) when it is a positive number, else None."""
    value = header.get("GAIN") if header is not None else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None
