"""The one home of torch devices: which this machine has, and what a device name means.

Inference (`seeinggan.infer.Deblurrer`), training (`seeinggan.train.Trainer`), the command line
and the plugin's device boxes all go through these two functions, so "auto" picks the same device
everywhere and a device this machine lacks is refused with the same one-line `InputError`. torch is imported
on first call, so the plugin's docks can list devices without slowing napari's start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seeinggan.errors import InputError

if TYPE_CHECKING:
    import torch

__all__ = ["available_devices", "resolve_device"]


def _mps_available() -> bool:
    import torch

    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available_devices() -> list[str]:
    """``"auto"``, ``"cpu"``, then ``"cuda"`` and ``"mps"`` when this torch can use them."""
    import torch

    devices = ["auto", "cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if _mps_available():
        devices.append("mps")
    return devices


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The torch device for a name: ``"auto"`` is CUDA if available, else Apple MPS, else CPU.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"``, a torch device name (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``) or a
        `torch.device`, which is returned as given.

    Returns
    -------
    torch.device

    Raises
    ------
    InputError
        For a name torch does not know, or a CUDA/MPS device this machine does not have.
    """
    import torch

    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise InputError(f"unknown device {device!r}: use auto, cpu, cuda or mps") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r} was asked for, but this torch has no usable CUDA GPU")
    if resolved.type == "mps" and not _mps_available():
        raise InputError(f"device {device!r} was asked for, but MPS is not available")
    return resolved
