"""SSIM (Wang et al. 2004, Gaussian window) and PSNR, with NaN and masked pixels excluded."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seeinggan.metrics._inputs import RegionTooSmallError, finish, prepare

__all__ = ["ssim", "psnr", "gaussian_window_size"]


def gaussian_window_size(sigma: float) -> int:
    """Side of the Gaussian window: truncated at 3.5 sigma (11 for sigma = 1.5, as scikit-image)."""
    return 2 * int(3.5 * sigma + 0.5) + 1


def _gaussian(sigma: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    size = gaussian_window_size(sigma)
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    return (g / g.sum()).to(dtype=dtype, device=device)


def _blur(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian mean over 'valid' windows of [N, C, H, W] (channels independently)."""
    channels = x.shape[1]
    size = g.numel()
    x = F.conv2d(x, g.reshape(1, 1, size, 1).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(x, g.reshape(1, 1, 1, size).repeat(channels, 1, 1, 1), groups=channels)


def ssim(
    reference,
    test,
    *,
    data_range: float,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    mask=None,
):
    r"""Structural similarity (Wang et al. 2004) with a Gaussian window.

    Local means, variances and covariance are Gaussian-weighted (``sigma`` = 1.5 pixels, window
    truncated at 3.5 sigma: 11 x 11), without the sample-size correction, as in Wang et al.;
    :math:`C_1 = (k_1 R)^2`, :math:`C_2 = (k_2 R)^2` with ``R`` the stated ``data_range``. The SSIM
    map is averaged over the 'valid' window positions (windows wholly inside the image), which is
    what ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)`` computes.

    NaN and masked pixels are excluded, not spread: windows that hold one are left out of the mean.

    Parameters
    ----------
    reference, test : numpy.ndarray or torch.Tensor
        Same shapes and return types as `cw_ssim`.
    data_range : float
        The data range ``R`` (max - min possible value); `compare` scales images to ``R = 1``.
    sigma, k1, k2 : float
        Gaussian window width and the constants of Wang et al. (1.5, 0.01, 0.03).
    mask : array or tensor of bool, optional
        True where pixels are excluded.
    """
    prepared = prepare(reference, test, mask)
    x, y = prepared.reference, prepared.test
    dtype, device = x.dtype, x.device
    size = gaussian_window_size(sigma)
    if min(x.shape[-2:]) < size:
        raise RegionTooSmallError(
            f"region of {x.shape[-2]}x{x.shape[-1]} pixels is too small: SSIM's {size}x{size} "
            f"Gaussian window needs at least {size}x{size} pixels"
        )
    g = _gaussian(sigma, dtype, device)
    moments = _blur(torch.cat([x, y, x * x, y * y, x * y], dim=1), g)
    mu_x, mu_y, xx, yy, xy = moments.unbind(dim=1)
    var_x, var_y, cov = xx - mu_x * mu_x, yy - mu_y * mu_y, xy - mu_x * mu_y
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    scores = _masked_window_mean(ssim_map, prepared.invalid, size)
    return finish(scores, prepared, "ssim")


def _masked_window_mean(values: torch.Tensor, invalid: torch.Tensor | None, size: int) -> torch.Tensor:
    """Mean of a [B, h, w] map over windows of ``size`` that hold no invalid pixel; [B]."""
    if invalid is None:
        return values.mean(dim=(1, 2))
    touched = F.max_pool2d(invalid.to(values.dtype), size, stride=1)[:, 0]
    clean = (touched == 0).to(values.dtype)
    count = clean.sum(dim=(1, 2))
    mean = (values * clean).sum(dim=(1, 2)) / count.clamp_min(1)
    return torch.where(count > 0, mean, torch.full_like(mean, float("nan")))


def psnr(reference, test, *, data_range: float, mask=None):
    r"""Peak signal-to-noise ratio in dB: :math:`10 \log_{10}(R^2 / \mathrm{MSE})`.

    ``R`` is the stated ``data_range``; the mean squared error is taken over the pixels that are
    finite in both images and not masked. Identical images give ``inf``.

    Parameters
    ----------
    reference, test : numpy.ndarray or torch.Tensor
        Same shapes and return types as `cw_ssim`.
    data_range : float
        The data range ``R``; `compare` scales images to ``R = 1``.
    mask : array or tensor of bool, optional
        True where pixels are excluded.
    """
    prepared = prepare(reference, test, mask)
    squared = (prepared.reference - prepared.test)[:, 0] ** 2
    if prepared.invalid is None:
        mse = squared.mean(dim=(1, 2))
    else:
        valid = (~prepared.invalid[:, 0]).to(squared.dtype)
        count = valid.sum(dim=(1, 2))
        mse = (squared * valid).sum(dim=(1, 2)) / count.clamp_min(1)
        mse = torch.where(count > 0, mse, torch.full_like(mse, float("nan")))
    scores = 10 * torch.log10(data_range**2 / mse)
    return finish(scores, prepared, "psnr")

