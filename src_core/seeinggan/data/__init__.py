"""Training pairs and datasets: from the simulator, a folder of pairs, or two frames of a field.

See ``docs/data.md`` for how pairs are made.
"""

from seeinggan.data.augment import augment_arrays, dihedral, inverse_dihedral
from seeinggan.data.detection import detect_sources, stamp_size_from_r90
from seeinggan.data.folder import folder_pairs
from seeinggan.data.pairs import Pair, PairList, make_pair, pairs_summary
from seeinggan.data.samples import (
    PairDataset,
    PairSubset,
    Sample,
    SimulatedPairDataset,
    train_val_split,
)
from seeinggan.data.simulated import SimulatedPairs, pair_from_simulation, simulated_pairs
from seeinggan.data.stamps import pairs_from_frames, pairs_from_regions

__all__ = [
    "Pair",
    "PairDataset",
    "PairList",
    "PairSubset",
    "Sample",
    "SimulatedPairDataset",
    "SimulatedPairs",
    "augment_arrays",
    "detect_sources",
    "dihedral",
    "folder_pairs",
    "inverse_dihedral",
    "make_pair",
    "pair_from_simulation",
    "pairs_from_frames",
    "pairs_from_regions",
    "pairs_summary",
    "simulated_pairs",
    "stamp_size_from_r90",
    "train_val_split",
]
