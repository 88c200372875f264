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

The filtering is separable; each 1-D filtering step is one gather (symmetric extension and
overlapping windows) and one matrix product with a small block-Toeplitz matrix, so it runs on
CPU or GPU, in float32 or float64, on a batch ``[B, H, W]`` at once, and autograd differentiates
it (it is also the transform behind the structural training loss).

Unlike `dtcwt` (``[h, w, 6]`` per level), the highpasses come out as ``[B, 6, h, w]`` complex
tensors, batch first, torch style.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

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


@dataclass(frozen=True)
class _Bank:
    """Filters of one (biort, qshift) choice, as numpy float64 correlation weights."""

    level1: tuple[np.ndarray, np.ndarray]  # h0o, h1o flipped (dtcwt convolves; we correlate)
    q_even: tuple[np.ndarray, np.ndarray]  # h0b, h1b reversed: on the even extended samples
    q_odd: tuple[np.ndarray, np.ndarray]  # h0a, h1a reversed: on the odd extended samples
    q_swap: tuple[bool, bool]  # True where the even-sample output goes to the odd output rows


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
    # coldfilt(X, ha, hb) is called with (h0b, h0a) and (h1b, h1a): ha on the even extended
    # samples, hb on the odd ones; its row order depends on the sign of sum(ha * hb).
    return _Bank(
        level1=(h0o[::-1].copy(), h1o[::-1].copy()),
        q_even=(h0b[::-1].copy(), h1b[::-1].copy()),
        q_odd=(h0a[::-1].copy(), h1a[::-1].copy()),
        q_swap=(bool(np.sum(h0b * h0a) <= 0), bool(np.sum(h1b * h1a) <= 0)),
    )


# --------------------------------------------------------------------------------------------
# One filtering step along the last axis, as a gather and one matrix product
# --------------------------------------------------------------------------------------------
#
# A short filter along an axis is a banded (Toeplitz) matrix. We cut the output into blocks of
# ``b`` samples: each block needs a window of ``win`` extended input samples, and one small dense
# matrix [win, filters * b] maps every window to its block. One gather (symmetric extension and
# overlapping windows at once) and one GEMM per step: far faster on CPU than depthwise conv2d
# with 1-D kernels, which PyTorch runs through im2col (measured ~6x).


@dataclass(frozen=True)
class _Plan:
    index: torch.Tensor  # [n_blocks, win] gather indices into the unextended axis
    pads: tuple[int, int]  # symmetric extension before and after the axis
    start: int  # first extended sample of the first window
    stride: int  # extended samples between windows
    matrix: torch.Tensor  # [win, n_filters * per_block]
    n_filters: int
    per_block: int  # output samples per block and filter
    n_out: int  # output samples per filter (the rest of the last block is dropped)


_BIORT_BLOCK = 32  # outputs per block at level 1 (window 32 + 18 for near_sym_b: 50 MACs/output)
_QSHIFT_BLOCK = 8  # output pairs per block at levels >= 2 (window 4 * 7 + 28 = 56)


