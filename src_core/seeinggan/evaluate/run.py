"""Running an evaluation: pairs (a folder or a simulated stress suite) in, an `EvaluationReport` out.

Methods, all on the space grid:

- ``ground``: the ground image resampled onto the space grid (`seeinggan.data.folder_pairs`);
- ``richardson_lucy``: `skimage.restoration.richardson_lucy` of that image with its true PSF
  (`seeinggan.evaluate.baselines`; the kernel spans 8 FWHM, so Moffat wings are kept), at the
  iteration count with the lowest mean band error against the noiseless truth on a separate
  validation set (for a stress suite: 20 pairs of the same suite drawn from `VALIDATION_SEED`;
  for a folder: simulated pairs with seeds disjoint from any written folder's, same stamp shape
  and seeing range as the test pairs), unless a count is given. The baseline is tuned on the
  measure the report leads with, so that the model is compared with Richardson-Lucy at its best;
- one method per model: `seeinggan.infer.Deblurrer.deblur_cutouts` of that image (``seeinggan``
  for a single ``model=``, the model's name for each of ``models=``).

Every method is scored (`seeinggan.evaluate.measures`):

- by the fidelity measures (band error, band power ratio, Fourier-ring resolution, texture rms,
  texture power ratio), the flux error and invented sources, against the noiseless truth when the
  pairs have one (``truth/NAME.fits``, as written by ``write_pairs(..., truth=True)`` /
  ``seeinggan simulate --truth``; the stress suites always do), else against the space image
  (real pairs folders; the report says which, ``settings["fidelity_reference"]``). The seeing
  FWHM that sets the bands is the pair's own (catalogue ``seeing_fwhm``, else ``SEEING``/``FWHM``
  in the ground header), else the ``seeing`` given;
- by CW-SSIM, SSIM and PSNR against the space image (`seeinggan.metrics.compare`; the paper's
  Tables 1 and 2).
"""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from seeinggan.constants import SPACE_PIXEL_SCALE
from seeinggan.evaluate.baselines import (
    RL_CANDIDATE_ITERATIONS,
    ground_psf_on_space_grid,
    richardson_lucy_path,
)
from seeinggan.evaluate.measures import (
    FIDELITY_METRICS,
    flux_aperture,
    invented_sources,
    pair_measures,
    relative_flux_error,
    seeing_bin,
    smoothed_noise,
)
from seeinggan.evaluate.report import METRICS, EvaluationReport
from seeinggan.progress import ProgressCallback, StopCallback, check_stop
from seeinggan.units import AngleLike, to_arcsec

__all__ = [
    "RL_INVENTED_LIMIT",
    "VALIDATION_SEED",
    "RLTuning",
    "available_suites",
    "choose_rl_iterations",
    "evaluate_pair_list",
    "evaluate_pairs",
    "evaluate_suite",
    "suite_validation_pairs",
    "truth_images",
]

VALIDATION_SEED = 7_000_001
"""Seed of the simulated validation set that picks the Richardson-Lucy iteration count."""


RL_INVENTED_LIMIT = 1.0
"""Most invented sources per validation image that the Richardson-Lucy baseline may make.

Tuned on the band error alone, Richardson-Lucy runs to hundreds of iterations and amplifies the
noise into tens of spurious compact sources per image (24.8 per held-out image at 800
iterations): a user stops it long before. The baseline (``richardson_lucy``) is the count with
the lowest validation band error among those inventing at most this many sources per image;
the unconstrained optimum is scored beside it as ``richardson_lucy_sharpest``."""


@dataclass(frozen=True)
class RLTuning:
    """How the Richardson-Lucy iteration counts were chosen on a validation set.

    Attributes
    ----------
    criterion : str
        ``"band_error"`` (pairs with truth: lowest mean band error) or ``"cw_ssim"`` (highest
        mean CW-SSIM against the space image).
    scores : dict
        Mean validation score per candidate count.
    invented : dict
        Mean invented sources per validation image per count (band-error criterion only).
    best : int
        The baseline's count: the best score among counts within `RL_INVENTED_LIMIT` invented
        sources per image (the best score outright with the CW-SSIM criterion).
    sharpest : int
        The best score outright.
    """

    criterion: str
    scores: dict[int, float]
    invented: dict[int, float]
    best: int
    sharpest: int


