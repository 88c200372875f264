"""The fine-tuning recipe (`seeinggan.train.finetune`): config checked, split and validation crops
as the core defines them, the start model's intensity transform, runs continued by a validated
config."""

import numpy as np
import pytest
import torch
from seeinggan.data import Pair
from seeinggan.models import UNetGenerator, save_model
from seeinggan.train import ConfigError
from seeinggan.train.finetune import (
    FINETUNE_VAL_SAMPLES,
    VALIDATION_CROP,
    continue_run,
    finetune_config,
    finetune_datasets,
    finetune_trainer,
)

TINY = {"base_channels": 4, "n_down": 2, "n_res": 1, "critic_base_channels": 4, "threads": 1}


def _pairs(n, shape=(96, 96)):
    rng = np.random.default_rng(0)
    pairs = []
    for i in range(n):
        space = rng.normal(5.0, 0.5, shape).astype(np.float32)
        space[40:50, 30:60] += 50
        ground = space * 0.5 + rng.normal(0, 0.3, shape).astype(np.float32)
        pairs.append(Pair(ground=ground, space=space, mask=np.ones(shape, bool), meta={"name": f"p{i}"}))
    return pairs


def test_config_defaults_and_checks():
    config = finetune_config({"steps": 5, **TINY})
    assert config.val_samples == FINETUNE_VAL_SAMPLES == 16 and config.steps == 5
    assert finetune_config({"val_samples": 2}).val_samples == 2
    with pytest.raises(ConfigError, match="unknown setting"):
        finetune_config({"stepz": 5})
    with pytest.raises(ConfigError, match="crop_size"):
        finetune_config({"crop_size": 50})


def test_datasets_split_crops_and_the_start_models_transform(tmp_path):
    pairs = _pairs(10)
    config = finetune_config({"crop_size": 64, "structural": 0.0, "val_fraction": 0.2, "seed": 3, **TINY})
    train, val = finetune_datasets(pairs, config)
    assert (len(train), len(val)) == (8, 2)
    names = {p.meta["name"] for p in train.pairs} | {p.meta["name"] for p in val.pairs}
    assert len(names) == 10  # disjoint and complete
    # Validation crops are at least VALIDATION_CROP (CW-SSIM needs >= 97), training crops the config's.
    assert tuple(train[0][0].shape[-2:]) == (64, 64)
    assert tuple(val[0][0].shape[-2:]) == (VALIDATION_CROP, VALIDATION_CROP)
    assert finetune_datasets(pairs, finetune_config({"val_fraction": 0.0, **TINY}))[1] is None
    # The start model's intensity transform (its softening), not the default one.
    torch.manual_seed(0)
    model = save_model(tmp_path / "start", UNetGenerator(base_channels=4, n_down=2, n_res=1),
                       metadata={"intensity_transform": {"kind": "noise_scaled_asinh", "softening": 7.5,
                                                         "sky": 1.0, "noise": 2.0}})
    train, _ = finetune_datasets(pairs, config, init_model=model)
    assert train.transform.softening == 7.5


def test_continue_run_validates_instead_of_mutating(tmp_path):
    config = finetune_config({"steps": 1, "batch_size": 1, "crop_size": 32, "structural": 0.0,
                              "adversarial": 0.0, "perceptual": 0.0, "l1": 1.0, "val_every": 0,
                              "preview_every": 0, "checkpoint_every": 0, "output_dir": str(tmp_path),
                              **TINY})
    train, val = finetune_datasets(_pairs(4, (64, 64)), config)
    trainer = finetune_trainer(config, train_set=train, val_set=val)
    trainer.run()
    assert trainer.step == 1
    seen = []
    assert continue_run(trainer, more_steps=2, callbacks=[seen.append]) == 3
    assert trainer.config is not config and config.steps == 1  # replaced, not edited
    trainer.run()
    assert trainer.step == 3 and len(seen) >= 2
    with pytest.raises(ConfigError, match="steps"):
        continue_run(trainer, more_steps=-10)


def test_stamp_grid_tiles_the_frame_centred():
    from seeinggan.train.finetune import stamp_grid

    regions = stamp_grid((300, 260), 128)
    assert len(regions) == 4  # 2 x 2 stamps fit; the rest is split evenly on both sides
    np.testing.assert_array_equal(regions[0], [[22, 2], [22, 129], [149, 129], [149, 2]])
    np.testing.assert_array_equal(regions[-1][2], [277, 257])
    assert stamp_grid((100, 100), 128) == []
