"""Model files: ``NAME.safetensors`` (generator tensors, never pickle) next to ``NAME.json``.

The JSON (``docs/architecture.md``, "Model files")::

    {"format": "seeinggan-model", "format_version": 1,
     "architecture": {"name": "UNetGenerator", "base_channels": 16, ...},
     "pixel_scale_arcsec": 0.03, "input_pixel_scale_arcsec": 0.202,
     "intensity_transform": {...}, "objective": {...}, "training": {...},
     "name": "...", "description": "...", "created": ISO8601, "seeinggan_version": "..."}
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seeinggan.errors import ModelFileError
from seeinggan.models.generator import UNetGenerator

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ModelFileError",
    "ModelEntry",
    "save_model",
    "load_model",
    "read_metadata",
    "default_model_path",
    "user_models_dir",
    "list_models",
    "model_paths",
]

FORMAT = "seeinggan-model"
FORMAT_VERSION = 1
SPACE_PIXEL_SCALE = 0.03
"""HST ACS pixel scale (arcsec/px), the default output scale of a model (paper 2.8)."""
GROUND_PIXEL_SCALE = 0.202
"""Subaru Suprime-Cam pixel scale (arcsec/px), the default input scale (paper 2.8)."""


@dataclass(frozen=True)
class ModelEntry:
    """One model a user can pick: the shipped default or a file in the user models folder."""

    name: str
    path: Path
    description: str
    shipped: bool


def model_paths(path: str | Path) -> tuple[Path, Path]:
    """``(NAME.safetensors, NAME.json)`` for either file of the pair, or for ``NAME`` alone."""
    path = Path(path)
    if path.suffix in (".safetensors", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


def _atomic_write(path: Path, write) -> None:
    """Write through ``write(tmp_path)`` to a temporary file beside `path`, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _jsonable(value: Any) -> Any:
    """Check early that metadata will serialise (numpy scalars are turned into Python numbers)."""
    return json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def save_model(path: str | Path, generator: nn.Module, *, metadata: dict[str, Any] | None = None) -> Path:
    """Write a generator as ``NAME.safetensors`` + ``NAME.json``, each atomically.

    Parameters
    ----------
    path : str or Path
        ``NAME``, ``NAME.safetensors`` or ``NAME.json``; both files are written.
    generator : UNetGenerator
        The network; its ``config`` becomes ``architecture``.
    metadata : dict, optional
        Extra keys (``intensity_transform``, ``objective``, ``training``, ``name``,
        ``description``, pixel scales...). ``pixel_scale_arcsec`` and
        ``input_pixel_scale_arcsec`` default to the paper's 0.03 and 0.202.

    Returns
    -------
    Path
        The ``.safetensors`` path.
    """
    from safetensors.torch import save_file

    from seeinggan import __version__

    if not hasattr(generator, "config"):
        raise TypeError("save_model needs a seeinggan generator (with a .config architecture)")
    weights_path, json_path = model_paths(path)
    document: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": weights_path.stem,
        "description": "",
        "pixel_scale_arcsec": SPACE_PIXEL_SCALE,
        "input_pixel_scale_arcsec": GROUND_PIXEL_SCALE,
        "intensity_transform": {},
        "objective": {},
        "training": {},
    }
    document.update(_jsonable(dict(metadata or {})))
    document.update(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        architecture=generator.config,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        seeinggan_version=__version__,
    )
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in generator.state_dict().items()}
    _atomic_write(weights_path, lambda tmp: save_file(tensors, str(tmp), metadata={"format": FORMAT}))
    # The JSON last: a readable JSON means its tensors are complete.
    _atomic_write(json_path, lambda tmp: tmp.write_text(json.dumps(document, indent=2) + "\n"))
    return weights_path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Read and check a model's JSON (either file of the pair may be named).

    Raises
    ------
    ModelFileError
        Naming the file: missing, not JSON, not a seeinggan model, a newer format, or no
        architecture.
    """
    weights_path, json_path = model_paths(path)
    if not json_path.is_file():
        raise ModelFileError(f"{json_path}: model metadata file not found (a model is NAME.safetensors + NAME.json)")
    try:
        document = json.loads(json_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(f"{json_path}: not a JSON file ({error})") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{json_path}: not a seeinggan model (format is not {FORMAT!r})")
    version = document.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{json_path}: model format version {version!r} is not supported (this seeinggan reads "
            f"<= {FORMAT_VERSION}); update seeinggan"
        )
    if not isinstance(document.get("architecture"), dict):
        raise ModelFileError(f"{json_path}: no 'architecture' in the model metadata")
    for key in ("pixel_scale_arcsec", "input_pixel_scale_arcsec"):
        value = document.get(key)
        if not isinstance(value, (int, float)) or value <= 0:
            raise ModelFileError(f"{json_path}: '{key}' must be a positive number, got {value!r}")
    return document


def load_model(path: str | Path, *, device: str | torch.device = "cpu") -> tuple[UNetGenerator, dict[str, Any]]:
    """Load a generator and its metadata from ``NAME.safetensors`` / ``NAME.json``.

    The architecture is built from the JSON and the tensors are read with safetensors only
    (never unpickled). The generator is returned in eval mode on `device`.

    Raises
    ------
    ModelFileError
        Naming the file and the problem (missing file, wrong format, architecture mismatch).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights_path, json_path = model_paths(path)
    if not weights_path.is_file():
        raise ModelFileError(f"{weights_path}: model weights file not found")
    metadata = read_metadata(json_path)
    try:
        generator = UNetGenerator.from_config(metadata["architecture"])
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{json_path}: bad architecture: {error}") from error
    try:
        tensors = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelFileError(
            f"{weights_path}: not a safetensors file ({error}); model weights are never unpickled"
        ) from error
    expected = generator.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in expected if k in tensors and tensors[k].shape != expected[k].shape)
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing {', '.join(missing[:3])}")
        if unexpected:
            details.append(f"unexpected {', '.join(unexpected[:3])}")
        if wrong:
            k = wrong[0]
            details.append(f"{k} is {tuple(tensors[k].shape)}, expected {tuple(expected[k].shape)}")
        raise ModelFileError(
            f"{weights_path}: tensors do not match the architecture in {json_path.name} ({'; '.join(details)})"
        )
    generator.load_state_dict(tensors)
    generator.to(device).eval()
    return generator, metadata


