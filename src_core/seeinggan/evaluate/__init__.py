"""Evaluation of pairs (a folder, or a simulated stress suite).

The fidelity measures that texture cannot game (band error, band power ratio, Fourier-ring
resolution, texture rms and power, invented sources, flux errors) and the paper's Tables 1 and 2
(CW-SSIM, SSIM, PSNR), for the resampled ground image, Richardson-Lucy and any number of models,
split by morphological class and seeing.

Modules by job: `seeinggan.evaluate.measures` (per-pair measures), `seeinggan.evaluate.run`
(running it), `seeinggan.evaluate.report` (tables, markdown, JSON), `seeinggan.evaluate.baselines`
(Richardson-Lucy).
"""

from seeinggan.evaluate.baselines import (
    RL_CANDIDATE_ITERATIONS,
    ground_psf_on_space_grid,
    richardson_lucy_deconvolve,
)
from seeinggan.evaluate.measures import (
    FIDELITY_METRICS,
    SEEING_BIN_EDGES,
    flux_aperture,
    invented_source_positions,
    invented_sources,
    pair_measures,
    relative_flux_error,
    seeing_bin,
    smoothed_noise,
)
from seeinggan.evaluate.report import METHODS, EvaluationReport, write_reports
from seeinggan.evaluate.run import (
    VALIDATION_SEED,
    available_suites,
    choose_rl_iterations,
    evaluate_pair_list,
    evaluate_pairs,
    evaluate_suite,
    truth_images,
)

__all__ = [
    "FIDELITY_METRICS",
    "METHODS",
    "RL_CANDIDATE_ITERATIONS",
    "SEEING_BIN_EDGES",
    "VALIDATION_SEED",
    "EvaluationReport",
    "available_suites",
    "choose_rl_iterations",
    "evaluate_pair_list",
    "evaluate_pairs",
    "evaluate_suite",
    "flux_aperture",
    "ground_psf_on_space_grid",
    "invented_source_positions",
    "invented_sources",
    "pair_measures",
    "relative_flux_error",
    "richardson_lucy_deconvolve",
    "seeing_bin",
    "smoothed_noise",
    "truth_images",
    "write_reports",
]
