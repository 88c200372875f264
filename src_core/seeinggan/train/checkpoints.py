"""Training checkpoints: both networks, both optimisers, the step and every random state.

A checkpoint is one file written with `torch.save` (through `seeinggan.io.atomic`: temporary file, fsync, rename,
so a crash never leaves half a checkpoint) and read back with ``torch.load(weights_only=True)``:
only tensors and plain Python values, never arbitrary pickled objects. (Model files for users
are safetensors + JSON, `seeinggan.models.io`; checkpoints are our own resumable training state.)
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seeinggan.errors import SeeingGANError

__all__ = [
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "rng_state",
    "set_rng_state",
    "checkpoint_path",
    "list_checkpoints",
    "latest_checkpoint",
    "prune_checkpoints",
]

FORMAT = "seeinggan-checkpoint"
FORMAT_VERSION = 1
_NAME = re.compile(r"^step_(\d+)\.ckpt$")


class CheckpointError(SeeingGANError, ValueError):
    """A checkpoint that is missing, not ours, or does not fit the run."""


def rng_state() -> dict[str, Any]:
    """The torch (CPU and CUDA), numpy (legacy global) and python `random` states, as plain values."""
    numpy_state = np.random.get_state(legacy=False)
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "bit_generator": numpy_state["bit_generator"],
            "key": torch.from_numpy(np.asarray(numpy_state["state"]["key"], dtype=np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` captured."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": n["bit_generator"],
            "state": {"key": n["key"].numpy().astype(np.uint32), "pos": n["pos"]},
            "has_gauss": n["has_gauss"],
            "gauss": n["gauss"],
        }
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write `state` (tensors and plain values) to `path` atomically."""
    from seeinggan.io.atomic import atomic_path, check_output_folder

    path = Path(path)
    document = {"format": FORMAT, "format_version": FORMAT_VERSION, **state}
    check_output_folder(path.parent)  # also removes temporaries of a killed run
    with atomic_path(path, overwrite=True) as tmp:
        torch.save(document, tmp)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint` (weights-only: no arbitrary objects).

    `path` may be a checkpoint file or a run folder (its latest checkpoint is taken).
    """
    path = Path(path)
    if path.is_dir():
        latest = latest_checkpoint(path)
        if latest is None:
            raise CheckpointError(f"{path}: no step_N.ckpt checkpoint in this folder")
        path = latest
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        document = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - unreadable, truncated or not weights-only
        raise CheckpointError(
            f"{path}: not a readable seeinggan checkpoint ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:200]})"
        ) from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a seeinggan checkpoint")
    if document.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {document['format_version']} is newer than this seeinggan")
    document["path"] = str(path)
    return document


def checkpoint_path(folder: str | Path, step: int) -> Path:
    """``folder/checkpoints/step_NNNNNNN.ckpt``."""
    return Path(folder) / "checkpoints" / f"step_{step:07d}.ckpt"


def list_checkpoints(folder: str | Path) -> list[Path]:
    """Checkpoints of a run folder (or of its ``checkpoints`` folder), oldest first."""
    folder = Path(folder)
    if (folder / "checkpoints").is_dir():
        folder = folder / "checkpoints"
    found = [(int(m.group(1)), p) for p in folder.glob("step_*.ckpt") if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(folder: str | Path) -> Path | None:
    """The checkpoint with the highest step, or None."""
    found = list_checkpoints(folder)
    return found[-1] if found else None


def prune_checkpoints(folder: str | Path, *, keep: int) -> None:
    """Delete all but the `keep` most recent checkpoints."""
    for old in list_checkpoints(folder)[:-keep]:
        old.unlink(missing_ok=True)
