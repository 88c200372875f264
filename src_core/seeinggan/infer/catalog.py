"""Catalogue cutouts: deblur a stamp around each source of a catalogue, found in any of the images.

The paper's unit of work is a stamp around a galaxy, not a whole frame. Here:

- `read_catalog` reads a CSV with columns ``id,ra,dec`` (degrees, ICRS) and an optional ``size``
  (stamp side in arcsec; empty or missing: the default size). Duplicate ids, missing columns and
  positions that are not numbers are errors naming the file, the row and the problem.
- `locate_sources` finds, for each source, the image that holds it farthest from an edge (only
  headers and WCS are read: `image_footprint`); sources outside every image are reported as such.
- `deblur_source` cuts the stamp with `astropy.nddata.Cutout2D` (``mode="partial"``: a stamp cut by
  an image edge is padded with NaN, which the network sees as sky and which stays NaN in the
  output, and it is flagged ``EDGEPAD = T`` with the ``COVERAGE`` fraction of real pixels), deblurs
  it with `Deblurrer.deblur` (the stamp is an image in its own right: its own intensity transform,
  as in training), and writes ``OUTDIR/<id>_deblurred.fits`` with the output WCS under a temporary
  name, renamed when complete.
- `deblur_catalog` (``Deblurrer.deblur_catalog``) does it all in one process and writes
  ``OUTDIR/catalog_results.csv``: one row per source with its status (``ok``, ``exists``,
  ``outside``, ``failed``), the image used, the pixel position, edge flag and coverage, the
  image's seeing (header ``SEEING``/``FWHM``..., arcsec) and the time taken.
- The model is told the image's seeing (``--seeing``, else the header) and the sky and noise of
  the whole image (measured once per image, `seeinggan.transforms.measure_sky_noise`, unless
  given): a stamp is often filled by its galaxy, so its own pixels would misjudge the sky.
  `seeinggan.infer.jobs` runs the same chunks on Dask.
- ``clean_cosmic_rays=True`` (single exposures; ``--clean-cosmic-rays``) cleans each image whole,
  once, before its stamps are cut (`seeinggan.infer.cosmic_rays.find_cosmic_rays`, L.A.Cosmic via
  astroscrappy, with the image's sky, noise, seeing and gain: the header's ``GAIN`` or
  ``gain=``), as `Deblurrer.deblur` does for a frame; each stamp's HISTORY says how many of its
  pixels were cleaned, and how many in the whole image.
"""

from __future__ import annotations

import csv
import math
import os
import re
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seeinggan.errors import InputError
from seeinggan.units import AngleLike, to_arcsec

__all__ = [
    "RESULT_COLUMNS",
    "Source",
    "cleaned_image",
    "deblur_catalog",
    "deblur_source",
    "image_footprint",
    "locate_sources",
    "read_catalog",
    "write_results",
]

RESULT_COLUMNS = (
    "id", "ra", "dec", "status", "image", "x", "y", "size_arcsec", "edge", "coverage",
    "seeing_arcsec", "seconds", "output", "message",
)
"""Columns of ``catalog_results.csv``, in order."""

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")


@dataclass(frozen=True)
class Source:
    """One catalogue row: ``id``, ``ra`` and ``dec`` in degrees, stamp side ``size`` in arcsec."""

    id: str
    ra: float
    dec: float
    size: float


