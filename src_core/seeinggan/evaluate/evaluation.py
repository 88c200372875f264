"""Evaluate a pairs folder: the paper's Tables 1 and 2, by class and seeing, and pixel fidelity.

Methods, all on the space grid and scored against the space image with
`seeinggan.metrics.compare` (CW-SSIM, SSIM, PSNR, one documented normalisation):

- ``ground``: the ground image resampled onto the space grid (`seeinggan.data.folder_pairs`);
- ``richardson_lucy``: `skimage.restoration.richardson_lucy` of that image with its true PSF
  (`seeinggan.evaluate.baselines`), at the iteration count with the best mean CW-SSIM on a
  separate validation set (simulated pairs with seeds disjoint from any written folder's,
  same stamp shape and seeing range as the test pairs), unless a count is given;
- ``seeinggan``: `seeinggan.infer.Deblurrer.deblur_cutouts` of that image.

Pixel fidelity, against the noiseless truth when the folder has one (``truth/NAME.fits``, as
written by ``write_pairs(..., truth=True)`` / ``seeinggan simulate --truth``), else against the
space image (real pairs folders; the report says which, ``settings["fidelity_reference"]``):

- flux error: ``(F_method - F_ref) / F_ref`` in an aperture around the galaxy (the connected
  region of the smoothed space image above 3 sigma that contains the peak nearest the stamp
  centre, grown by 5 pixels; the aperture is always drawn on the space image, as an astronomer
  would); the median (signed) and median absolute error per method;
- invented sources: peaks of the (1-pixel Gaussian smoothed) output above 5 sigma of the space
  image's smoothed noise that also stand 5 sigma above their surroundings (the output smoothed
  over 0.3", so a ripple on a bright disk is not a source while an added star or clump is), with
  no peak above 3 sigma (same noise) in the reference within 0.15"; mean count per image per
  method. Against a noisy space image, its own noise peaks can pass for
  counterparts; against the truth they cannot, so the truth gives the stricter (honest) count.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from seeinggan.evaluate.baselines import (
    RL_CANDIDATE_ITERATIONS,
    ground_psf_on_space_grid,
    richardson_lucy_deconvolve,
)
from seeinggan.progress import ProgressCallback, StopCallback, check_stop

__all__ = [
    "METHODS",
    "SEEING_BIN_EDGES",
    "VALIDATION_SEED",
    "EvaluationReport",
    "choose_rl_iterations",
    "evaluate_pairs",
    "flux_aperture",
    "invented_source_positions",
    "invented_sources",
    "relative_flux_error",
    "seeing_bin",
    "smoothed_noise",
    "truth_images",
]

METHODS = ("ground", "richardson_lucy", "seeinggan")
METHOD_TITLES = {"ground": "Ground resampled", "richardson_lucy": "Richardson-Lucy", "seeinggan": "SeeingGAN"}
METRICS = ("psnr", "ssim", "cw_ssim")
METRIC_TITLES = {"psnr": "PSNR (dB)", "ssim": "SSIM", "cw_ssim": "CW-SSIM"}
SEEING_BIN_EDGES = (0.7, 0.9, 1.1)
"""Seeing bins (arcsec): < 0.7, 0.7-0.9, 0.9-1.1, >= 1.1."""
VALIDATION_SEED = 7_000_001
"""Seed of the simulated validation set that picks the Richardson-Lucy iteration count."""

DETECT_SIGMA = 5.0
COUNTERPART_SIGMA = 3.0
MATCH_RADIUS_ARCSEC = 0.15
SURROUNDINGS_ARCSEC = 0.3


# ---------------------------------------------------------------------------------------------
# Pixel fidelity
# ---------------------------------------------------------------------------------------------


def seeing_bin(fwhm: float | None) -> str:
    """The seeing bin label of a FWHM in arcsec (``"unknown"`` when missing)."""
    if fwhm is None or not math.isfinite(float(fwhm)):
        return "unknown"
    edges = SEEING_BIN_EDGES
    if fwhm < edges[0]:
        return f'< {edges[0]}"'
    for low, high in zip(edges, edges[1:]):
        if fwhm < high:
            return f'{low}-{high}"'
    return f'>= {edges[-1]}"'


def _smoothed(image: np.ndarray, sigma: float) -> np.ndarray:
    from seeinggan.transforms import measure_sky_noise

    data = np.asarray(image, dtype=np.float64)
    sky, _ = measure_sky_noise(data)
    return ndimage.gaussian_filter(np.where(np.isfinite(data), data - sky, 0.0), sigma)


def flux_aperture(reference: np.ndarray, *, smooth: float = 2.0, grow: int = 5) -> np.ndarray:
    """Boolean aperture around the galaxy nearest the stamp centre (see the module docstring)."""
    from seeinggan.transforms import measure_sky_noise

    smoothed = _smoothed(reference, smooth)
    _, noise = measure_sky_noise(smoothed)
    labels, n = ndimage.label(smoothed > COUNTERPART_SIGMA * noise)
    rows, cols = reference.shape
    if n == 0:
        yy, xx = np.mgrid[:rows, :cols]
        return np.hypot(yy - (rows - 1) / 2, xx - (cols - 1) / 2) <= min(rows, cols) / 4
    peaks = ndimage.maximum_position(smoothed, labels, index=np.arange(1, n + 1))
    distance = [math.hypot(r - (rows - 1) / 2, c - (cols - 1) / 2) for r, c in peaks]
    region = labels == (int(np.argmin(distance)) + 1)
    return ndimage.binary_dilation(region, iterations=grow)


def relative_flux_error(test: np.ndarray, reference: np.ndarray, aperture: np.ndarray) -> float:
    """``(sum(test) - sum(reference)) / sum(reference)`` over the aperture's pixels finite in both."""
    valid = aperture & np.isfinite(test) & np.isfinite(reference)
    total = float(np.sum(reference[valid], dtype=np.float64))
    if not valid.any() or total <= 0:
        return float("nan")
    return (float(np.sum(test[valid], dtype=np.float64)) - total) / total


