"""Model files: ``NAME.safetensors`` (generator tensors, never pickle) next to ``NAME.json``.

The JSON (``docs/architecture.md``, "Model files")::

    {"format": "seeinggan-model", "format_version": 1,
     "architecture": {"name": "UNetGenerator", "base_channels": 16, ...},
     "pixel_scale_arcsec": 0.03, "input_pixel_scale_arcsec": 0.202,
     "intensity_transform": {...}, "objective": {...}, "training": {...},
     "name": "...", "description": "...", "created": ISO8601, "seeinggan_version": "..."}
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seeinggan.constants import GROUND_PIXEL_SCALE, SPACE_PIXEL_SCALE
from seeinggan.errors import ModelFileError, OutputExistsError
from seeinggan.io.atomic import atomic_write_bytes, atomic_write_text, check_output_folder, pid_alive
from seeinggan.models import checks
from seeinggan.models.generator import UNetGenerator
from seeinggan.names import check_name

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ModelEntry",
    "ModelFileError",
    "default_model_path",
    "list_models",
    "load_model",
    "model_paths",
    "model_purpose",
    "read_metadata",
    "resolve_model",
    "save_model",
    "shipped_model_path",
    "shipped_models_dir",
    "user_models_dir",
]

FORMAT = "seeinggan-model"
FORMAT_VERSION = 1
# The default scales of a model's JSON: `seeinggan.constants` (re-exported here for old callers).


PURPOSES = {
    "default": "science: photometry and structure",
    "adversarial": "realistic texture for looking and classifying, not for photometry",
}
"""The ``"purpose"`` line of each shipped model's JSON (shown as a tooltip in the docks)."""


@dataclass(frozen=True)
class ModelEntry:
    """One model a user can pick: a shipped model or a file in the user models folder."""

    name: str
    path: Path
    description: str
    shipped: bool
    purpose: str = ""
    """What the model is for (the JSON's ``"purpose"``), e.g. science vs realistic texture."""


