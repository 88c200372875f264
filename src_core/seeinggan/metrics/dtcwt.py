"""A batched, differentiable 2-D dual-tree complex wavelet transform (DT-CWT) in PyTorch.

It reproduces the forward transform of the `dtcwt` package (``dtcwt.Transform2d().forward``,
Kingsbury's DT-CWT) with `dtcwt`'s own filter banks (`dtcwt.coeffs.biort` for level 1 and
`dtcwt.coeffs.qshift`, the Q-shift filters, for levels 2 and up), including its handling of
borders and odd sizes:

- borders: symmetric extension with the end samples repeated (``...b a | a b ...``);
- an odd number of rows (columns) is made even by repeating the last row (column) before
  level 1; before each level >= 2, a lowpass image whose side is not a multiple of 4 is extended
  by repeating its first and last rows (columns);
- the six subbands of each level are ordered as in `dtcwt`: 15, 45, 75, 105, 135, 165 degrees.

The filtering is separable: ``conv2d`` with ``(m, 1)`` and ``(1, m)`` kernels over channels
(``groups``), so it runs on CPU or GPU, in float32 or float64, on a batch ``[B, H, W]`` at once,
and autograd differentiates it (it is also the transform behind the structural training loss).

Unlike `dtcwt` (``[h, w, 6]`` per level), the highpasses come out as ``[B, 6, h, w]`` complex
tensors, batch first, torch style.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["DTCWTPyramid", "dtcwt_forward", "min_size_for_levels", "highpass_shapes"]


@dataclass(frozen=True)
class DTCWTPyramid:
    """The result of `dtcwt_forward`.

    Attributes
    ----------
    lowpass : torch.Tensor
        ``[B, h, w]`` real lowpass image of the last level.
    highpasses : tuple of torch.Tensor
        One complex tensor ``[B, 6, h_l, w_l]`` per level (finest first); the six subbands are
        ordered 15, 45, 75, 105, 135, 165 degrees, as in `dtcwt`.
    """

    lowpass: torch.Tensor
    highpasses: tuple[torch.Tensor, ...]


# --------------------------------------------------------------------------------------------
# Filter banks
# --------------------------------------------------------------------------------------------


def _reflect_indices(n: int, pad_before: int, pad_after: int) -> np.ndarray:
    """Indices of a symmetric extension with repeated end samples (`dtcwt.utils.reflect`)."""
    x = np.arange(-pad_before, n + pad_after, dtype=np.int64).astype(np.float64)
    minx, maxx = -0.5, n - 0.5
    span = 2 * (maxx - minx)
    mod = np.fmod(x - minx, span)
    mod = np.where(mod < 0, mod + span, mod)
    out = np.where(mod >= maxx - minx, span - mod, mod) + minx
    return out.astype(np.int64)


@functools.lru_cache(maxsize=256)
def _index_tensor(kind: str, n: int, m: int, device: torch.device) -> torch.Tensor:
    """Cached gather indices for one filtering step along an axis of length ``n``."""
    if kind == "odd":  # level-1 colfilter: extend by m // 2 each side, 'valid' filtering
        idx = _reflect_indices(n, m // 2, m // 2)
    elif kind == "even":  # coldfilt, the branch on even extended samples (from sample 2 on)
        idx = _reflect_indices(n, m, m)[2::2]
    elif kind == "oddq":  # coldfilt, the branch on odd extended samples (from sample 3 on)
        idx = _reflect_indices(n, m, m)[3::2]
    else:  # pragma: no cover - internal
        raise ValueError(kind)
    return torch.as_tensor(idx, device=device)


@dataclass(frozen=True)
class _Bank:
    """Filters of one (biort, qshift) choice, as numpy float64 arrays."""

    level1: np.ndarray  # [2, M] h0o and h1o, zero-padded to a common odd length M, flipped
    q_even: np.ndarray  # [2, m] reversed h0b, h1b (applied to even extended samples)
    q_odd: np.ndarray  # [2, m] reversed h0a, h1a (applied to odd extended samples)
    q_swap: tuple[bool, bool]  # True where the even-branch output goes to odd output rows


@functools.lru_cache(maxsize=16)
def _bank(biort: str, qshift: str) -> _Bank:
    import dtcwt.coeffs  # the filter banks load fine under numpy 2 (see docs/metrics.md)

    try:
        b = dtcwt.coeffs.biort(biort)
        q = dtcwt.coeffs.qshift(qshift)
    except Exception as error:  # noqa: BLE001 - name the bad choice
        raise ValueError(f"unknown DT-CWT filters biort={biort!r}, qshift={qshift!r}: {error}") from None
    if len(b) != 4 or len(q) != 8:
        raise ValueError(
            f"biort={biort!r} / qshift={qshift!r}: only the 4-filter biort and 8-filter qshift banks "
            "are supported (not the rotationally symmetric '_bp' variants)"
        )
    h0o, _g0o, h1o, _g1o = (np.asarray(h, dtype=np.float64).ravel() for h in b)
    h0a, h0b, _g0a, _g0b, h1a, h1b, _g1a, _g1b = (np.asarray(h, dtype=np.float64).ravel() for h in q)
    if len(h0o) % 2 == 0 or len(h1o) % 2 == 0:
        raise ValueError(f"biort={biort!r}: level-1 filters must have odd lengths")
    length = max(len(h0o), len(h1o))

    def centred(h: np.ndarray) -> np.ndarray:
        pad = (length - len(h)) // 2
        return np.pad(h, (pad, pad))

    # dtcwt convolves; conv2d correlates: flip every filter.
    level1 = np.stack([centred(h0o)[::-1], centred(h1o)[::-1]])
    # coldfilt(X, ha, hb) is called with (h0b, h0a) and (h1b, h1a): ha on the even extended
    # samples, hb on the odd ones, each a stride-2 convolution (see _qshift_axis).
    q_even = np.stack([h0b[::-1], h1b[::-1]])
    q_odd = np.stack([h0a[::-1], h1a[::-1]])
    q_swap = (bool(np.sum(h0b * h0a) <= 0), bool(np.sum(h1b * h1a) <= 0))
    return _Bank(level1=level1, q_even=q_even, q_odd=q_odd, q_swap=q_swap)


@functools.lru_cache(maxsize=64)
def _weights(biort: str, qshift: str, dtype: torch.dtype, device: torch.device, absolute: bool):
    bank = _bank(biort, qshift)

    def t(a: np.ndarray) -> torch.Tensor:
        a = np.abs(a) if absolute else a
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=device)

    return t(bank.level1), t(bank.q_even), t(bank.q_odd), bank.q_swap


# --------------------------------------------------------------------------------------------
# One filtering step along one axis of [N, C, H, W]
# --------------------------------------------------------------------------------------------


def _conv_axis(x: torch.Tensor, filters: torch.Tensor, axis: int, stride: int) -> torch.Tensor:
    """Correlate every channel of ``x`` with each of ``filters`` [F, m] along ``axis`` (2 or 3).

    Returns ``[N, C * F, ...]``, channel ``c * F + f``; 'valid' positions only.
    """
    n_channels = x.shape[1]
    n_filters, m = filters.shape
    if axis == 2:
        weight = filters.reshape(n_filters, 1, m, 1)
        strides = (stride, 1)
    else:
        weight = filters.reshape(n_filters, 1, 1, m)
        strides = (1, stride)
    weight = weight.repeat(n_channels, 1, 1, 1)
    return F.conv2d(x, weight, stride=strides, groups=n_channels)


def _biort_axis(x: torch.Tensor, level1: torch.Tensor, axis: int) -> torch.Tensor:
    """dtcwt's ``colfilter`` with h0o and h1o along ``axis``: [N, C, ...] -> [N, 2C, ...]."""
    m = level1.shape[1]
    idx = _index_tensor("odd", x.shape[axis], m, x.device)
    return _conv_axis(x.index_select(axis, idx), level1, axis, 1)


