"""Model files checked before anything is allocated: no model file can exhaust memory or time.

`check_model_files` is what `seeinggan.models.io.load_model` runs first. In order, each step
cheap and bounded:

1. The JSON: at most `MAX_JSON_BYTES`, nesting at most `MAX_JSON_DEPTH` (counted without
   parsing, so a 10^5-deep file cannot raise RecursionError), valid JSON.
2. The metadata's values: architecture integers within `ARCHITECTURE_BOUNDS` (any other integer
   setting within 0..`MAX_OTHER_SETTING`), pixel scales finite and within
   `PIXEL_SCALE_RANGE` arcsec/px, output finer than input, the intensity transform's numbers
   finite and positive where they must be, its kind known.
3. The network is built on PyTorch's ``meta`` device (shapes only, no memory), its parameter
   count must stay within `MAX_PARAMETERS`.
4. The safetensors header (8-byte length + JSON; the tensors are not read): every tensor's dtype,
   shape and byte range must be consistent and inside the file, and the names, shapes and total
   parameter count must equal the network's.
5. After loading, every weight must be finite (`check_finite_weights`).

Every failure is a `seeinggan.errors.ModelFileError` naming the file and the problem.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any, TypeGuard

from seeinggan.errors import ModelFileError

__all__ = [
    "ARCHITECTURE_BOUNDS",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_PARAMETERS",
    "PIXEL_SCALE_RANGE",
    "check_finite_weights",
    "check_metadata_values",
    "expected_tensors",
    "read_json_limited",
    "read_safetensors_header",
]

MAX_JSON_BYTES = 4 * 1024**2
MAX_JSON_DEPTH = 32
MAX_SAFETENSORS_HEADER = 16 * 1024**2
MAX_PARAMETERS = 60_000_000
"""Largest generator accepted (240 MB of float32; the paper-shaped generator has 28 M)."""
ARCHITECTURE_BOUNDS = {
    "in_channels": (1, 16),
    "out_channels": (1, 16),
    "base_channels": (1, 512),
    "n_down": (1, 8),
    "n_res": (0, 64),
}
MAX_OTHER_SETTING = 4096
PIXEL_SCALE_RANGE = (1e-3, 10.0)
"""Arcsec per pixel a model's input or output grid may have (HST WFC3/UVIS is 0.04, a wide-field
survey camera ~1-2)."""
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
                "U8": 1, "BOOL": 1, "U16": 2, "U32": 4, "U64": 8}


def _depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` outside strings, without parsing."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def read_json_limited(path: Path) -> Any:
    """Parse a model JSON with size and depth limits; `ModelFileError` naming the file."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ModelFileError(f"{path}: cannot be read ({error.strerror or error})") from error
    if size > MAX_JSON_BYTES:
        raise ModelFileError(f"{path}: {size} bytes; a model JSON is at most {MAX_JSON_BYTES}")
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError) as error:
        raise ModelFileError(f"{path}: not a UTF-8 JSON file ({error})") from error
    depth = _depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ModelFileError(f"{path}: JSON nested {depth} levels deep; at most {MAX_JSON_DEPTH}")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError) as error:
        raise ModelFileError(f"{path}: not a JSON file ({error})") from error


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_metadata_values(document: dict[str, Any], json_path: Path) -> None:
    """Check the architecture sizes, pixel scales and intensity transform of a model JSON."""
    architecture = document.get("architecture")
    if not isinstance(architecture, dict):
        raise ModelFileError(f"{json_path}: no 'architecture' in the model metadata")
    for key, value in architecture.items():
        where = f"{json_path}: architecture '{key}'"
        if isinstance(value, bool) or value is None or isinstance(value, str):
            if isinstance(value, str) and len(value) > 200:
                raise ModelFileError(f"{where} is a string of {len(value)} characters")
            continue
        if isinstance(value, float) and not value.is_integer():
            if not math.isfinite(value):
                raise ModelFileError(f"{where} = {value!r} is not finite")
            continue
        if not _number(value):
            raise ModelFileError(f"{where} must be a number, true/false or text, got {type(value).__name__}")
        low, high = ARCHITECTURE_BOUNDS.get(key, (0, MAX_OTHER_SETTING))
        if not math.isfinite(value) or not low <= value <= high:
            raise ModelFileError(f"{where} = {value!r} is outside {low}..{high}")
        if isinstance(value, float):
            raise ModelFileError(f"{where} = {value!r} must be an integer")
    scales = {}
    for key in ("pixel_scale_arcsec", "input_pixel_scale_arcsec"):
        value = document.get(key)
        low_scale, high_scale = PIXEL_SCALE_RANGE
        if not _number(value) or not math.isfinite(value) or not low_scale <= value <= high_scale:
            raise ModelFileError(
                f"{json_path}: '{key}' must be a pixel scale between {low_scale} and {high_scale} arcsec/px, "
                f"got {value!r}"
            )
        scales[key] = float(value)
    if scales["pixel_scale_arcsec"] > scales["input_pixel_scale_arcsec"]:
        raise ModelFileError(
            f"{json_path}: output pixel scale {scales['pixel_scale_arcsec']} is coarser than the "
            f"input's {scales['input_pixel_scale_arcsec']} arcsec/px"
        )
    transform = document.get("intensity_transform", {})
    if transform is None:
        transform = {}
    if not isinstance(transform, dict):
        raise ModelFileError(f"{json_path}: 'intensity_transform' must be an object")
    for key, value in transform.items():
        if key == "kind":
            continue
        if not _number(value) or not math.isfinite(value):
            raise ModelFileError(f"{json_path}: intensity_transform '{key}' = {value!r} is not a finite number")
        if key in ("softening", "noise") and not 0 < value <= 1e6:
            raise ModelFileError(f"{json_path}: intensity_transform '{key}' = {value!r} must be in (0, 1e6]")
    try:
        from seeinggan.transforms import IntensityTransform

        IntensityTransform.from_dict(dict(transform))
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{json_path}: bad intensity_transform: {error}") from error


