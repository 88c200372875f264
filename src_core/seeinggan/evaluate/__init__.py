"""Evaluation of a pairs folder: the paper's Tables 1 and 2 for the resampled ground image,
Richardson-Lucy and SeeingGAN, split by morphological class and seeing, with flux conservation
and invented sources. See `seeinggan.evaluate.evaluation` for the definitions.
"""

from seeinggan.evaluate.baselines import (
    RL_CANDIDATE_ITERATIONS,
    ground_psf_on_space_grid,
    richardson_lucy_deconvolve,
)
from seeinggan.evaluate.evaluation import (
    METHODS,
    SEEING_BIN_EDGES,
    VALIDATION_SEED,
    EvaluationReport,
    choose_rl_iterations,
    evaluate_pairs,
    flux_aperture,
    invented_sources,
    relative_flux_error,
    seeing_bin,
    smoothed_noise,
    truth_images,
)

__all__ = [
    "METHODS",
    "RL_CANDIDATE_ITERATIONS",
    "SEEING_BIN_EDGES",
    "VALIDATION_SEED",
    "EvaluationReport",
    "choose_rl_iterations",
    "evaluate_pairs",
    "flux_aperture",
    "ground_psf_on_space_grid",
    "invented_sources",
    "relative_flux_error",
    "richardson_lucy_deconvolve",
    "seeing_bin",
    "smoothed_noise",
    "truth_images",
]