@functools.lru_cache(maxsize=512)
def _plan(
    kind: str, n: int, biort: str, qshift: str, filters: tuple[int, ...], absolute: bool,
    dtype: torch.dtype, device: torch.device,
) -> _Plan:
    bank = _bank(biort, qshift)
    if kind == "biort":
        # dtcwt's colfilter: extend by m // 2 each side (repeated end samples), 'valid' filtering.
        weights = [bank.level1[f] for f in filters]
        length = max(len(w) for w in weights)
        half = length // 2
        block = min(_BIORT_BLOCK, n)
        n_blocks = -(-n // block)
        win = block - 1 + length
        extended = _reflect_indices(n, half, n_blocks * block - n + half)
        index = np.arange(n_blocks)[:, None] * block + np.arange(win)[None, :]
        matrix = np.zeros((win, len(filters), block))
        for f, w in enumerate(weights):
            offset = (length - len(w)) // 2  # centre shorter filters
            for k in range(block):
                matrix[k + offset : k + offset + len(w), f, k] = w
        per_block, n_out = block, n
        pads, start, stride = (half, n_blocks * block - n + half), 0, block
    else:
        # dtcwt's coldfilt: extend by m each side; output pair k is sum_j ha[j] E[4k + 2 + 2j]
        # (even samples) and sum_j hb[j] E[4k + 3 + 2j] (odd samples), written to rows 2k and
        # 2k + 1, or the other way round (q_swap).
        if n % 4:
            raise ValueError(f"internal: coldfilt needs a multiple of 4 samples, got {n}")
        m = len(bank.q_even[0])
        pairs = n // 4
        block = min(_QSHIFT_BLOCK, pairs)
        n_blocks = -(-pairs // block)
        win = 4 * (block - 1) + 2 * m
        extended = _reflect_indices(n, m, 4 * n_blocks * block - n + m)
        index = 2 + np.arange(n_blocks)[:, None] * 4 * block + np.arange(win)[None, :]
        matrix = np.zeros((win, len(filters), block, 2))
        for f, which in enumerate(filters):
            even, odd, swap = bank.q_even[which], bank.q_odd[which], bank.q_swap[which]
            for k in range(block):
                rows = 4 * k + 2 * np.arange(m)
                matrix[rows, f, k, 1 if swap else 0] = even
                matrix[rows + 1, f, k, 0 if swap else 1] = odd
        matrix = matrix.reshape(win, len(filters), 2 * block)
        per_block, n_out = 2 * block, n // 2
        pads, start, stride = (m, 4 * n_blocks * block - n + m), 2, 4 * block
    if absolute:
        matrix = np.abs(matrix)
    return _Plan(
        index=torch.as_tensor(extended[index], device=device),
        pads=pads,
        start=start,
        stride=stride,
        matrix=torch.as_tensor(matrix.reshape(win, -1), dtype=dtype, device=device),
        n_filters=len(filters),
        per_block=per_block,
        n_out=n_out,
    )


def _fits(pads: tuple[int, int], length: int) -> bool:
    return pads[0] <= length and pads[1] <= length


def _step(x: torch.Tensor, plan: _Plan, *, extended: bool = False, next_plan: _Plan | None = None):
    """Filter [N, C, A, B] along its last axis.

    Returns [N, C * F, B', A] (the filtered axis moves to second-to-last, so two steps filter both
    axes and restore the orientation). Channel ``c * F + f``.

    ``extended``: the last axis of ``x`` already holds ``plan``'s symmetric extension.
    ``next_plan``: the plan of the next step (along A); the output is then written straight into
    that step's symmetric extension (saves one copy) and returned with ``True``.
    """
    n_blocks, win = plan.index.shape
    before, after = plan.pads
    if extended:
        windows = x[..., plan.start :].unfold(-1, win, plan.stride)[..., :n_blocks, :]
    else:
        length = x.shape[-1]
        if _fits(plan.pads, length):
            # Symmetric extension with repeated end samples, then overlapping windows (a view).
            x = torch.cat([x[..., :before].flip(-1), x, x[..., length - after :].flip(-1)], dim=-1)
            windows = x[..., plan.start :].unfold(-1, win, plan.stride)[..., :n_blocks, :]
        else:  # an axis shorter than the filter: dtcwt's repeated reflections, by index
            windows = x[..., plan.index]
    n, c, a = windows.shape[:3]
    y = windows.reshape(-1, win) @ plan.matrix  # [N*C*A*n_blocks, F * per_block]
    y = y.view(n, c, a, n_blocks, plan.n_filters, plan.per_block)
    y = y.permute(0, 1, 4, 3, 5, 2).reshape(n, c * plan.n_filters, n_blocks * plan.per_block, a)
    y = y[:, :, : plan.n_out]
    if next_plan is None or not _fits(next_plan.pads, a):
        return y, False
    left, right = next_plan.pads
    out = y.new_empty(n, c * plan.n_filters, plan.n_out, left + a + right)
    out[..., left : left + a] = y
    out[..., :left] = out[..., left : 2 * left].flip(-1)
    out[..., left + a :] = out[..., left + a - right : left + a].flip(-1)
    return out, True


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
    """The dtcwt ``q2c`` on [N, 3, h, w] (vertical, horizontal, diagonal): real, imag [N, 6, h/2, w/2]."""
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


def _transform(
    x: torch.Tensor,
    levels: int,
    biort: str,
    qshift: str,
    *,
    support: bool,
    wanted: frozenset[int] | None = None,
):
    """Shared forward pass of [N, 1, H, W] images.

    Returns the lowpass [N, h, w] and, per level, the subbands (``None`` for levels not in
    ``wanted``; level-1 highpasses that are not wanted are not computed at all). ``support=True``
    runs it with |filters| on a non-negative image, so a coefficient is > 0 exactly where its
    input support touches a non-zero pixel; the subbands are then [N, 6, h, w] weights.
    """
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    key = (biort, qshift)
    dtype, device = x.dtype, x.device
    # Odd sizes: repeat the last row / column (dtcwt's initial extension).
    if x.shape[2] % 2:
        x = torch.cat([x, x[:, :, -1:]], dim=2)
    if x.shape[3] % 2:
        x = torch.cat([x, x[:, :, :, -1:]], dim=3)
    # Work in the transposed orientation [N, C, W, H]: each step filters the last axis and swaps
    # the two, so filtering H then W (as dtcwt) ends each level in the same orientation.
    y = x.transpose(2, 3)
    filters1 = (0, 1) if wanted is None or 1 in wanted else (0,)
    highpasses: list = []
    for level in range(1, levels + 1):
        if level == 1:
            kind, filters = "biort", filters1
        else:
            kind, filters = "qshift", (0, 1)
            y = _extend_to_multiple_of_4(y[:, :1])
        first = _plan(kind, y.shape[3], *key, filters, support, dtype, device)
        second = _plan(kind, y.shape[2], *key, filters, support, dtype, device)
        y, extended = _step(y, first, next_plan=second)
        y, _ = _step(y, second, extended=extended)
        if len(filters) == 1 or (wanted is not None and level not in wanted):
            highpasses.append(None)
            continue
        bands = y[:, 1:].transpose(2, 3)  # back to [N, 3, H, W]
        highpasses.append(_support_q2c(bands) if support else _q2c(bands))
    return y[:, 0].transpose(1, 2), highpasses


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


def _forward_real(x: torch.Tensor, levels: int, biort: str, qshift: str, wanted=None):
    """[B, 1, H, W] -> per level (real, imag) [B, 6, h, w], or None where not ``wanted``."""
    return _transform(x, levels, biort, qshift, support=False, wanted=wanted)[1]


def _forward_support(invalid: torch.Tensor, levels: int, biort: str, qshift: str, wanted=None):
    """[B, 1, H, W] non-negative invalid-pixel indicator -> per level [B, 6, h, w] weights."""
    return _transform(invalid, levels, biort, qshift, support=True, wanted=wanted)[1]


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