def expected_tensors(architecture: dict[str, Any], json_path: Path, build) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes of the network `build(architecture)` makes, on the meta device (nothing allocated).

    `ModelFileError` if it cannot be built or is too large.
    """
    import torch

    try:
        with torch.device("meta"):
            network = build(architecture)
    except (TypeError, ValueError, KeyError) as error:
        raise ModelFileError(f"{json_path}: bad architecture: {error}") from error
    except RuntimeError as error:
        raise ModelFileError(f"{json_path}: bad architecture: {str(error).splitlines()[0]}") from error
    shapes = {name: tuple(tensor.shape) for name, tensor in network.state_dict().items()}
    count = sum(math.prod(shape) for shape in shapes.values())
    if count > MAX_PARAMETERS:
        raise ModelFileError(
            f"{json_path}: the architecture has {count:,} parameters; at most {MAX_PARAMETERS:,}"
        )
    return shapes


def read_safetensors_header(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``{name: (dtype, shape)}`` from a safetensors file's header, every entry checked against the file's size.

    The tensors themselves are not read.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(8)
            if len(head) < 8:
                raise ModelFileError(f"{path}: not a safetensors file (shorter than 8 bytes)")
            (length,) = struct.unpack("<Q", head)
            if length > MAX_SAFETENSORS_HEADER or 8 + length > size:
                raise ModelFileError(
                    f"{path}: not a safetensors file (header length {length} does not fit the "
                    f"{size}-byte file)"
                )
            text = handle.read(length)
    except OSError as error:
        raise ModelFileError(f"{path}: cannot be read ({error.strerror or error})") from error
    try:
        decoded = text.decode("utf-8")
        if _depth(decoded) > 4:
            raise ValueError("nested too deeply")
        header = json.loads(decoded)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ModelFileError(f"{path}: not a safetensors file (header: {error})") from error
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: not a safetensors file (header is not an object)")
    data_size = size - 8 - length
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = info["dtype"]
            shape = tuple(int(n) for n in info["shape"])
            start, end = (int(n) for n in info["data_offsets"])
        except (TypeError, KeyError, ValueError) as error:
            raise ModelFileError(f"{path}: tensor {name!r}: malformed header entry") from error
        if dtype not in _DTYPE_BYTES or any(n < 0 for n in shape):
            raise ModelFileError(f"{path}: tensor {name!r}: dtype {dtype!r} / shape {shape} not allowed")
        if not 0 <= start <= end <= data_size or end - start != math.prod(shape) * _DTYPE_BYTES[dtype]:
            raise ModelFileError(
                f"{path}: tensor {name!r}: its bytes {start}..{end} do not match its shape {shape} "
                f"or lie outside the file (truncated?)"
            )
        tensors[name] = (dtype, shape)
    return tensors


def compare_tensors(weights_path: Path, json_name: str, stored: dict[str, tuple[str, tuple[int, ...]]],
                    expected: dict[str, tuple[int, ...]]) -> None:
    """Names, shapes and total parameter count of the file equal the architecture's."""
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    wrong = sorted(k for k in expected if k in stored and stored[k][1] != expected[k])
    stored_total = sum(math.prod(shape) for _, shape in stored.values())
    expected_total = sum(math.prod(shape) for shape in expected.values())
    if missing or unexpected or wrong or stored_total != expected_total:
        details = []
        if missing:
            details.append(f"missing {', '.join(missing[:3])}")
        if unexpected:
            details.append(f"unexpected {', '.join(unexpected[:3])}")
        if wrong:
            k = wrong[0]
            details.append(f"{k} is {stored[k][1]}, expected {expected[k]}")
        details.append(f"{stored_total:,} parameters stored, {expected_total:,} expected")
        raise ModelFileError(
            f"{weights_path}: tensors do not match the architecture in {json_name} "
            f"({'; '.join(details)})"
        )


def check_finite_weights(tensors: dict[str, Any], weights_path: Path) -> None:
    """Every weight finite; else `ModelFileError` naming the first bad tensor."""
    import torch

    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise ModelFileError(
                f"{weights_path}: tensor {name!r} holds {bad} NaN or infinite value(s); "
                "the model is broken (retrain or re-export it)"
            )