def choose_rl_iterations(
    pairs: Sequence[Any],
    *,
    candidates: Sequence[int] = RL_CANDIDATE_ITERATIONS,
    invented_limit: float = RL_INVENTED_LIMIT,
    should_stop: StopCallback | None = None,
) -> RLTuning:
    """The Richardson-Lucy iteration counts that do best on ``pairs`` (validation pairs).

    With the noiseless truth on every pair (``pair.truth``, simulated pairs) the criterion is the
    lowest mean restoration-band error against it (`seeinggan.metrics.fidelity.band_error`, the
    measure the report leads with), among the counts that invent at most ``invented_limit``
    sources per image (`seeinggan.evaluate.measures.invented_sources`, thresholds from the space
    image's noise); otherwise the highest mean CW-SSIM against the space image.

    Returns
    -------
    RLTuning
    """
    from seeinggan.metrics import compare
    from seeinggan.metrics.compare import normalisation
    from seeinggan.metrics.fidelity import band_error

    if not pairs:
        raise ValueError("choosing the Richardson-Lucy iteration count needs validation pairs")
    by_truth = all(getattr(pair, "truth", None) is not None and _finite(pair.meta.get("seeing_fwhm"))
                   for pair in pairs)
    totals: dict[int, list[float]] = {int(n): [] for n in candidates}
    invented: dict[int, list[float]] = {int(n): [] for n in candidates}
    for pair in pairs:
        check_stop(should_stop)
        path = richardson_lucy_path(pair.ground, ground_psf_on_space_grid(pair.meta), iterations=list(totals))
        if by_truth:
            scale = _space_pixel_scale(pair)
            noise = smoothed_noise(np.where(pair.mask, pair.space, np.nan))
            truth = np.where(pair.mask, pair.truth, np.nan)
            for n, restored in path.items():
                totals[n].append(band_error(restored, pair.truth, pixel_scale=scale,
                                            seeing_fwhm=float(pair.meta["seeing_fwhm"]), mask=~pair.mask))
                invented[n].append(invented_sources(np.where(pair.mask, restored, np.nan), truth,
                                                    pixel_scale=scale, noise=noise))
        else:
            norm = normalisation(pair.space, mask=~pair.mask)
            for n, restored in path.items():
                totals[n].append(compare(pair.space, restored, mask=~pair.mask, normalise=norm)["cw_ssim"])
    scores = {n: float(np.nanmean(values)) for n, values in totals.items()}
    if not by_truth:
        best = max(scores, key=lambda n: scores[n])
        return RLTuning("cw_ssim", scores, {}, best, best)
    rates = {n: float(np.mean(values)) for n, values in invented.items()}
    sharpest = min(scores, key=lambda n: scores[n])
    allowed = [n for n in scores if rates[n] <= invented_limit] or [min(scores)]
    best = min(allowed, key=lambda n: scores[n])
    return RLTuning("band_error", scores, rates, best, sharpest)


def _validation_pairs(test_pairs: Sequence[Any], n: int) -> list[Any]:
    """Simulated pairs like the test pairs (shape, seeing range), seeds disjoint from them."""
    from seeinggan.data import simulated_pairs

    shape = test_pairs[0].shape
    seeing = [float(p.meta["seeing_fwhm"]) for p in test_pairs if _finite(p.meta.get("seeing_fwhm"))]
    low, high = (min(seeing), max(seeing)) if seeing else (0.5, 1.2)
    seeing_range: float | tuple[float, float] = low if high - low < 1e-6 else (low, high)
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


def _model_label(model: Any, index: int) -> str:
    """A short column name for a model: its name, file stem or metadata name."""
    from seeinggan.infer import Deblurrer

    if isinstance(model, Deblurrer):
        return str(model.model_name)
    if isinstance(model, (str, os.PathLike)):
        text = str(model)
        path = Path(text)
        if path.suffix:
            return path.stem
        return text
    if isinstance(model, tuple) and len(model) == 2 and isinstance(model[1], Mapping):
        return str(model[1].get("name") or f"model{index + 1}")
    return f"model{index + 1}"


def _labelled_models(model: Any, models: Sequence[Any] | Mapping[str, Any] | None) -> dict[str, Any]:
    if models is None:
        return {} if model is None else {"seeinggan": model}
    if isinstance(models, Mapping):
        labelled = dict(models)
    else:
        labelled = {}
        for index, item in enumerate(models):
            label = _model_label(item, index)
            while label in labelled or label in ("ground", "richardson_lucy"):
                label += "'"
            labelled[label] = item
    for label in labelled:
        if label in ("ground", "richardson_lucy"):
            raise ValueError(f"model label {label!r} clashes with a baseline's name")
    return labelled