def read_catalog(path: str | os.PathLike, *, default_size: float) -> list[Source]:
    """Read a source catalogue CSV (columns ``id,ra,dec`` and optional ``size`` in arcsec).

    Parameters
    ----------
    path : str or path-like
        The CSV file (a header row, then one source per row; extra columns are ignored).
    default_size : float
        Stamp side in arcsec for rows without a ``size``.

    Returns
    -------
    list of Source

    Raises
    ------
    ValueError
        One line naming the file, the row and the problem: missing columns, an id that is empty,
        repeated or unusable as a file name, RA/Dec or size that are not (positive) numbers.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: catalogue not found")
    if not (math.isfinite(default_size) and default_size > 0):
        raise InputError(f"the stamp size must be a positive number of arcsec, got {default_size!r}")
    with open(path, newline="", encoding="utf-8-sig") as stream:
        reader = csv.DictReader(stream)
        columns = [c.strip().lower() for c in (reader.fieldnames or [])]
        missing = [c for c in ("id", "ra", "dec") if c not in columns]
        if missing:
            raise InputError(f"{path}: the catalogue needs columns id,ra,dec (degrees); missing {','.join(missing)}")
        reader.fieldnames = columns
        sources: list[Source] = []
        first_row: dict[str, int] = {}
        for line, row in enumerate(reader, start=2):
            ident = (row.get("id") or "").strip()
            if not ident:
                raise InputError(f"{path}: row {line} has no id")
            if not _SAFE_ID.match(ident):
                raise InputError(
                    f"{path}: row {line}: id {ident!r} cannot name a file (letters, digits, . _ + - only)"
                )
            if ident in first_row:
                raise InputError(f"{path}: duplicate id {ident!r} in rows {first_row[ident]} and {line}")
            first_row[ident] = line
            ra = _number(path, line, "ra", row.get("ra"))
            dec = _number(path, line, "dec", row.get("dec"))
            if not (-90.0 <= dec <= 90.0):
                raise InputError(f"{path}: row {line}: dec {dec} is not between -90 and 90 degrees")
            size_text = (row.get("size") or "").strip()
            size = _number(path, line, "size", size_text) if size_text else float(default_size)
            if not size > 0:
                raise InputError(f"{path}: row {line}: size must be a positive number of arcsec, got {size_text}")
            sources.append(Source(ident, ra % 360.0, dec, size))
    if not sources:
        raise InputError(f"{path}: the catalogue has no sources")
    return sources


def _number(path: Path, line: int, name: str, text: str | None) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise InputError(f"{path}: row {line}: {name} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"{path}: row {line}: {name} {text!r} is not a finite number")
    return value


def image_footprint(
    path: str | os.PathLike, *, hdu: int | str | None = None, require_wcs: bool = True
) -> dict[str, Any]:
    """Name, shape, celestial WCS, seeing and gain of an image from its header only (no data read).

    Raises ValueError naming the file when the image has no celestial WCS and ``require_wcs``
    (a catalogue needs one); otherwise ``wcs`` is None then.
    """
    from astropy.io import fits

    from seeinggan import geometry
    from seeinggan.io.fits import FitsReadError, header_gain, read_image

    path = Path(path)
    try:
        with fits.open(path, memmap=True, lazy_load_hdus=True) as hdul:
            chosen = None
            for index, unit in enumerate(hdul):
                header = unit.header
                naxis = int(header.get("NAXIS", 0))
                is_image = index == 0 or header.get("XTENSION", "").strip() in ("IMAGE", "BINTABLE") and (
                    header.get("ZIMAGE", False) or header.get("XTENSION", "").strip() == "IMAGE"
                )
                if not is_image:
                    continue
                if header.get("ZIMAGE", False):
                    naxis, prefix = int(header.get("ZNAXIS", 0)), "ZNAXIS"
                else:
                    prefix = "NAXIS"
                if naxis < 2:
                    continue
                if hdu is None or hdu == index or (
                    isinstance(hdu, str) and str(header.get("EXTNAME", "")).strip().upper() == hdu.upper()
                ):
                    chosen = (index, unit.header.copy(), int(header[f"{prefix}2"]), int(header[f"{prefix}1"]))
                    break
    except OSError as error:
        raise FitsReadError(f"{path}: cannot be opened as FITS: {error}") from error
    if chosen is None:  # let the full reader say what is wrong with the file
        read_image(path, hdu=hdu)
        raise FitsReadError(f"{path}: no 2-D image HDU {hdu if hdu is not None else ''}".rstrip())
    index, header, rows, cols = chosen
    if header.get("ZIMAGE", False):  # a tile-compressed image: astropy rebuilds its image header
        image = read_image(path, hdu=index)
        header = image.header
    try:
        wcs = geometry.celestial_wcs(header)
    except ValueError as error:
        raise InputError(f"{path.name}[{index}]: {error}") from None
    if wcs is None and require_wcs:
        raise InputError(f"{path.name}[{index}]: no celestial WCS in the header; catalogue positions need RA/Dec")
    if wcs is not None:
        wcs.pixel_shape = (cols, rows)
    return {
        "path": str(path), "hdu": index, "name": f"{path.name}[{index}]", "shape": (rows, cols), "wcs": wcs,
        "pixel_scale": geometry.pixel_scale(wcs) if wcs is not None else None, "seeing": header_seeing(header),
        "gain": header_gain(header),
    }


def header_seeing(header) -> float | None:
    """Seeing FWHM in arcsec from the header (`seeinggan.models.conditions.seeing_from_header`)."""
    from seeinggan.models.conditions import seeing_from_header

    found = seeing_from_header(header)
    return None if found is None else found[0]


def locate_sources(
    sources: Sequence[Source], footprints: Sequence[dict[str, Any]]
) -> list[tuple[Source, int | None, float, float]]:
    """For each source: ``(source, image index or None, x, y)`` (0-based pixel position).

    The image chosen is the one whose nearest edge is farthest from the source (the most
    complete stamp); None when the source lies outside every image.
    """
    from astropy.coordinates import SkyCoord

    if not sources:
        return []
    coords = SkyCoord([s.ra for s in sources], [s.dec for s in sources], unit="deg", frame="icrs")
    best: list[tuple[int | None, float, float, float]] = [(None, -math.inf, math.nan, math.nan)] * len(sources)
    for index, footprint in enumerate(footprints):
        rows, cols = footprint["shape"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x, y = footprint["wcs"].world_to_pixel(coords)
        x, y = np.atleast_1d(np.asarray(x, float)), np.atleast_1d(np.asarray(y, float))
        margin = np.minimum.reduce([x + 0.5, cols - 0.5 - x, y + 0.5, rows - 0.5 - y])
        for k in range(len(sources)):
            if np.isfinite(margin[k]) and margin[k] > 0 and margin[k] > best[k][1]:
                best[k] = (index, float(margin[k]), float(x[k]), float(y[k]))
    return [(s, b[0], b[2], b[3]) for s, b in zip(sources, best, strict=True)]


def output_name(source_id: str) -> str:
    """``<id>_deblurred.fits``."""
    return f"{source_id}_deblurred.fits"


def deblur_source(
    deblurrer,
    image,
    source: Source,
    output_dir: str | os.PathLike,
    *,
    skip_existing: bool = False,
    output_pixel_scale: AngleLike | None = None,
    seeing: AngleLike | None = None,
    sky: float | None = None,
    noise: float | None = None,
    overwrite: bool = False,
    cosmic_rays=None,
) -> dict[str, Any]:
    """Cut, deblur and write the stamp of one source from one image (a `FitsImage`).

    ``seeing`` defaults to the image header's; ``sky`` and ``noise`` (input units per input
    pixel) to the stamp's own (`deblur_chunk` gives the whole image's). ``cosmic_rays`` (a
    `seeinggan.infer.cosmic_rays.CosmicRays` of the whole image, whose cleaned data ``image``
    holds) adds the stamp's count of cleaned pixels to the output's metadata and HISTORY.

    Returns the source's row of ``catalog_results.csv`` (see `RESULT_COLUMNS`); failures are
    reported in the row (status ``failed`` and the message), not raised. ``seeing`` and
    ``output_pixel_scale`` take floats (arcsec, arcsec/px) or astropy Quantities.
    """
    from astropy.nddata import Cutout2D, NoOverlapError

    from seeinggan import geometry
    from seeinggan.infer.deblurrer import history_lines
    from seeinggan.io.fits import write_image

    seeing = to_arcsec(seeing, name="seeing", positive=True)
    output_pixel_scale = to_arcsec(output_pixel_scale, name="output_pixel_scale", per_pixel=True)
    start = time.perf_counter()
    target = Path(output_dir) / output_name(source.id)
    row: dict[str, Any] = {
        "id": source.id, "ra": source.ra, "dec": source.dec, "status": "", "image": image.name,
        "x": "", "y": "", "size_arcsec": source.size, "edge": "", "coverage": "",
        "seeing_arcsec": header_seeing(image.header) or "", "seconds": "", "output": str(target), "message": "",
    }
    try:
        from astropy.coordinates import SkyCoord

        position = SkyCoord(source.ra, source.dec, unit="deg", frame="icrs")
        x, y = (float(v) for v in image.wcs.world_to_pixel(position))
        row.update(x=round(x, 3), y=round(y, 3))
        scale = geometry.pixel_scale(image.wcs)
        side = max(4, math.ceil(source.size / scale))
        data = image.data if image.data.ndim == 2 else image.data[0]
        try:
            cut = Cutout2D(data, (x, y), (side, side), wcs=image.wcs, mode="partial", fill_value=np.nan, copy=True)
        except NoOverlapError:
            row.update(status="outside", message="the stamp does not overlap the image")
            return row
        (ys, xs) = cut.slices_cutout
        real = (ys.stop - ys.start) * (xs.stop - xs.start)
        coverage = real / float(side * side)
        edge = coverage < 1.0
        row.update(edge=bool(edge), coverage=round(coverage, 4))
        if target.exists() and not overwrite:
            if skip_existing:
                row.update(status="exists", message="finished earlier; kept")
            else:
                row.update(status="failed", message=f"{target} exists; refusing to overwrite it")
            return row
        stamp = np.asarray(cut.data, dtype=np.float32)
        from seeinggan.infer.header import deblurred_header
        from seeinggan.models.conditions import seeing_from_header

        seeing_keyword = "--seeing" if seeing is not None else None
        if seeing is None and (found := seeing_from_header(image.header)) is not None:
            seeing, seeing_keyword = found
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = deblurrer.deblur(stamp, wcs=cut.wcs, output_pixel_scale=output_pixel_scale, seeing=seeing,
                                      sky=sky, noise=noise)
        if cosmic_rays is not None:  # cleaned on the whole image before the stamp was cut
            in_stamp = int(cosmic_rays.mask[cut.slices_original].sum())
            result.metadata["cosmic_rays"] = in_stamp
        if caught:
            row["message"] = "; ".join(str(w.message) for w in caught)[:300]
        header = deblurred_header(image.header, result.metadata, seeing_keyword=seeing_keyword)
        header["SOURCEID"] = (source.id, "catalogue id of the source")
        header["SRC_RA"] = (source.ra, "[deg] catalogue RA of the source")
        header["SRC_DEC"] = (source.dec, "[deg] catalogue Dec of the source")
        header["EDGEPAD"] = (bool(edge), "stamp cut by the image edge, padded with NaN")
        header["COVERAGE"] = (round(coverage, 4), "fraction of the stamp inside the image")
        meta = result.metadata
        history = [
            *history_lines(meta),
            f"deblur: {meta['input_pixel_scale']:.4g} -> {meta['pixel_scale']:.4g} arcsec/px",
            f"deblur: stamp of {source.id} from {image.name}"[:60],
        ]
        if cosmic_rays is not None:
            history.append(f"deblur: {result.metadata['cosmic_rays']} stamp px cleaned of cosmic rays "
                           f"({cosmic_rays.n_pixels} in image)"[:72])
        # atomic: a temporary name in the folder, renamed when whole (seeinggan.io.atomic)
        write_image(target, np.asarray(result.data), header=header, wcs=result.wcs, history=history,
                    overwrite=overwrite)
        row.update(status="ok")
    except Exception as error:  # noqa: BLE001 - one source failing must not stop the others
        row.update(status="failed", message=f"{type(error).__name__}: {error}"[:300])
    row["seconds"] = round(time.perf_counter() - start, 3)
    return row


def deblur_chunk(
    deblurrer,
    image_path: str,
    hdu: int | None,
    sources: Sequence[tuple[Source, float, float]] | Sequence[Source],
    output_dir: str | os.PathLike,
    *,
    skip_existing: bool = False,
    output_pixel_scale: float | None = None,
    seeing: float | None = None,
    sky: float | None = None,
    noise: float | None = None,
    overwrite: bool = False,
    clean_cosmic_rays: bool = False,
    gain: float | None = None,
) -> list[dict[str, Any]]:
    """Deblur several sources from one image (read once): one task of a catalogue run.

    The image's sky and noise are measured once on the whole image unless given. With
    ``clean_cosmic_rays`` the whole image is cleaned of cosmic rays once, before any stamp is
    cut (``gain`` in e-/count, else the header's ``GAIN``; without either, every source of the
    image fails with a message saying so).
    """
    from seeinggan.io.fits import read_image
    from seeinggan.transforms import measure_sky_noise

    plain = [s[0] if isinstance(s, tuple) else s for s in sources]
    try:
        image = read_image(image_path, hdu=hdu)
    except Exception as error:  # noqa: BLE001
        return [
            {**{c: "" for c in RESULT_COLUMNS}, "id": s.id, "ra": s.ra, "dec": s.dec, "status": "failed",
             "image": str(image_path), "size_arcsec": s.size, "message": f"{error}"[:300]}
            for s in plain
        ]
    if sky is None or noise is None:
        measured = measure_sky_noise(image.data if image.data.ndim == 2 else image.data[0])
        sky = measured[0] if sky is None else sky
        noise = measured[1] if noise is None else noise
    cosmic_rays = None
    if clean_cosmic_rays:
        try:
            image, cosmic_rays = cleaned_image(deblurrer, image, gain=gain, sky=sky, noise=noise, seeing=seeing)
        except Exception as error:  # noqa: BLE001 - this image's sources fail, the others go on
            return [
                {**{c: "" for c in RESULT_COLUMNS}, "id": s.id, "ra": s.ra, "dec": s.dec, "status": "failed",
                 "image": image.name, "size_arcsec": s.size, "message": f"{image.name}: {error}"[:300]}
                for s in plain
            ]
    return [
        deblur_source(deblurrer, image, s, output_dir, skip_existing=skip_existing,
                      output_pixel_scale=output_pixel_scale, seeing=seeing, sky=sky, noise=noise,
                      overwrite=overwrite, cosmic_rays=cosmic_rays)
        for s in plain
    ]


def cleaned_image(deblurrer, image, *, gain: float | None = None, sky: float | None = None,
                  noise: float | None = None, seeing: AngleLike | None = None):
    """``image`` (a `FitsImage`) cleaned of cosmic rays as a whole, and what was found.

    Runs the Deblurrer's cleaning (`seeinggan.infer.cosmic_rays.find_cosmic_rays` on the image's
    own grid) with ``gain`` (e-/count; default the header's ``GAIN``), the whole image's ``sky``
    and ``noise`` and the ``seeing`` (default the header's). Only the flagged pixels change.

    Returns
    -------
    (FitsImage, CosmicRays)
        A copy of ``image`` whose ``data`` is the cleaned 2-D float32 plane, and the
        `seeinggan.infer.cosmic_rays.CosmicRays` (mask and count).

    Raises
    ------
    InputError
        When neither ``gain`` nor the header gives the gain.
    """
    import dataclasses

    from seeinggan.io.fits import header_gain

    gain = gain if gain is not None else header_gain(image.header)
    if gain is None:
        raise InputError("cleaning cosmic rays needs the gain: no GAIN in the header; pass --gain E_PER_COUNT")
    if seeing is None:
        seeing = header_seeing(image.header)
    data = image.data if image.data.ndim == 2 else image.data[0]
    found = deblurrer._cleaned_of_cosmic_rays(data, gain=gain, sky=sky, noise=noise, seeing=seeing,
                                              wcs=image.wcs, pixel_scale=None)
    return dataclasses.replace(image, data=found.cleaned), found


def outside_row(source: Source) -> dict[str, Any]:
    """The results row of a source that lies in no image."""
    row: dict[str, Any] = {c: "" for c in RESULT_COLUMNS}
    row.update(id=source.id, ra=source.ra, dec=source.dec, status="outside", size_arcsec=source.size,
               message="outside every image")
    return row


def plan_chunks(
    sources: Sequence[Source], footprints: Sequence[dict[str, Any]], *, chunk_size: int = 32
) -> tuple[list[tuple[dict[str, Any], list[Source]]], list[Source]]:
    """Group sources by the image that holds them, ``chunk_size`` per task; and those outside all."""
    located = locate_sources(sources, footprints)
    by_image: dict[int, list[Source]] = {}
    outside = []
    for source, index, _, _ in located:
        if index is None:
            outside.append(source)
        else:
            by_image.setdefault(index, []).append(source)
    chunks = []
    for index in sorted(by_image):
        members = by_image[index]
        for start in range(0, len(members), chunk_size):
            chunks.append((footprints[index], members[start : start + chunk_size]))
    return chunks, outside


def write_results(rows: Sequence[dict[str, Any]], path: str | os.PathLike, *, order: Sequence[str] = ()) -> Path:
    """Write ``catalog_results.csv`` (rows in catalogue order when ``order`` lists the ids)."""
    path = Path(path)
    rank = {ident: k for k, ident in enumerate(order)}
    rows = sorted(rows, key=lambda r: rank.get(r["id"], len(rank)))
    temporary = path.parent / f".{path.name}.partial-{os.getpid()}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(temporary, "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(RESULT_COLUMNS), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    os.replace(temporary, path)
    return path


def deblur_catalog(
    deblurrer,
    images: Sequence[str | os.PathLike],
    catalog: str | os.PathLike | Sequence[Source],
    output_dir: str | os.PathLike,
    *,
    size: AngleLike = 7.68,
    hdu: int | str | None = None,
    skip_existing: bool = False,
    output_pixel_scale: AngleLike | None = None,
    progress: Callable[[int, int], None] | None = None,
    clean_cosmic_rays: bool = False,
    gain: float | None = None,
) -> list[dict[str, Any]]:
    """Deblur a stamp around every catalogue source found in any of ``images``, in this process.

    Parameters
    ----------
    deblurrer : seeinggan.infer.Deblurrer
    images : sequence of path
        FITS images with a celestial WCS.
    catalog : path or sequence of Source
        A CSV (see `read_catalog`) or sources already read.
    output_dir : path
        Gets ``<id>_deblurred.fits`` per source and ``catalog_results.csv``.
    size : float or astropy Quantity, optional
        Stamp side in arcsec (or any angle unit) for sources without their own ``size`` (default:
        7.68", the paper's 256 x 256 stamps at 0.03"/px).
    hdu : int or str, optional
        HDU to read from every image (default: the first image HDU).
    skip_existing : bool, optional
        Keep stamps finished by an earlier run (status ``exists``) instead of failing on them.
    output_pixel_scale : float or astropy Quantity, optional
        A coarser output grid, arcsec/px (see `Deblurrer.deblur`).
    progress : callable, optional
        ``progress(done_sources, total_sources)``.
    clean_cosmic_rays : bool, optional
        Clean each image of cosmic rays, whole and once, before its stamps are cut (single
        exposures; see `deblur_chunk`).
    gain : float, optional
        Detector gain in e-/count for the cleaning (default: each image's ``GAIN``).

    Returns
    -------
    list of dict
        The rows of ``catalog_results.csv``, in catalogue order.
    """
    size = to_arcsec(size, name="size", positive=True)
    output_pixel_scale = to_arcsec(output_pixel_scale, name="output_pixel_scale", per_pixel=True)
    sources = list(catalog) if not isinstance(catalog, (str, os.PathLike)) else read_catalog(catalog, default_size=size)
    footprints = [image_footprint(p, hdu=hdu) for p in images]
    chunks, outside = plan_chunks(sources, footprints)
    rows = [outside_row(s) for s in outside]
    total, done = len(sources), len(outside)
    if progress is not None:
        progress(done, total)
    for footprint, members in chunks:
        rows.extend(
            deblur_chunk(deblurrer, footprint["path"], footprint["hdu"], members, output_dir,
                         skip_existing=skip_existing, output_pixel_scale=output_pixel_scale,
                         clean_cosmic_rays=clean_cosmic_rays, gain=gain)
        )
        done += len(members)
        if progress is not None:
            progress(done, total)
    order = [s.id for s in sources]
    write_results(rows, Path(output_dir) / "catalog_results.csv", order=order)
    rank = {ident: k for k, ident in enumerate(order)}
    return sorted(rows, key=lambda r: rank[r["id"]])
