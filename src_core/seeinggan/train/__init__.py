"""Training SeeingGAN: `TrainConfig`, `Trainer`, checkpoints and callbacks.

>>> from seeinggan.train import TrainConfig, Trainer, LogLines
>>> config = TrainConfig.from_toml("default.toml", overrides=["steps=1000"])  # doctest: +SKIP
>>> trainer = Trainer(config, train_pairs=dataset, val_pairs=val, callbacks=[LogLines()])  # doctest: +SKIP
>>> trainer.run()  # doctest: +SKIP
>>> trainer.save_model("mine.safetensors", name="mine")  # doctest: +SKIP
"""

from seeinggan.train.callbacks import (
    CheckpointUpdate,
    History,
    LogLines,
    PreviewUpdate,
    StepUpdate,
    ValidationUpdate,
)
from seeinggan.train.checkpoints import CheckpointError, latest_checkpoint, load_checkpoint
from seeinggan.train.config import ConfigError, TrainConfig
from seeinggan.train.trainer import Trainer, TrainResult, resolve_device

__all__ = [
    "TrainConfig",
    "ConfigError",
    "Trainer",
    "TrainResult",
    "StepUpdate",
    "ValidationUpdate",
    "PreviewUpdate",
    "CheckpointUpdate",
    "History",
    "LogLines",
    "CheckpointError",
    "load_checkpoint",
    "latest_checkpoint",
    "resolve_device",
]