def _qshift_axis(
    x: torch.Tensor, q_even: torch.Tensor, q_odd: torch.Tensor, swap: tuple[bool, bool], axis: int
) -> torch.Tensor:
    """dtcwt's ``coldfilt`` with (h0b, h0a) and (h1b, h1a) along ``axis``, decimating by 2.

    ``coldfilt`` interleaves two stride-4 filterings of the symmetrically extended signal ``E``;
    written out, output pair ``k`` is ``sum_j ha[j] E[2 + 2(2k + m-1-j)]`` (even samples) and
    ``sum_j hb[j] E[3 + 2(2k + m-1-j)]`` (odd samples): two stride-2 convolutions of the even and
    odd extended samples. [N, C, n, ...] -> [N, 2C, n / 2, ...].
    """
    n = x.shape[axis]
    m = q_even.shape[1]
    even = x.index_select(axis, _index_tensor("even", n, m, x.device))
    odd = x.index_select(axis, _index_tensor("oddq", n, m, x.device))
    n_batch, n_channels = x.shape[:2]
    both = torch.cat([even, odd], dim=1)  # [N, 2C, ...]
    weight = torch.cat([q_even.repeat(n_channels, 1), q_odd.repeat(n_channels, 1)])  # [4C, m]
    if axis == 2:
        w4 = weight.reshape(-1, 1, m, 1)
        strides = (2, 1)
    else:
        w4 = weight.reshape(-1, 1, 1, m)
        strides = (1, 2)
    y = F.conv2d(both, w4, stride=strides, groups=2 * n_channels)  # [N, 4C, ...]
    spatial = y.shape[2:]
    y = y.reshape(n_batch, 2, n_channels, 2, *spatial)  # branch, channel, filter
    outputs = []
    for f in range(2):
        first, second = (y[:, 1, :, f], y[:, 0, :, f]) if swap[f] else (y[:, 0, :, f], y[:, 1, :, f])
        pair = torch.stack([first, second], dim=axis + 1)  # interleave along axis
        shape = list(first.shape)
        shape[axis] *= 2
        outputs.append(pair.reshape(shape))
    out = torch.stack(outputs, dim=2)  # [N, C, F, ...]
    return out.reshape(n_batch, 2 * n_channels, *out.shape[3:])