def _pair_seeing(pair: Any, fallback: float | None) -> tuple[float, str]:
    """The pair's seeing FWHM (catalogue, else the ground header), else ``fallback``; and its source."""
    from seeinggan.metrics import seeing_from_header

    value = pair.meta.get("seeing_fwhm")
    if _finite(value) and float(value) > 0:
        return float(value), "catalogue"
    ground_file = pair.meta.get("ground_file")
    if ground_file:
        from astropy.io import fits

        try:
            seeing = seeing_from_header(fits.getheader(ground_file))
        except (OSError, ValueError):
            seeing = None
        if seeing is not None:
            return seeing, "header"
    if fallback is not None:
        return float(fallback), "given"
    return float("nan"), "unknown"


def _space_pixel_scale(pair: Any) -> float:
    if getattr(pair, "wcs", None) is not None:
        from seeinggan.geometry import pixel_scale

        return float(pixel_scale(pair.wcs))
    return float(pair.meta.get("space_pixel_scale") or SPACE_PIXEL_SCALE)


def evaluate_pairs(
    pairs_dir: str | os.PathLike,
    *,
    model: Any = "default",
    models: Sequence[Any] | Mapping[str, Any] | None = None,
    seeing: AngleLike | None = None,
    rl_iterations: int | str = "auto",
    n_validation: int = 20,
    rl_candidates: Sequence[int] = RL_CANDIDATE_ITERATIONS,
    device: str = "auto",
    batch_size: int = 4,
    workers: int = 1,
    progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
    validation_pairs: Sequence[Any] | None = None,
    validation_source: str | None = None,
) -> EvaluationReport:
    """Score the resampled ground, Richardson-Lucy and one or more models on a pairs folder.

    Parameters
    ----------
    pairs_dir : str or Path
        A folder as written by `seeinggan.simulate.write_pairs` (``ground/``, ``space/``,
        ``catalogue.csv`` with ``class``, ``seeing_fwhm``, ``psf_model``, ``moffat_beta``;
        optional ``truth/``, the noiseless space images: then the reference of the fidelity
        measures, flux errors and invented sources; CW-SSIM/SSIM/PSNR stay against ``space/``).
    model : "default", name, path, (generator, metadata), `seeinggan.infer.Deblurrer` or None
        One model, scored as the method ``seeinggan``; None scores only the two baselines.
        Ignored when ``models`` is given.
    models : sequence or mapping, optional
        Several models (each as ``model``), scored side by side in one run; each is a method
        named after the model (its name or file stem; a mapping gives the names).
    seeing : float or astropy Quantity, optional
        Seeing FWHM (arcsec, or an angle) for pairs whose catalogue and ground header give none.
    rl_iterations : "auto" or int
        Richardson-Lucy iterations; ``"auto"`` picks the best of ``rl_candidates``
        (`choose_rl_iterations`: lowest mean band error against the truth) on ``n_validation``
        simulated validation pairs (`VALIDATION_SEED`), or on ``validation_pairs`` when given.
    validation_pairs : sequence of pairs, optional
        Pairs with ``truth`` like the test pairs but disjoint from them (a stress suite's own
        validation draw); ``validation_source`` says what they are in the report.
    device, batch_size : optional
        For the `Deblurrer`.
    workers : int, optional
        Processes that score the pairs (Richardson-Lucy and every measure; the models run in this
        process, batched). 1 (default) scores in this process; 2 on a 2-core machine halves the
        time of a suite.
    progress, should_stop : callable, optional
        ``progress(done, total)`` per pair scored; ``should_stop`` polled between steps.

    Returns
    -------
    EvaluationReport
    """
    from seeinggan.data import folder_pairs

    pairs = folder_pairs(Path(pairs_dir), should_stop=should_stop)
    truths = truth_images(pairs_dir, pairs)
    return evaluate_pair_list(
        pairs, truths=truths, model=model, models=models, seeing=seeing, rl_iterations=rl_iterations,
        n_validation=n_validation, rl_candidates=rl_candidates, device=device, batch_size=batch_size,
        workers=workers, progress=progress, should_stop=should_stop, settings={"pairs_dir": str(pairs_dir)},
        validation_pairs=validation_pairs, validation_source=validation_source,
    )