def _peaks(smoothed: np.ndarray, threshold: float, *, size: int = 5) -> np.ndarray:
    local_max = smoothed == ndimage.maximum_filter(smoothed, size=size, mode="nearest")
    return np.argwhere(local_max & (smoothed > threshold))


def smoothed_noise(image: np.ndarray, *, smooth: float = 1.0) -> float:
    """Sky noise of ``image`` after the Gaussian smoothing `invented_sources` applies (NaN-aware)."""
    from seeinggan.transforms import measure_sky_noise

    valid = np.isfinite(image)
    _, noise = measure_sky_noise(_smoothed(image, smooth)[valid])
    return float(noise)


def invented_sources(
    test: np.ndarray,
    reference: np.ndarray,
    *,
    pixel_scale: float,
    smooth: float = 1.0,
    noise: float | None = None,
) -> int:
    """Peaks in ``test`` with no counterpart in ``reference`` (see the module docstring).

    Both images on one grid, in the same flux units; NaN pixels of either are ignored.
    ``noise`` is the noise of the smoothed images that sets both thresholds; by default it is
    measured on the reference, which must then be noisy: for a noiseless truth pass the space
    image's (`smoothed_noise`). `invented_source_positions` says where they are.
    """
    return len(invented_source_positions(test, reference, pixel_scale=pixel_scale, smooth=smooth, noise=noise))