def default_model_path() -> Path:
    """The shipped default model, ``seeinggan/weights/default.safetensors``.

    Raises
    ------
    ModelFileError
        If this installation has no default model (it is trained separately).
    """
    path = Path(__file__).resolve().parents[1] / "weights" / "default.safetensors"
    weights, meta = model_paths(path)
    for file in (weights, meta):
        if not file.is_file():
            raise ModelFileError(
                f"{file}: the shipped default model is missing from this installation; "
                "pass a model file instead, or train one with `seeinggan train`"
            )
    return path


def user_models_dir() -> Path:
    """Folder of the user's own (fine-tuned) models.

    ``$SEEINGGAN_USER_MODELS_DIR`` if set, else platformdirs' user data folder + ``models``.
    Not created here.
    """
    override = os.environ.get("SEEINGGAN_USER_MODELS_DIR")
    if override:
        return Path(override)
    from platformdirs import user_data_path

    return user_data_path("napari-seeinggan", appauthor=False) / "models"


def list_models() -> list[ModelEntry]:
    """The shipped default (when installed) followed by the user's models, by name.

    A user model whose JSON cannot be read is left out (it would not load either).
    """
    entries: list[ModelEntry] = []
    try:
        default = default_model_path()
    except ModelFileError:
        pass
    else:
        meta = read_metadata(default)
        entries.append(ModelEntry("default", default, str(meta.get("description", "")), True))
    folder = user_models_dir()
    if folder.is_dir():
        for weights in sorted(folder.glob("*.safetensors")):
            try:
                meta = read_metadata(weights)
            except ModelFileError:
                continue
            entries.append(
                ModelEntry(str(meta.get("name") or weights.stem), weights, str(meta.get("description", "")), False)
            )
    return entries
