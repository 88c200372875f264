"""One check for every name a user gives: model names, run names (API, command line, napari).

`check_name` accepts 1-64 characters of letters, digits, ``_``, ``-``, ``.`` and spaces that
start with a letter or digit, and refuses what would not stay a plain name in its folder:

- path separators, ``..``, a leading ``.`` (hidden), a trailing ``.`` or space (Windows drops
  them), control characters;
- Windows-reserved device names (``CON``, ``PRN``, ``AUX``, ``NUL``, ``COM1``-``COM9``,
  ``LPT1``-``LPT9``), with or without an extension, in any case;
- a name ending in a file suffix seeinggan writes (``.json``, ``.safetensors``, ``.ckpt``,
  ``.fits``...), which would confuse ``NAME.json`` with ``NAME.json.json``;
- for user models (``kind="model"``), the name of a shipped model (``default``,
  `shipped_model_names`), in any case, so that a user model never shadows one.

`check_inside` checks that a path built from a name stays inside its folder (after resolving
links), for ``--name`` with ``-o``.
"""

from __future__ import annotations

import re
from pathlib import Path

from seeinggan.errors import ModelNameError

__all__ = ["RESERVED_SUFFIXES", "check_inside", "check_name", "shipped_model_names"]

_ALLOWED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_. -]{0,63}$")
_WINDOWS_RESERVED = re.compile(r"^(CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³])(\..*)?$", re.IGNORECASE)
RESERVED_SUFFIXES = (".json", ".safetensors", ".ckpt", ".pt", ".pth", ".fits", ".fit", ".fts",
                     ".gz", ".fz", ".toml", ".csv", ".md", ".tmp", ".seeinggan-tmp", ".lock")


def shipped_model_names() -> set[str]:
    """Lower-case names of the models shipped in ``seeinggan/weights`` (and ``default``)."""
    folder = Path(__file__).resolve().parent / "weights"
    names = {"default"}
    if folder.is_dir():
        names |= {path.name[: -len(".json")].lower() for path in folder.glob("*.json")}
    return names


def check_name(name: str, *, kind: str = "model", what: str = "name") -> str:
    """Return `name` stripped if it is a safe name; else raise `ModelNameError` saying why.

    Parameters
    ----------
    name : str
        The name the user typed.
    kind : {"model", "run"}, optional
        ``"model"``: a user model name (may not shadow a shipped model); ``"run"``: any other
        file name stem.
    what : str, optional
        How the name is called where it was given (``"--name"``), for the message.
    """
    if not isinstance(name, str):
        raise ModelNameError(f"{what} must be text, got {type(name).__name__}")
    stripped = name.strip()
    shown = repr(name)
    if not stripped:
        raise ModelNameError(f"{what} is empty; give a name such as 'my-field-1'")
    if "/" in stripped or "\\" in stripped or ".." in stripped:
        raise ModelNameError(f"{what} {shown} must be a plain name, not a path")
    if not _ALLOWED.match(stripped):
        raise ModelNameError(
            f"{what} {shown} is not usable: 1-64 letters, digits, '_', '-', '.' or spaces, "
            "starting with a letter or digit"
        )
    if stripped.endswith("."):
        raise ModelNameError(f"{what} {shown} may not end with '.'")
    if _WINDOWS_RESERVED.match(stripped):
        raise ModelNameError(f"{what} {shown} is a reserved device name on Windows; choose another")
    lower = stripped.lower()
    for suffix in RESERVED_SUFFIXES:
        if lower.endswith(suffix):
            raise ModelNameError(
                f"{what} {shown} ends in {suffix!r}; give the name without a file suffix"
            )
    if kind == "model" and lower in shipped_model_names():
        raise ModelNameError(
            f"{what} {shown} is the name of a shipped model; choose another so both stay usable"
        )
    return stripped


def check_inside(path: str | Path, folder: str | Path, *, what: str = "name") -> Path:
    """`path` resolved, if it lies inside `folder` (resolved); else `ModelNameError`."""
    folder = Path(folder).resolve()
    resolved = Path(path).resolve()
    if resolved != folder and folder not in resolved.parents:
        raise ModelNameError(f"{what}: {path} would be written outside {folder}")
    return resolved
