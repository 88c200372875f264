"""Evaluate a pairs folder: kept as the import path of the evaluation's public names.

The evaluation is split by job: per-pair measures in `seeinggan.evaluate.measures`, running it
(pairs, models, baselines, suites) in `seeinggan.evaluate.run`, the report's tables, markdown and
JSON in `seeinggan.evaluate.report`. Every name that lived here is importable from here still.
"""

from seeinggan.evaluate.measures import (
    COUNTERPART_SIGMA,
    DETECT_SIGMA,
    FIDELITY_METRICS,
    MATCH_RADIUS_ARCSEC,
    SEEING_BIN_EDGES,
    SURROUNDINGS_ARCSEC,
    flux_aperture,
    invented_source_positions,
    invented_sources,
    pair_measures,
    relative_flux_error,
    seeing_bin,
    smoothed_noise,
)
from seeinggan.evaluate.report import (
    METHOD_TITLES,
    METHODS,
    METRIC_TITLES,
    METRICS,
    EvaluationReport,
)
from seeinggan.evaluate.run import (
    VALIDATION_SEED,
    choose_rl_iterations,
    evaluate_pair_list,
    evaluate_pairs,
    evaluate_suite,
    truth_images,
)

__all__ = [
    "COUNTERPART_SIGMA",
    "DETECT_SIGMA",
    "FIDELITY_METRICS",
    "MATCH_RADIUS_ARCSEC",
    "METHODS",
    "METHOD_TITLES",
    "METRICS",
    "METRIC_TITLES",
    "SEEING_BIN_EDGES",
    "SURROUNDINGS_ARCSEC",
    "VALIDATION_SEED",
    "EvaluationReport",
    "choose_rl_iterations",
    "evaluate_pair_list",
    "evaluate_pairs",
    "evaluate_suite",
    "flux_aperture",
    "invented_source_positions",
    "invented_sources",
    "pair_measures",
    "relative_flux_error",
    "seeing_bin",
    "smoothed_noise",
    "truth_images",
]