def invented_source_positions(
    test: np.ndarray,
    reference: np.ndarray,
    *,
    pixel_scale: float,
    smooth: float = 1.0,
    noise: float | None = None,
) -> np.ndarray:
    """The ``(row, col)`` pixels of the invented sources that `invented_sources` counts, ``[N, 2]``."""
    from seeinggan.transforms import measure_sky_noise

    valid = np.isfinite(test) & np.isfinite(reference)
    ref_s = _smoothed(np.where(valid, reference, np.nan), smooth)
    test_s = _smoothed(np.where(valid, test, np.nan), smooth)
    if noise is None:
        _, noise = measure_sky_noise(ref_s[valid])
    elif not noise > 0:
        raise ValueError(f"noise must be positive, got {noise!r}")
    found = _peaks(np.where(valid, test_s, -np.inf), DETECT_SIGMA * noise)
    # A source stands out from its surroundings: the output smoothed over SURROUNDINGS_ARCSEC.
    surroundings = ndimage.gaussian_filter(np.where(valid, test_s, 0.0), SURROUNDINGS_ARCSEC / pixel_scale)
    found = found[(test_s - surroundings)[found[:, 0], found[:, 1]] > DETECT_SIGMA * noise]
    truth = _peaks(np.where(valid, ref_s, -np.inf), COUNTERPART_SIGMA * noise)
    if len(found) == 0 or len(truth) == 0:
        return found
    radius = MATCH_RADIUS_ARCSEC / pixel_scale
    distance = np.hypot(found[:, None, 0] - truth[None, :, 0], found[:, None, 1] - truth[None, :, 1])
    return found[distance.min(axis=1) > radius]


# ---------------------------------------------------------------------------------------------
# Richardson-Lucy iteration count
# ---------------------------------------------------------------------------------------------


def choose_rl_iterations(
    pairs: Sequence[Any],
    *,
    candidates: Sequence[int] = RL_CANDIDATE_ITERATIONS,
    should_stop: StopCallback | None = None,
) -> tuple[int, dict[int, float]]:
    """The candidate iteration count with the best mean CW-SSIM on ``pairs`` (validation pairs).

    Returns
    -------
    best, scores : int, dict
        The chosen count and the mean CW-SSIM of every candidate.
    """
    from seeinggan.metrics import compare

    if not pairs:
        raise ValueError("choosing the Richardson-Lucy iteration count needs validation pairs")
    totals = {int(n): [] for n in candidates}
    for pair in pairs:
        psf = ground_psf_on_space_grid(pair.meta)
        for n in totals:
            check_stop(should_stop)
            restored = richardson_lucy_deconvolve(pair.ground, psf, iterations=n)
            totals[n].append(compare(pair.space, restored, mask=~pair.mask)["cw_ssim"])
    scores = {n: float(np.mean(values)) for n, values in totals.items()}
    best = max(scores, key=lambda n: scores[n])
    return best, scores


def _validation_pairs(test_pairs: Sequence[Any], n: int) -> list[Any]:
    """Simulated pairs like the test pairs (shape, seeing range), seeds disjoint from them."""
    from seeinggan.data import simulated_pairs

    shape = test_pairs[0].shape
    seeing = [float(p.meta["seeing_fwhm"]) for p in test_pairs if _finite(p.meta.get("seeing_fwhm"))]
    seeing_range = (min(seeing), max(seeing)) if seeing else (0.5, 1.2)
    if seeing_range[1] - seeing_range[0] < 1e-6:
        seeing_range = seeing_range[0]
    stream = simulated_pairs(n=n, seed=VALIDATION_SEED, space_shape=tuple(shape), seeing_fwhm=seeing_range)
    return [stream[i] for i in range(n)]


