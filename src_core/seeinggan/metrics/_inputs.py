"""Shared input handling of the metrics: numpy or torch in, a batch of images out, NaNs masked."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from seeinggan.errors import SeeingGANError


class RegionTooSmallError(SeeingGANError, ValueError):
    """The images are smaller than a metric's transform and window need."""


@dataclass
class Prepared:
    reference: torch.Tensor  # [B, 1, H, W], invalid pixels filled with 0
    test: torch.Tensor  # [B, 1, H, W], invalid pixels filled with 0
    invalid: torch.Tensor | None  # [B, 1, H, W] bool, or None when every pixel is valid
    numpy_input: bool
    batched: bool  # numpy input of shape [B, H, W]


def _to_tensor(x, name: str) -> tuple[torch.Tensor, bool]:
    if isinstance(x, torch.Tensor):
        return x, False
    array = np.asarray(x)
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected a real image array, got dtype {array.dtype}")
    if array.dtype != np.float32:
        array = array.astype(np.float64)
    if array.dtype.byteorder not in ("=", "|"):  # big-endian FITS data: torch refuses it
        array = array.astype(array.dtype.newbyteorder("="))
    return torch.from_numpy(np.ascontiguousarray(array)), True


def _as_bchw(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.ndim == 2:
        x = x[None]
    elif x.ndim == 4:
        if x.shape[1] != 1:
            raise ValueError(f"{name}: expected [B, 1, H, W] (one channel), got shape {tuple(x.shape)}")
        x = x[:, 0]
    if x.ndim != 3:
        raise ValueError(f"{name}: expected [H, W], [B, H, W] or [B, 1, H, W], got shape {tuple(x.shape)}")
    return x[:, None]


def prepare(reference, test, mask) -> Prepared:
    """Bring ``reference``, ``test`` (and ``mask``, True = excluded) to [B, 1, H, W] tensors of one float dtype.

    Non-finite or masked pixels of either image are marked invalid and set to 0.
    """
    ref, ref_numpy = _to_tensor(reference, "reference")
    tst, tst_numpy = _to_tensor(test, "test")
    batched = ref_numpy and ref.ndim == 3
    ref, tst = _as_bchw(ref, "reference"), _as_bchw(tst, "test")
    if ref.shape != tst.shape:
        raise ValueError(
            f"reference and test differ in shape: {tuple(ref.shape[-2:])} and {tuple(tst.shape[-2:])}"
            " (resample the test image onto the reference grid first)"
        )
    dtype = torch.promote_types(ref.dtype, tst.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float64
    ref, tst = ref.to(dtype), tst.to(device=ref.device, dtype=dtype)
    invalid = ~(torch.isfinite(ref) & torch.isfinite(tst))
    if mask is not None:
        mask_t = mask if isinstance(mask, torch.Tensor) else torch.from_numpy(np.asarray(mask, dtype=bool))
        mask_t = _as_bchw(mask_t.to(device=ref.device, dtype=torch.bool), "mask")
        if mask_t.shape[-2:] != ref.shape[-2:]:
            raise ValueError(f"mask shape {tuple(mask_t.shape[-2:])} differs from the images' {tuple(ref.shape[-2:])}")
        invalid = invalid | mask_t
    if bool(invalid.any()):
        zero = torch.zeros((), dtype=dtype, device=ref.device)
        ref = torch.where(invalid, zero, ref)
        tst = torch.where(invalid, zero, tst)
        return Prepared(ref, tst, invalid, ref_numpy and tst_numpy, batched)
    return Prepared(ref, tst, None, ref_numpy and tst_numpy, batched)


def finish(scores: torch.Tensor, prepared: Prepared, metric: str):
    """Return a float for one numpy image pair, a numpy array for a numpy batch, else the tensor."""
    if not prepared.numpy_input:
        return scores
    values = scores.detach().cpu().numpy().astype(np.float64)
    if np.isnan(values).any():
        raise ValueError(f"{metric}: no window free of masked or NaN pixels; nothing left to score")
    return values if prepared.batched else float(values[0])