def model_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """``(NAME.safetensors, NAME.json)`` for either file of the pair, or for ``NAME`` alone."""
    path = Path(path)
    if path.suffix in (".safetensors", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


def _in_user_models(path: Path) -> bool:
    try:
        return path.resolve().parent == user_models_dir().resolve()
    except OSError:
        return False


@contextlib.contextmanager
def _save_lock(json_path: Path):
    """One `save_model` per name at a time (``.NAME.save-lock``, created exclusively)."""
    lock = json_path.with_name(f".{json_path.name[: -len('.json')]}.save-lock")
    for _ in range(2):
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and pid_alive(pid):
                raise OutputExistsError(
                    f"{json_path.with_suffix('')}: another process is saving a model of this name"
                ) from None
            lock.unlink(missing_ok=True)  # left by a killed run
            continue
        os.write(handle, str(os.getpid()).encode())
        os.close(handle)
        break
    else:  # pragma: no cover - lost the race twice
        raise OutputExistsError(f"{json_path.with_suffix('')}: another process is saving a model of this name")
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


    return True


def _jsonable(value: Any) -> Any:
    """Check early that metadata will serialise (numpy scalars are turned into Python numbers)."""
    return json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def save_model(path: str | Path, generator: nn.Module, *, metadata: dict[str, Any] | None = None,
               overwrite: bool = False) -> Path:
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
    overwrite : bool, optional
        Replace a model of the same name. Default False: `OutputExistsError` if it exists.

    Both files go through `seeinggan.io.atomic` (temporary name, fsync, rename): a kill or a full
    disk never leaves a partial file under a final name. The JSON is written last, so a readable
    JSON means its tensors are complete; a ``.safetensors`` without its JSON (a killed save) is
    replaced. Two saves of one name at once: the second fails. In the user models folder the
    name may not be a shipped model's (`seeinggan.names.check_name`).

    Returns
    -------
    Path
        The ``.safetensors`` path.

    Raises
    ------
    OutputExistsError
        The model exists (and `overwrite` is False), or another process is saving it.
    ModelNameError
        An unusable name (reserved, a path, a shipped model's name in the user folder).
    NoSpaceError
        Not enough free space for the files.
    """
    from safetensors.torch import save

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
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        seeinggan_version=__version__,
    )
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in generator.state_dict().items()}
    check_name(weights_path.stem, kind="model" if _in_user_models(weights_path) else "run",
               what="model name")
    size = sum(v.numel() * 4 for v in tensors.values())
    check_output_folder(weights_path.parent, needed_bytes=size + 65536, what=f"model {weights_path.stem!r}")
    checks.check_finite_weights(tensors, weights_path)
    with _save_lock(json_path):
        if json_path.exists() and not overwrite:
            raise OutputExistsError(
                f"{weights_path.with_suffix('')}: a model of this name exists; choose another name "
                "or ask to overwrite it"
            )
        payload = save(tensors, metadata={"format": FORMAT})
        # The weights may replace an orphan of a killed save (no JSON): the JSON is the commit.
        atomic_write_bytes(weights_path, payload, overwrite=True)
        atomic_write_text(json_path, json.dumps(document, indent=2) + "\n", overwrite=overwrite)
    return weights_path


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a model's JSON (either file of the pair may be named).

    Raises
    ------
    ModelFileError
        Naming the file: missing, not JSON, not a seeinggan model, a newer format, or no
        architecture.
    """
    _, json_path = model_paths(path)
    if not json_path.is_file():
        raise ModelFileError(f"{json_path}: model metadata file not found (a model is NAME.safetensors + NAME.json)")
    document = checks.read_json_limited(json_path)
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{json_path}: not a seeinggan model (format is not {FORMAT!r})")
    version = document.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{json_path}: model format version {version!r} is not supported (this seeinggan reads "
            f"<= {FORMAT_VERSION}); update seeinggan"
        )
    checks.check_metadata_values(document, json_path)
    return document


def load_model(path: str | Path, *, device: str | torch.device = "cpu") -> tuple[UNetGenerator, dict[str, Any]]:
    """Load a generator and its metadata from ``NAME.safetensors`` / ``NAME.json``.

    The architecture is built from the JSON and the tensors are read with safetensors only
    (never unpickled). Before anything is allocated (`seeinggan.models.checks`): the JSON's size
    and depth, architecture sizes, pixel scales and transform are checked, the network's tensor
    shapes are worked out on the meta device and compared, with the parameter count, against the
    safetensors header. After reading, every weight must be finite. The generator is returned in
    eval mode on `device`.

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
    # Sizes first, from the JSON and the safetensors header only: nothing allocated yet.
    expected = checks.expected_tensors(metadata["architecture"], json_path, UNetGenerator.from_config)
    stored = checks.read_safetensors_header(weights_path)
    checks.compare_tensors(weights_path, json_path.name, stored, expected)
    try:
        tensors = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ModelFileError(
            f"{weights_path}: not a safetensors file ({error}); model weights are never unpickled"
        ) from error
    checks.check_finite_weights(tensors, weights_path)
    try:
        generator = UNetGenerator.from_config(metadata["architecture"])
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{json_path}: bad architecture: {error}") from error
    generator.load_state_dict({k: v.float() for k, v in tensors.items()})
    generator.to(device).eval()
    return generator, metadata


def shipped_models_dir() -> Path:
    """The folder of the models shipped with seeinggan, ``seeinggan/weights``."""
    return Path(__file__).resolve().parents[1] / "weights"


def shipped_model_path(name: str = "default") -> Path:
    """A shipped model, ``seeinggan/weights/NAME.safetensors`` (``default``: the fidelity model).

    Raises
    ------
    ModelFileError
        If this installation has no such model (its weights or its JSON are missing).
    """
    path = shipped_models_dir() / f"{name}.safetensors"
    weights, meta = model_paths(path)
    for file in (weights, meta):
        if not file.is_file():
            raise ModelFileError(
                f"{file}: the shipped {name} model is missing from this installation; "
                "pass a model file instead, or train one with `seeinggan train`"
            )
    return path


def default_model_path() -> Path:
    """The shipped default (fidelity) model, ``seeinggan/weights/default.safetensors``.

    Raises
    ------
    ModelFileError
        If this installation has no default model (it is trained separately).
    """
    return shipped_model_path("default")


def _shipped_names() -> list[str]:
    """Names of the complete shipped models, ``default`` first."""
    folder = shipped_models_dir()
    if not folder.is_dir():
        return []
    names = [p.stem for p in folder.glob("*.safetensors") if p.with_suffix(".json").is_file()]
    return sorted(names, key=lambda n: (n != "default", n))


def resolve_model(model: str | os.PathLike) -> Path:
    """The ``.safetensors`` path of a model given by name or by file.

    Looked up in this order: a shipped model's name (``default``, the fidelity model;
    ``adversarial``...; any case), the name of a saved user model (`user_models_dir`), then a
    path to ``NAME.safetensors``, ``NAME.json`` or ``NAME``.

    Raises
    ------
    ModelFileError
        One line naming what was given and listing the models that exist, when it is none of
        these.
    """
    text = os.fspath(model)
    shipped = _shipped_names()
    plain = isinstance(model, str) and "/" not in text and "\\" not in text and not text.endswith(
        (".safetensors", ".json"))
    if plain:
        for name in shipped:
            if name.lower() == text.strip().lower():
                return shipped_models_dir() / f"{name}.safetensors"
        if text.strip().lower() == "default":  # no shipped default: the clear missing-file error
            return default_model_path()
        for entry in list_models():
            if not entry.shipped and (entry.name == text.strip() or entry.path.stem == text.strip()):
                return entry.path
    weights, meta = model_paths(Path(text).expanduser())
    if weights.is_file() or meta.is_file():
        return weights
    user = [e.name for e in list_models() if not e.shipped]
    available = ", ".join(shipped) or "none installed"
    saved = f"; saved models: {', '.join(user)}" if user else ""
    raise ModelFileError(
        f"{text}: no such model (not a shipped model, a saved model nor a model file); "
        f"shipped models: {available}{saved}"
    )


def model_purpose(path: str | os.PathLike) -> str:
    """The model's ``"purpose"`` line (what it is for), or "" when its JSON says none."""
    try:
        return str(read_metadata(Path(path)).get("purpose") or "")
    except ModelFileError:
        return ""


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
    """The shipped models (``default`` first, when installed), then the user's models, by name.

    A user model whose JSON cannot be read is left out (it would not load either).
    """
    entries: list[ModelEntry] = []
    for name in _shipped_names():
        path = shipped_models_dir() / f"{name}.safetensors"
        try:
            meta = read_metadata(path)
        except ModelFileError:
            continue
        entries.append(ModelEntry(name, path, str(meta.get("description", "")), True,
                                  str(meta.get("purpose") or "")))
    folder = user_models_dir()
    if folder.is_dir():
        for weights in sorted(folder.glob("*.safetensors")):
            try:
                meta = read_metadata(weights)
            except ModelFileError:
                continue
            entries.append(
                ModelEntry(str(meta.get("name") or weights.stem), weights, str(meta.get("description", "")), False,
                           str(meta.get("purpose") or ""))
            )
    return entries