def truth_images(pairs_dir: str | os.PathLike, pairs: Sequence[Any]) -> dict[str, np.ndarray] | None:
    """The noiseless truth of every pair, from ``pairs_dir/truth/NAME.fits``; None without ``truth/``.

    Raises
    ------
    ValueError
        If ``truth/`` lacks some pair (all missing names are listed), or a truth image is not on
        its space image's grid (the file is named).
    """
    from seeinggan.io.fits import FITS_SUFFIXES, read_image

    folder = Path(pairs_dir) / "truth"
    if not folder.is_dir():
        return None
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        for suffix in sorted(FITS_SUFFIXES, key=len, reverse=True):
            if path.is_file() and path.name.lower().endswith(suffix):
                found.setdefault(path.name[: -len(suffix)], path)
                break
    missing = [p.name for p in pairs if p.name not in found]
    if missing:
        raise ValueError(f"{folder}: no truth image for {len(missing)} pair(s): {', '.join(missing)}")
    truths = {}
    for pair in pairs:
        path = found[pair.name]
        image = read_image(path)
        data = np.asarray(image.data, dtype=np.float32)
        if data.shape != pair.shape:
            raise ValueError(f"{path}: shape {data.shape} is not its space image's {pair.shape}")
        if image.wcs is not None and pair.wcs is not None:
            centre = ((pair.shape[1] - 1) / 2.0, (pair.shape[0] - 1) / 2.0)
            sky = pair.wcs.pixel_to_world_values(*centre)
            moved = np.hypot(*(np.subtract(image.wcs.celestial.world_to_pixel_values(*sky), centre)))
            if moved > 0.01:
                raise ValueError(f"{path}: not on its space image's grid (centre off by {moved:.3g} px)")
        truths[pair.name] = data
    return truths


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------
# The evaluation
# ---------------------------------------------------------------------------------------------


