"""Fine-tuning a model on pairs cut from one field: the recipe the napari Fine-tune dock calls.

`seeinggan train` builds its datasets from a folder or a simulation (`datasets.datasets_from_config`);
fine-tuning starts from pairs already in memory (cut from two frames of a field by
`seeinggan.data.pairs_from_frames` / `pairs_from_regions`, or read by `folder_pairs`) and from a
model whose intensity transform the network learnt. The rules live here, in one place:

- pairs from two frames are stamps around detected sources; with fewer than two sources (one
  galaxy, a single cutout) the overlap is cut into a grid of stamps instead, so that there is
  something to validate on (`finetune_pairs`, `stamp_grid`);
- the settings are a `TrainConfig` (checked by its ``validate``), with `FINETUNE_VAL_SAMPLES`
  validation samples unless the caller says otherwise (`finetune_config`);
- the split is ``train_val_split(pairs, val_fraction=config.val_fraction, seed=config.seed)``,
  as the command line splits a folder;
- the intensity transform is the start model's kind and softening (`intensity_template`; the
  transform is refitted per pair), a new network's the default one;
- validation scores centre crops of at least `VALIDATION_CROP` pixels in flux units (CW-SSIM with
  4 levels and a 7x7 window needs 97 or more);
- going on after a stop or the last step changes the run through `continue_run`, which replaces
  the config (validated again) rather than editing it in place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seeinggan.train.config import TrainConfig

__all__ = [
    "FINETUNE_VAL_SAMPLES",
    "VALIDATION_CROP",
    "continue_run",
    "finetune_pairs",
    "stamp_grid",
    "finetune_config",
    "finetune_datasets",
    "finetune_trainer",
    "intensity_template",
]

VALIDATION_CROP = 128
"""Side of the validation crops (pixels), at least; CW-SSIM with 4 levels and a 7x7 window needs
>= 97."""
FINETUNE_VAL_SAMPLES = 16
"""Validation samples per validation when fine-tuning (few pairs; validation stays quick)."""


def finetune_config(overrides: Mapping[str, Any]) -> TrainConfig:
    """The `TrainConfig` of a fine-tuning run, checked.

    TrainConfig's defaults, `FINETUNE_VAL_SAMPLES` validation samples, then ``overrides``;
    unknown keys, wrong types and bad values raise `seeinggan.train.ConfigError`.
    """
    return TrainConfig.from_dict({"val_samples": FINETUNE_VAL_SAMPLES, **dict(overrides)},
                                 source="fine-tuning settings")


def intensity_template(init_model: str | Path | None):
    """The intensity transform (kind and softening) the start model was trained with.

    A new network (``init_model`` None) gets the default `seeinggan.transforms.IntensityTransform`.
    """
    from seeinggan.transforms import IntensityTransform

    if init_model is None:
        return IntensityTransform()
    from seeinggan.models.io import read_metadata

    stored = read_metadata(init_model).get("intensity_transform") or {}
    return IntensityTransform.from_dict({k: v for k, v in stored.items()
                                         if k in ("kind", "softening")})


def finetune_datasets(pairs: Sequence, config: TrainConfig, *,
                      init_model: str | Path | None = None):
    """``(train, val)`` datasets of fine-tuning pairs (``val`` None when no pair is held out).

    Parameters
    ----------
    pairs : sequence of seeinggan.data.Pair
        All the pairs; ``config.val_fraction`` of them (at least one when the fraction is
        positive) is held out, drawn with ``config.seed``.
    config : TrainConfig
        Crop size, seed, validation fraction.
    init_model : path, optional
        The start model, whose intensity transform the datasets use.
    """
    from seeinggan.data import PairDataset, train_val_split

    train_pairs, val_pairs = train_val_split(pairs, val_fraction=config.val_fraction,
                                             seed=config.seed)
    template = intensity_template(init_model)
    train_set = PairDataset(train_pairs, crop_size=config.crop_size, augment=True,
                            seed=config.seed, transform=template)
    # Validation scores whole stamps in flux units with seeinggan.metrics.compare, whose DT-CWT
    # needs room for its levels: centre crops of at least VALIDATION_CROP pixels (small stamps
    # are padded by reflection, the same way for output and target).
    val_set = PairDataset(val_pairs, crop_size=max(config.crop_size, VALIDATION_CROP),
                          augment=False, transform=template, crop="center") \
        if len(val_pairs) else None
    return train_set, val_set


def finetune_trainer(config: TrainConfig, *, train_set, val_set=None,
                     init_model: str | Path | None = None, callbacks: Iterable[Callable] = (),
                     resume_from: str | Path | None = None):
    """A `seeinggan.train.Trainer` for a fine-tuning run.

    From ``resume_from``'s checkpoint when given (a file, or a run folder for its latest).
    """
    from seeinggan.train.trainer import Trainer

    trainer = Trainer(config, train_pairs=train_set, val_pairs=val_set, callbacks=tuple(callbacks),
                      init_model=init_model)
    if resume_from is not None:
        trainer.load_checkpoint(resume_from)
    return trainer


def continue_run(trainer, *, more_steps: int | None = None,
                 callbacks: Iterable[Callable] | None = None) -> int:
    """Prepare ``trainer`` to go on; returns the step it will train to.

    A trainer that reached ``config.steps`` gets ``more_steps`` more (its config replaced by a
    validated copy); a stopped one goes on to its ``config.steps``. ``callbacks`` replace the
    trainer's (the views of the new run).
    """
    if more_steps is not None and trainer.step >= trainer.config.steps:
        trainer.config = dataclasses.replace(trainer.config, steps=trainer.step + int(more_steps))
    if callbacks is not None:
        trainer.callbacks = list(callbacks)
    return int(trainer.config.steps)


def stamp_grid(shape: tuple[int, int], stamp: int) -> list[np.ndarray]:
    """Square regions of ``stamp`` pixels tiling a frame of ``shape``, centred.

    Corners as (rows, cols), as `seeinggan.data.pairs_from_regions` takes them.
    """
    rows, cols = (int(n) for n in shape)
    ny, nx = rows // stamp, cols // stamp
    r_start, c_start = (rows - ny * stamp) // 2, (cols - nx * stamp) // 2
    regions = []
    for i in range(ny):
        for j in range(nx):
            r0, c0 = r_start + i * stamp, c_start + j * stamp
            r1, c1 = r0 + stamp - 1, c0 + stamp - 1
            regions.append(np.array([[r0, c0], [r0, c1], [r1, c1], [r1, c0]], dtype=float))
    return regions


def finetune_pairs(ground: np.ndarray, ground_wcs, space: np.ndarray, space_wcs, *,
                   stamp_size: int | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   should_stop: Callable[[], bool] | None = None,
                   note: Callable[[str], None] | None = None):
    """Training pairs cut from a ground frame and a space frame of one field.

    Stamps around the sources `seeinggan.data.pairs_from_frames` detects; with fewer than two
    (one galaxy), a grid of ``stamp_size`` stamps (128 when None) over the space frame instead,
    when that gives more pairs. ``note`` hears that choice in one line.
    """
    from seeinggan.data import pairs_from_frames, pairs_from_regions

    pairs = pairs_from_frames(ground, ground_wcs, space, space_wcs, stamp_size=stamp_size,
                              progress=progress, should_stop=should_stop)
    if len(pairs) < 2:
        regions = stamp_grid(np.shape(space)[-2:], stamp_size or 128)
        if len(regions) > len(pairs):
            if note is not None:
                note(f"{len(pairs)} source(s) found: training on a grid of {len(regions)} "
                     "stamps instead")
            pairs = pairs_from_regions(ground, ground_wcs, space, space_wcs, regions)
    return pairs
