"""Networks of SeeingGAN (paper 2.7) and model files.

`UNetGenerator` (the deblurring generator), `PatchCritic` (the conditional WGAN critic),
`VGG19Features` (frozen features for the perceptual loss); ``seeinggan.models.io`` reads and
writes model files (``NAME.safetensors`` + ``NAME.json``).
"""

from seeinggan.models.critic import PatchCritic
from seeinggan.models.generator import UNetGenerator
from seeinggan.models.io import (
    ModelEntry,
    ModelFileError,
    default_model_path,
    list_models,
    load_model,
    model_purpose,
    resolve_model,
    save_model,
    shipped_model_path,
    user_models_dir,
)
from seeinggan.models.vgg19 import VGG19Features

__all__ = [
    "ModelEntry",
    "ModelFileError",
    "PatchCritic",
    "UNetGenerator",
    "VGG19Features",
    "default_model_path",
    "list_models",
    "load_model",
    "model_purpose",
    "resolve_model",
    "save_model",
    "shipped_model_path",
    "user_models_dir",
]
