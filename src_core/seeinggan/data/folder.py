"""Matched pairs from a folder: ``ground/NAME.fits`` + ``space/NAME.fits`` (+ ``catalogue.csv``).

The layout `seeinggan.simulate.write_pairs` writes; each ground image is resampled onto its space
image's grid by `seeinggan.data.pairs.make_pair`.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from seeinggan.data.pairs import PairList, make_pair
from seeinggan.progress import ProgressCallback, StopCallback, check_stop

__all__ = ["folder_pairs"]

# Catalogue columns that are not pair meta: the pair's own files, the JSON dump of every parameter.
_NOT_META = (None, "name", "params", "ground_file", "space_file")


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