def evaluate_pair_list(
    pairs: Sequence[Any],
    *,
    truths: Mapping[str, np.ndarray] | None = None,
    model: Any = "default",
    models: Sequence[Any] | Mapping[str, Any] | None = None,
    seeing: AngleLike | None = None,
    rl_iterations: int | str = "auto",
    n_validation: int = 20,
    rl_candidates: Sequence[int] = RL_CANDIDATE_ITERATIONS,
    device: str = "auto",
    batch_size: int = 4,
    workers: int = 1,
    progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
    settings: dict[str, Any] | None = None,
    validation_pairs: Sequence[Any] | None = None,
    validation_source: str | None = None,
) -> EvaluationReport:
    """`evaluate_pairs` on pairs already read, with their noiseless ``truths`` by name (or None).

    The pairs are `seeinggan.data` pairs: ``ground`` on the space grid, ``space``, ``mask``,
    ``meta``, ``name``, ``shape``, ``wcs``. ``settings`` are added to the report's.
    ``validation_pairs`` (with ``truth``) tune Richardson-Lucy instead of the default simulated set.
    """
    from seeinggan import __version__
    from seeinggan.infer import Deblurrer

    if not pairs:
        raise ValueError("no pairs to evaluate")
    seeing = to_arcsec(seeing, name="seeing", positive=True)
    settings = {**(settings or {}), "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "seeinggan_version": __version__, "fidelity_reference": "space" if truths is None else "truth"}

    if rl_iterations == "auto":
        if validation_pairs is None:
            validation = _validation_pairs(pairs, int(n_validation))
            where = f"{len(validation)} simulated validation pairs, seed {VALIDATION_SEED}"
        else:
            validation = list(validation_pairs)
            where = f"{len(validation)} validation pairs ({validation_source or 'given'})"
        tuning = choose_rl_iterations(validation, candidates=rl_candidates, should_stop=should_stop)
        if tuning.criterion == "band_error":
            what = (f"lowest mean band error against the truth among the counts inventing at most "
                    f"{RL_INVENTED_LIMIT:g} source per image")
        else:
            what = "best mean CW-SSIM"
        settings.update(rl_iterations=tuning.best, rl_validation_scores=tuning.scores,
                        rl_validation_criterion=tuning.criterion, rl_iterations_source=f"{what} on {where}")
        if tuning.criterion == "band_error":
            settings["rl_validation_invented"] = tuning.invented
        if tuning.sharpest != tuning.best:
            settings.update(rl_iterations_sharpest=tuning.sharpest,
                            rl_iterations_sharpest_source=f"lowest mean band error against the truth on {where}")
    else:
        n = int(rl_iterations)
        if n < 1:
            raise ValueError(f"rl_iterations must be 'auto' or a positive integer, got {rl_iterations!r}")
        settings.update(rl_iterations=n, rl_iterations_source="given")

    deblurrers: dict[str, Deblurrer] = {}
    for label, item in _labelled_models(model, models).items():
        deblurrer = item if isinstance(item, Deblurrer) else Deblurrer(item, device=device, batch_size=batch_size)
        deblurrers[label] = deblurrer
    rl_counts = {"richardson_lucy": int(settings["rl_iterations"])}
    if "rl_iterations_sharpest" in settings:
        rl_counts["richardson_lucy_sharpest"] = int(settings["rl_iterations_sharpest"])
    methods = ["ground", *rl_counts, *deblurrers]
    settings["models"] = {
        label: {"name": d.model_name, "path": str(d.model_path) if d.model_path else None,
                "created": d.metadata.get("created"), "support_guard": d.support_guard}
        for label, d in deblurrers.items()
    }
    if len(deblurrers) == 1:
        (only,) = deblurrers.values()
        settings.update(model=only.model_name, model_path=str(only.model_path) if only.model_path else None,
                        model_created=only.metadata.get("created"))

    # Every model on all pairs first, one batch per stamp shape and pixel scale.
    outputs: dict[str, dict[int, np.ndarray]] = {label: {} for label in deblurrers}
    by_grid: dict[tuple, list[int]] = {}
    for index, pair in enumerate(pairs):
        ground_scale = pair.meta.get("ground_pixel_scale")
        ground_scale = round(float(ground_scale), 9) if _finite(ground_scale) else None
        by_grid.setdefault((pair.shape, round(_space_pixel_scale(pair), 9), ground_scale), []).append(index)
    for label, deblurrer in deblurrers.items():
        for (_, scale, ground_scale), indices in by_grid.items():
            check_stop(should_stop)
            stack = np.stack([pairs[i].ground for i in indices])
            # What a careful user tells the model (issue 9): each image's seeing and its observed
            # pixel scale, and for simulated pairs (sky-subtracted, noise in the catalogue) the
            # true sky and noise rather than levels measured on a galaxy-filled stamp.
            seeings = [_pair_seeing(pairs[i], seeing)[0] for i in indices]
            noises = [pairs[i].meta.get("ground_sky_noise") for i in indices]
            known = all(_finite(v) and float(v) > 0 for v in noises)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # seeing assumed / out of range: reported per model
                result = deblurrer.deblur_cutouts(
                    stack, pixel_scale=scale, should_stop=should_stop,
                    seeing=[v if math.isfinite(v) else None for v in seeings],
                    input_pixel_scale=ground_scale,
                    sky=[0.0] * len(indices) if known else None,
                    noise=[float(v) for v in noises] if known else None,
                )
            for i, image in zip(indices, result.data, strict=True):
                outputs[label][i] = image

    jobs = []
    sources: set[str] = set()
    for index, pair in enumerate(pairs):
        fwhm, source = _pair_seeing(pair, seeing)
        sources.add(source)
        jobs.append(_PairJob(
            name=pair.name, meta=dict(pair.meta), ground=pair.ground, space=pair.space, valid=pair.mask,
            truth=None if truths is None else truths[pair.name], seeing_fwhm=fwhm,
            pixel_scale=_space_pixel_scale(pair), rl_counts=rl_counts,
            outputs={label: outputs[label][index] for label in deblurrers},
        ))
    rows = _score_jobs(jobs, workers=workers, progress=progress, should_stop=should_stop)
    settings["seeing_source"] = _seeing_text(sources, seeing)
    settings["workers"] = int(workers)
    return EvaluationReport(rows=rows, methods=methods, settings=settings)


@dataclass
class _PairJob:
    """Everything needed to score one pair (plain data: it travels to worker processes)."""

    name: str
    meta: dict[str, Any]
    ground: np.ndarray
    space: np.ndarray
    valid: np.ndarray
    truth: np.ndarray | None
    seeing_fwhm: float
    pixel_scale: float
    rl_counts: dict[str, int]
    outputs: dict[str, np.ndarray]


def _score_pair(job: _PairJob) -> dict[str, Any]:
    """One row of the report: every method on one pair (runs in the caller or in a worker)."""
    from seeinggan.metrics import compare
    from seeinggan.metrics.compare import normalisation, percent_change

    meta, fwhm, mask = job.meta, job.seeing_fwhm, ~job.valid
    psf_meta = {**meta, "seeing_fwhm": fwhm} if math.isfinite(fwhm) else meta  # header/--seeing too
    path = richardson_lucy_path(job.ground, ground_psf_on_space_grid(psf_meta),
                                iterations=sorted(set(job.rl_counts.values())))
    images = {
        "ground": job.ground,
        **{method: path[count] for method, count in job.rl_counts.items()},
        **job.outputs,
    }
    row: dict[str, Any] = {"name": job.name, "class": str(meta.get("class", "unknown")),
                           "seeing_fwhm": fwhm, "seeing_bin": seeing_bin(fwhm)}
    norm = normalisation(job.space, mask=mask)
    aperture = flux_aperture(job.space)
    # Fidelity against the noiseless truth when there is one; thresholds from the space noise.
    reference = job.space if job.truth is None else np.where(job.valid, job.truth, np.nan)
    noise = smoothed_noise(np.where(job.valid, job.space, np.nan))
    for method, image in images.items():
        measures = pair_measures(image, reference, valid=job.valid & np.isfinite(image), aperture=aperture,
                                 pixel_scale=job.pixel_scale, seeing_fwhm=fwhm if math.isfinite(fwhm) else None)
        for name in FIDELITY_METRICS:
            row[f"{method}_{name}"] = measures[name]
        row[f"{method}_flux_error"] = relative_flux_error(image, reference, aperture & job.valid)
        row[f"{method}_invented"] = invented_sources(np.where(job.valid, image, np.nan), reference,
                                                     pixel_scale=job.pixel_scale, noise=noise)
        scores = compare(job.space, image, mask=mask, normalise=norm)
        for metric in METRICS:
            row[f"{method}_{metric}"] = float(scores[metric])
    for method in images:
        row[f"{method}_cw_ssim_improvement"] = percent_change(row[f"{method}_cw_ssim"], row["ground_cw_ssim"])
    return row


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def _score_jobs(jobs: list[_PairJob], *, workers: int, progress, should_stop) -> list[dict[str, Any]]:
    """Score every pair, in this process (``workers=1``) or in a pool of ``workers`` processes.

    Spawned, one thread each; rows come back in the pairs' order.
    """
    total = len(jobs)
    if workers <= 1 or total < 2:
        serial = []
        for index, job in enumerate(jobs):
            check_stop(should_stop)
            serial.append(_score_pair(job))
            if progress is not None:
                progress(index + 1, total)
        return serial
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
    rows: list[dict[str, Any] | None] = [None] * total
    with ProcessPoolExecutor(max_workers=min(int(workers), total), mp_context=context,
                             initializer=_one_thread) as pool:
        futures = {pool.submit(_score_pair, job): index for index, job in enumerate(jobs)}
        done = 0
        try:
            for future in as_completed(futures):
                rows[futures[future]] = future.result()
                done += 1
                if progress is not None:
                    progress(done, total)
                check_stop(should_stop)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return [row for row in rows if row is not None]  # every future has answered (or raised)


def _seeing_text(sources: set[str], given: float | None) -> str:
    words = {"catalogue": "the pairs' catalogue (seeing_fwhm)", "header": "the ground headers (SEEING/FWHM)",
             "given": f"given ({given:g}\" for pairs without their own)" if given is not None else "given",
             "unknown": "unknown for some pairs (band measures n/a there; pass --seeing)"}
    return "; ".join(words[s] for s in sorted(sources))


# ---------------------------------------------------------------------------------------------
# Stress suites (`seeinggan.evaluate.suites`, from the "suites" branch)
# ---------------------------------------------------------------------------------------------


def suite_validation_pairs(name: str, *, n: int = 20) -> list[Any]:
    """``n`` pairs of the stress suite ``name`` drawn from `VALIDATION_SEED`, not the suite's seed.

    The same settings as the suite, none of its stamps; ground on the space grid, with truth.
    """
    from seeinggan.data.simulated import pair_from_simulation
    from seeinggan.evaluate.suites import simulate_suite

    stream = simulate_suite(name, n=n, seed=VALIDATION_SEED)
    return [pair_from_simulation(stream[i], name=f"{name}_validation_{i:03d}") for i in range(n)]


def available_suites() -> list[str]:
    """The names of the stress suites (`seeinggan.evaluate.suites.SUITES`)."""
    from seeinggan.evaluate.suites import SUITES

    return list(SUITES)


def evaluate_suite(
    name: str,
    *,
    n: int | None = None,
    work_dir: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
    **kwargs: Any,
) -> EvaluationReport:
    """Simulate the stress suite ``name`` (seeded, with its noiseless truth) and evaluate it.

    The suite is written by `seeinggan.evaluate.suites.write_suite` into a temporary folder (under
    ``work_dir`` if given; removed afterwards) and scored as `evaluate_pairs` scores a folder,
    against its truth. ``n`` takes the suite's first ``n`` pairs instead of all (quick runs; the
    first pairs do not depend on ``n``); other keywords go to `evaluate_pairs`.

    Raises
    ------
    ValueError
        If ``name`` is not a suite (the names are listed).
    """
    from seeinggan.evaluate.suites import get_suite, write_suite

    suite = get_suite(name)
    if kwargs.get("rl_iterations", "auto") == "auto" and "validation_pairs" not in kwargs:
        # Richardson-Lucy is tuned on pairs of the same suite, from a seed of its own.
        n_validation = int(kwargs.pop("n_validation", 20))
        kwargs["validation_pairs"] = suite_validation_pairs(suite.name, n=n_validation)
        kwargs["validation_source"] = f"suite {suite.name}, seed {VALIDATION_SEED}"
    with tempfile.TemporaryDirectory(prefix=f"seeinggan-suite-{suite.name}-", dir=work_dir) as folder:
        written = write_suite(suite, Path(folder) / suite.name, n=n, should_stop=should_stop)
        report = evaluate_pairs(written, progress=progress, should_stop=should_stop, **kwargs)
    report.settings.pop("pairs_dir", None)
    report.settings.update(suite=suite.name, suite_seed=suite.seed, suite_description=suite.description,
                           suite_pairs=len(report.rows), suite_size=suite.n)
    return report