@dataclass
class EvaluationReport:
    """Scores of every method on every pair, and the paper's tables built from them.

    Attributes
    ----------
    rows : list of dict
        One per pair: ``name``, ``class``, ``seeing_fwhm``, ``seeing_bin`` and per method
        ``{method}_{metric}``, ``{method}_flux_error``, ``{method}_invented``, and
        ``{method}_cw_ssim_improvement`` (%, against ``ground``).
    methods : list of str
        The methods scored (``seeinggan`` is absent when no model was given).
    settings : dict
        Pairs folder, model, Richardson-Lucy iterations and their validation scores, date...
    """

    rows: list[dict[str, Any]]
    methods: list[str]
    settings: dict[str, Any] = field(default_factory=dict)

    # -- tables ------------------------------------------------------------------------------

    def table1(self, rows: Sequence[dict[str, Any]] | None = None) -> dict[str, dict[str, dict[str, float]]]:
        """``{method: {metric: {"mean", "min", "max"}}}`` (the paper's Table 1)."""
        rows = self.rows if rows is None else rows
        return {
            method: {metric: _stats(r[f"{method}_{metric}"] for r in rows) for metric in METRICS}
            for method in self.methods
        }

    def table2(self, rows: Sequence[dict[str, Any]] | None = None) -> dict[str, dict[str, float]]:
        """``{method: {"mean", "std", "min", "max"}}`` of the CW-SSIM improvement over ground, %."""
        rows = self.rows if rows is None else rows
        return {
            method: _stats((r[f"{method}_cw_ssim_improvement"] for r in rows), std=True)
            for method in self.methods
            if method != "ground"
        }

    def fidelity(self, rows: Sequence[dict[str, Any]] | None = None) -> dict[str, dict[str, float]]:
        """Per method: median signed and absolute relative flux error, invented sources per image."""
        rows = self.rows if rows is None else rows
        out = {}
        for method in self.methods:
            errors = np.array([r[f"{method}_flux_error"] for r in rows], dtype=float)
            errors = errors[np.isfinite(errors)]
            invented = np.array([r[f"{method}_invented"] for r in rows], dtype=float)
            out[method] = {
                "median_flux_error": float(np.median(errors)) if errors.size else float("nan"),
                "median_abs_flux_error": float(np.median(np.abs(errors))) if errors.size else float("nan"),
                "invented_per_image": float(invented.mean()) if invented.size else float("nan"),
                "images_with_invented": int(np.sum(invented > 0)),
            }
        return out

    def groups(self, key: str) -> dict[str, list[dict[str, Any]]]:
        """Rows grouped by ``"class"`` or ``"seeing_bin"``."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in self.rows:
            groups.setdefault(str(row.get(key, "unknown")), []).append(row)
        if key == "seeing_bin":
            order = [seeing_bin(x) for x in (0.0, *SEEING_BIN_EDGES)] + ["unknown"]
            return {k: groups[k] for k in order if k in groups}
        return dict(sorted(groups.items()))

    # -- output ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "settings": self.settings,
                "methods": self.methods,
                "n_pairs": len(self.rows),
                "table1": self.table1(),
                "table2": self.table2(),
                "fidelity": self.fidelity(),
                "by_class": {k: self._summary(v) for k, v in self.groups("class").items()},
                "by_seeing": {k: self._summary(v) for k, v in self.groups("seeing_bin").items()},
                "pairs": self.rows,
            }
        )

    def _summary(self, rows):
        return {"n_pairs": len(rows), "table1": self.table1(rows), "table2": self.table2(rows),
                "fidelity": self.fidelity(rows)}

    def to_markdown(self) -> str:
        s = self.settings
        lines = [
            "# SeeingGAN evaluation",
            "",
            f"Pairs: `{s.get('pairs_dir')}` ({len(self.rows)} pairs), scored on the space grid against the "
            "space image with `seeinggan.metrics.compare`.",
            f"Model: {s.get('model') or 'none'}. Richardson-Lucy: {s.get('rl_iterations')} iterations "
            f"({s.get('rl_iterations_source')}).",
            "",
            "## Table 1: scores against the space image (mean / min / max)",
            "",
            "| Metric | " + " | ".join(METHOD_TITLES[m] for m in self.methods) + " |",
            "|---|" + "---|" * len(self.methods),
        ]
        t1 = self.table1()
        for metric in METRICS:
            best = max(self.methods, key=lambda m: _nan_low(t1[m][metric]["mean"]))
            cells = []
            for m in self.methods:
                v = t1[m][metric]
                cell = f"{v['mean']:.3f} / {v['min']:.3f} / {v['max']:.3f}"
                cells.append(f"**{cell}**" if m == best else cell)
            lines.append(f"| {METRIC_TITLES[metric]} | " + " | ".join(cells) + " |")
        lines += ["", "Bold: the best mean.", "", "## Table 2: CW-SSIM improvement over the resampled ground image (%)", ""]
        t2 = self.table2()
        others = [m for m in self.methods if m != "ground"]
        lines += ["| | " + " | ".join(METHOD_TITLES[m] for m in others) + " |", "|---|" + "---|" * len(others)]
        for stat, title in (("mean", "Average"), ("std", "Standard deviation"), ("min", "Minimum"), ("max", "Maximum")):
            lines.append(f"| {title} | " + " | ".join(f"{t2[m][stat]:+.2f}%" for m in others) + " |")
        reference = ("Flux errors and invented sources against the noiseless truth (`truth/`); the aperture is "
                     "drawn on the space image." if s.get("fidelity_reference") == "truth" else
                     "Flux errors and invented sources against the space image (no `truth/` in the folder).")
        lines += ["", "## Pixel fidelity", "", reference, "",
                  "| | " + " | ".join(METHOD_TITLES[m] for m in self.methods) + " |", "|---|" + "---|" * len(self.methods)]
        fid = self.fidelity()
        lines.append("| Median flux error (aperture) | " + " | ".join(f"{100 * fid[m]['median_flux_error']:+.2f}%" for m in self.methods) + " |")
        lines.append("| Median absolute flux error | " + " | ".join(f"{100 * fid[m]['median_abs_flux_error']:.2f}%" for m in self.methods) + " |")
        lines.append("| Invented sources per image | " + " | ".join(f"{fid[m]['invented_per_image']:.2f}" for m in self.methods) + " |")
        lines.append("| Images with invented sources | " + " | ".join(str(fid[m]["images_with_invented"]) for m in self.methods) + " |")
        for key, title in (("class", "morphological class"), ("seeing_bin", "seeing FWHM")):
            lines += ["", f"## By {title}", "",
                      "| Group | N | " + " | ".join(f"CW-SSIM {METHOD_TITLES[m]}" for m in self.methods)
                      + "".join(f" | Improvement {METHOD_TITLES[m]}" for m in others)
                      + "".join(f" | Flux error {METHOD_TITLES[m]}" for m in others) + " |",
                      "|---|---|" + "---|" * (len(self.methods) + 2 * len(others))]
            for group, rows in self.groups(key).items():
                g1, g2, gf = self.table1(rows), self.table2(rows), self.fidelity(rows)
                lines.append(
                    f"| {group} | {len(rows)} | "
                    + " | ".join(f"{g1[m]['cw_ssim']['mean']:.3f}" for m in self.methods)
                    + "".join(f" | {g2[m]['mean']:+.2f}%" for m in others)
                    + "".join(f" | {100 * gf[m]['median_flux_error']:+.2f}%" for m in others)
                    + " |"
                )
        lines += ["", "Definitions: see `seeinggan.evaluate` (flux aperture, invented-source detection).", ""]
        return "\n".join(lines)

    def write(self, directory: str | os.PathLike, *, overwrite: bool = False) -> tuple[Path, Path]:
        """Write ``report.md`` and ``report.json`` into ``directory`` (created)."""
        directory = Path(directory)
        paths = (directory / "report.md", directory / "report.json")
        if not overwrite:
            for path in paths:
                if path.exists():
                    raise FileExistsError(f"{path}: exists; refusing to overwrite the report")
        directory.mkdir(parents=True, exist_ok=True)
        paths[0].write_text(self.to_markdown())
        paths[1].write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return paths


def _nan_low(value: float) -> float:
    return value if math.isfinite(value) else -math.inf


def _stats(values, *, std: bool = False) -> dict[str, float]:
    array = np.array([v for v in values], dtype=float)
    array = array[np.isfinite(array)]
    if array.size == 0:
        out = {"mean": float("nan"), "min": float("nan"), "max": float("nan")}
        if std:
            out["std"] = float("nan")
        return out
    out = {"mean": float(array.mean()), "min": float(array.min()), "max": float(array.max())}
    if std:
        out["std"] = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return out


def _clean(value):
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    return value


def evaluate_pairs(
    pairs_dir: str | os.PathLike,
    *,
    model: Any = "default",
    rl_iterations: int | str = "auto",
    n_validation: int = 20,
    rl_candidates: Sequence[int] = RL_CANDIDATE_ITERATIONS,
    device: str = "auto",
    batch_size: int = 4,
    progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
) -> EvaluationReport:
    """Score the resampled ground, Richardson-Lucy and SeeingGAN on a pairs folder.

    Parameters
    ----------
    pairs_dir : str or Path
        A folder as written by `seeinggan.simulate.write_pairs` (``ground/``, ``space/``,
        ``catalogue.csv`` with ``class``, ``seeing_fwhm``, ``psf_model``, ``moffat_beta``;
        optional ``truth/``, the noiseless space images: then the reference of the flux errors
        and invented sources; the scores stay against ``space/``).
    model : "default", path, (generator, metadata), `seeinggan.infer.Deblurrer` or None
        The SeeingGAN model; None scores only the two baselines.
    rl_iterations : "auto" or int
        Richardson-Lucy iterations; ``"auto"`` picks the best of ``rl_candidates`` by mean
        CW-SSIM on ``n_validation`` simulated validation pairs (`VALIDATION_SEED`).
    device, batch_size : optional
        For the `Deblurrer`.
    progress, should_stop : callable, optional
        ``progress(done, total)`` per pair scored; ``should_stop`` polled between steps.

    Returns
    -------
    EvaluationReport
    """
    from seeinggan import __version__
    from seeinggan.data import folder_pairs
    from seeinggan.infer import Deblurrer
    from seeinggan.metrics import compare
    from seeinggan.metrics.compare import normalisation, percent_change

    pairs = folder_pairs(pairs_dir, should_stop=should_stop)
    truths = truth_images(pairs_dir, pairs)
    settings: dict[str, Any] = {"pairs_dir": str(pairs_dir), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                "seeinggan_version": __version__,
                                "fidelity_reference": "space" if truths is None else "truth"}

    if rl_iterations == "auto":
        validation = _validation_pairs(pairs, int(n_validation))
        best, scores = choose_rl_iterations(validation, candidates=rl_candidates, should_stop=should_stop)
        settings.update(rl_iterations=best, rl_validation_cw_ssim=scores,
                        rl_iterations_source=f"best mean CW-SSIM on {len(validation)} simulated validation pairs, seed {VALIDATION_SEED}")
    else:
        n = int(rl_iterations)
        if n < 1:
            raise ValueError(f"rl_iterations must be 'auto' or a positive integer, got {rl_iterations!r}")
        settings.update(rl_iterations=n, rl_iterations_source="given")

    deblurrer = None
    methods = ["ground", "richardson_lucy"]
    if model is not None:
        deblurrer = model if isinstance(model, Deblurrer) else Deblurrer(model, device=device, batch_size=batch_size)
        methods.append("seeinggan")
        settings.update(model=deblurrer.model_name, model_path=str(deblurrer.model_path) if deblurrer.model_path else None,
                        model_created=deblurrer.metadata.get("created"))

    # SeeingGAN on all pairs first, one batch per stamp shape.
    outputs: dict[int, np.ndarray] = {}
    if deblurrer is not None:
        by_shape: dict[tuple[int, int], list[int]] = {}
        for index, pair in enumerate(pairs):
            by_shape.setdefault(pair.shape, []).append(index)
        for indices in by_shape.values():
            check_stop(should_stop)
            scale = float(pairs[indices[0]].meta.get("space_pixel_scale") or deblurrer.pixel_scale)
            stack = np.stack([pairs[i].ground for i in indices])
            result = deblurrer.deblur_cutouts(stack, pixel_scale=scale, should_stop=should_stop)
            for i, image in zip(indices, result.data):
                outputs[i] = image

    rows = []
    total = len(pairs)
    for index, pair in enumerate(pairs):
        check_stop(should_stop)
        meta = pair.meta
        mask = ~pair.mask
        images = {
            "ground": pair.ground,
            "richardson_lucy": richardson_lucy_deconvolve(
                pair.ground, ground_psf_on_space_grid(meta), iterations=settings["rl_iterations"]
            ),
        }
        if deblurrer is not None:
            images["seeinggan"] = outputs[index]
        fwhm = float(meta["seeing_fwhm"]) if _finite(meta.get("seeing_fwhm")) else float("nan")
        row: dict[str, Any] = {"name": pair.name, "class": str(meta.get("class", "unknown")),
                               "seeing_fwhm": fwhm, "seeing_bin": seeing_bin(fwhm)}
        norm = normalisation(pair.space, mask=mask)
        aperture = flux_aperture(pair.space)
        scale = float(meta.get("space_pixel_scale") or 0.03)
        # Fidelity against the noiseless truth when there is one; thresholds from the space noise.
        reference = pair.space if truths is None else np.where(pair.mask, truths[pair.name], np.nan)
        noise = smoothed_noise(np.where(pair.mask, pair.space, np.nan))
        for method, image in images.items():
            scores = compare(pair.space, image, mask=mask, normalise=norm)
            for metric in METRICS:
                row[f"{method}_{metric}"] = float(scores[metric])
            row[f"{method}_flux_error"] = relative_flux_error(image, reference, aperture & pair.mask)
            row[f"{method}_invented"] = invented_sources(np.where(pair.mask, image, np.nan), reference,
                                                         pixel_scale=scale, noise=noise)
        for method in images:
            row[f"{method}_cw_ssim_improvement"] = percent_change(row[f"{method}_cw_ssim"], row["ground_cw_ssim"])
        rows.append(row)
        if progress is not None:
            progress(index + 1, total)
    return EvaluationReport(rows=rows, methods=methods, settings=settings)