def _extend_to_multiple_of_4(x: torch.Tensor) -> torch.Tensor:
    """dtcwt, before each level >= 2: repeat the first and last rows/columns if needed."""
    if x.shape[2] % 4:
        x = torch.cat([x[:, :, :1], x, x[:, :, -1:]], dim=2)
    if x.shape[3] % 4:
        x = torch.cat([x[:, :, :, :1], x, x[:, :, :, -1:]], dim=3)
    return x


def _quads(y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return y[..., 0::2, 0::2], y[..., 0::2, 1::2], y[..., 1::2, 0::2], y[..., 1::2, 1::2]


# Channels after filtering along H then W: 0 LoLo, 1 (lo H, hi W), 2 (hi H, lo W), 3 (hi H, hi W).
# dtcwt: subbands 0/5 from (hi H, lo W), 2/3 from (lo H, hi W), 1/4 from (hi H, hi W); the first
# of each pair is p - q, the second p + q (its ``q2c``).
_FIRST = [1, 2, 0]  # for subbands 0, 1, 2 take (p - q) of bands (horizontal, diagonal, vertical)
_SECOND = [0, 2, 1]  # for subbands 3, 4, 5 take (p + q) of bands (vertical, diagonal, horizontal)


def _q2c(bands: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """dtcwt's ``q2c`` on [N, 3, h, w] (vertical, horizontal, diagonal): real, imag [N, 6, h/2, w/2]."""
    a, b, c, d = _quads(bands)
    s = math.sqrt(0.5)
    real_pm, imag_pm = (a - d) * s, (b + c) * s  # p - q
    real_pp, imag_pp = (a + d) * s, (b - c) * s  # p + q
    real = torch.cat([real_pm[:, _FIRST], real_pp[:, _SECOND]], dim=1)
    imag = torch.cat([imag_pm[:, _FIRST], imag_pp[:, _SECOND]], dim=1)
    return real, imag


def _support_q2c(bands: torch.Tensor) -> torch.Tensor:
    """The support version of `_q2c`: a coefficient depends on its 4 quad samples."""
    a, b, c, d = _quads(bands)
    total = a + b + c + d
    return torch.cat([total[:, _FIRST], total[:, _SECOND]], dim=1)


def _as_batch(x: torch.Tensor) -> torch.Tensor:
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 3:
        raise ValueError(f"expected an image [H, W], a batch [B, H, W] or [B, 1, H, W]; got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        x = x.to(torch.float64)
    return x[:, None]  # [B, 1, H, W]


def _transform(x: torch.Tensor, levels: int, biort: str, qshift: str, *, support: bool):
    """Shared forward pass. ``support=True`` runs it with |filters| on a non-negative image, so a
    coefficient is > 0 exactly where its input support touches a non-zero pixel."""
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    level1, q_even, q_odd, swap = _weights(biort, qshift, x.dtype, x.device, support)
    # Odd sizes: repeat the last row / column (dtcwt's initial extension).
    if x.shape[2] % 2:
        x = torch.cat([x, x[:, :, -1:]], dim=2)
    if x.shape[3] % 2:
        x = torch.cat([x, x[:, :, :, -1:]], dim=3)
    highpasses = []
    y = _biort_axis(_biort_axis(x, level1, 2), level1, 3)  # [N, 4, H, W]
    for level in range(levels):
        if level > 0:
            lowlow = _extend_to_multiple_of_4(y[:, :1])
            y = _qshift_axis(_qshift_axis(lowlow, q_even, q_odd, swap, 2), q_even, q_odd, swap, 3)
        bands = y[:, 1:]
        highpasses.append(_support_q2c(bands) if support else _q2c(bands))
    return y[:, 0], highpasses


def dtcwt_forward(
    x: torch.Tensor,
    *,
    levels: int = 3,
    biort: str = "near_sym_b",
    qshift: str = "qshift_b",
) -> DTCWTPyramid:
    """Forward 2-D DT-CWT of a batch of images, as `dtcwt.Transform2d(biort, qshift).forward`.

    Parameters
    ----------
    x : torch.Tensor
        ``[H, W]``, ``[B, H, W]`` or ``[B, 1, H, W]`` real images (float32 or float64; integer
        input is promoted to float64), on any device. Must be finite.
    levels : int
        Number of levels (level 1 with the ``biort`` filters, the rest with ``qshift``).
    biort, qshift : str
        Names of `dtcwt.coeffs` filter banks.

    Returns
    -------
    DTCWTPyramid
        ``lowpass`` [B, h, w] and ``highpasses``: per level a complex ``[B, 6, h_l, w_l]`` tensor,
        subbands ordered 15, 45, 75, 105, 135, 165 degrees. Differentiable.
    """
    lowpass, highpasses = _transform(_as_batch(x), levels, biort, qshift, support=False)
    return DTCWTPyramid(lowpass, tuple(torch.complex(re, im) for re, im in highpasses))


def _forward_real(x: torch.Tensor, levels: int, biort: str, qshift: str):
    """[B, 1, H, W] -> list of (real, imag) [B, 6, h, w] per level (no complex dtype: faster)."""
    return _transform(x, levels, biort, qshift, support=False)[1]


def _forward_support(invalid: torch.Tensor, levels: int, biort: str, qshift: str):
    """[B, 1, H, W] non-negative invalid-pixel indicator -> per level [B, 6, h, w] contamination."""
    return _transform(invalid, levels, biort, qshift, support=True)[1]


def highpass_shapes(shape: tuple[int, int], levels: int) -> list[tuple[int, int]]:
    """The ``(h, w)`` of each level's subbands for an image of ``shape``, as dtcwt sizes them."""
    sizes = []
    rows, cols = (s + s % 2 for s in shape)
    for level in range(levels):
        if level > 0:
            rows, cols = (s + 2 if s % 4 else s for s in (rows, cols))
            rows, cols = rows // 2, cols // 2
        sizes.append((rows // 2, cols // 2))
    return sizes


def min_size_for_levels(levels: int, window: int) -> int:
    """Smallest image side whose level-``levels`` subbands hold at least one ``window`` window."""
    side = 1
    while highpass_shapes((side, side), levels)[-1][0] < window:
        side += 1
    return side
