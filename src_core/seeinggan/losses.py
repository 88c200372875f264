"""Losses of SeeingGAN: Wasserstein (WGAN-GP), perceptual (VGG-19), structural (CW-SSIM), L1.

The paper (2.1, 2.5) trains with a Wasserstein loss plus a VGG-19 ``conv3_1`` perceptual loss. It
does not say how the critic is kept 1-Lipschitz; we use the gradient penalty of Gulrajani et al.
(2017), the standard answer. The VGG-19 weights are an ImageNet download we cannot ship, so the
default objective needs none: L1 + a DT-CWT structural term (1 - CW-SSIM) + the adversarial term;
the perceptual term is used when the user points at local VGG-19 weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seeinggan.constants import SPACE_PIXEL_SCALE

__all__ = [
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
    "gradient_penalty",
    "PerceptualLoss",
    "StructuralLoss",
    "GeneratorObjective",
    "OBJECTIVE_TERMS",
    "data_consistency",
    "band_error",
]

OBJECTIVE_TERMS = ("l1", "structural", "perceptual", "adversarial", "consistency", "band", "lowband", "power")
"""Names of the generator objective's terms, in the order they are reported."""


def wasserstein_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Critic loss ``E[D(fake)] - E[D(real)]`` (minimised: real images should score higher)."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator adversarial loss ``-E[D(fake)]``."""
    return -fake_scores.mean()


def gradient_penalty(
    critic: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    condition: torch.Tensor | None = None,
) -> torch.Tensor:
    """WGAN-GP penalty ``E[(||grad_x D(x)||_2 - 1)^2]`` on random interpolates of real and fake.

    Gulrajani et al. (2017): ``x = a * real + (1 - a) * fake`` with ``a ~ U(0, 1)`` per sample
    (drawn from torch's global generator, so a seeded run repeats). The gradient is taken with
    respect to the scored image only; a conditional critic gets the (fixed) `condition`.
    The penalty is differentiable (``create_graph=True``) for the critic's update; multiply it by
    the penalty weight (10 in the paper of Gulrajani et al.).
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake differ in shape: {tuple(real.shape)} vs {tuple(fake.shape)}")
    alpha = torch.rand(real.shape[0], *([1] * (real.ndim - 1)), device=real.device, dtype=real.dtype)
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    scores = critic(mixed) if condition is None else critic(mixed, condition)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    # eps keeps the norm differentiable where the gradient vanishes
    norm = torch.sqrt(grad.flatten(1).pow(2).sum(1) + 1e-12)
    return (norm - 1).pow(2).mean()


class PerceptualLoss(nn.Module):
    """MSE between frozen VGG-19 features of output and target (paper 2.5, ``conv3_1``).

    Parameters
    ----------
    weights_path : str or Path
        Local ImageNet VGG-19 weights in torchvision's layout (see `VGG19Features`).
    layer : str
        Feature layer (``conv3_1`` in the paper).
    """

    def __init__(self, weights_path: str | Path, *, layer: str = "conv3_1"):
        super().__init__()
        from seeinggan.models.vgg19 import VGG19Features

        self.features = VGG19Features(weights_path, layer=layer)

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean squared distance of the VGG-19 features of ``output`` and ``target``."""
        return F.mse_loss(self.features(output), self.features(target))


class StructuralLoss(nn.Module):
    """``1 - CW-SSIM(target, output)``, the complex-wavelet structural similarity as a loss.

    CW-SSIM (Sampat et al. 2009) is the paper's headline metric (2.10); `seeinggan.metrics`
    computes it on a differentiable torch DT-CWT, so it can be optimised directly. It compares
    local phase structure and is insensitive to small shifts and to the absolute flux scale,
    which the L1 term pins down.

    Parameters
    ----------
    levels : int or tuple of int
        DT-CWT levels scored (1 = finest; ``n`` means 1..n), as in `seeinggan.metrics.cw_ssim`;
        the default, levels 2-4, is the metric's own and needs crops of 97 pixels or more.
    window : int
        Side of the local averaging window of the CW-SSIM index.
    """

    def __init__(self, *, levels: int | tuple[int, ...] = (2, 3, 4), window: int = 7):
        super().__init__()
        self.levels = levels if isinstance(levels, int) else tuple(levels)
        self.window = window

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """One minus the CW-SSIM of ``output`` against ``target``, averaged over the batch."""
        from seeinggan.metrics import cw_ssim

        score = cw_ssim(target, output, levels=self.levels, window=self.window)
        if not isinstance(score, torch.Tensor):
            raise TypeError("seeinggan.metrics.cw_ssim must return a torch tensor for torch input")
        return 1 - score.mean()


def data_consistency(
    output: torch.Tensor,
    inputs: torch.Tensor,
    psf: torch.Tensor,
    *,
    softening: float = 3.0,
    weight: torch.Tensor | None = None,
    border: int = 16,
) -> torch.Tensor:
    """The output, re-blurred by the ground PSF, against the ground input, in noise units.

    Both images are in network units ``asinh((f - sky) / (softening * noise))``, so
    ``softening * sinh(.)`` is ``(f - sky) / noise``: the flux in units of the input's noise.
    ``chi = softening * (psf * sinh(output) - sinh(input))`` is the residual of the re-blurred
    output (circular FFT convolution; `border` pixels at each edge are left out, where the
    wrap-around lands) against the input, per pixel in noise units, and the loss is its
    Charbonnier mean ``sqrt(1 + chi^2) - 1`` (quadratic within the noise, linear beyond, so bright
    cores do not swamp the batch).

    Parameters
    ----------
    output, inputs : torch.Tensor
        ``[B, 1, H, W]`` network units.
    psf : torch.Tensor
        ``[B, H, W]``: each sample's PSF on the same grid, centred at pixel (0, 0) and wrapped.
    softening : float
        The intensity transform's softening.
    weight : torch.Tensor, optional
        ``[B]`` per-sample weights (0 for samples without a known PSF).
    border : int
        Pixels left out at each edge.
    """
    shape = output.shape[-2:]
    flux = torch.sinh(output.float().clamp(-15.0, 15.0))
    blurred = torch.fft.irfft2(torch.fft.rfft2(flux) * torch.fft.rfft2(psf.float())[:, None], s=shape)
    chi = softening * (blurred - torch.sinh(inputs.float().clamp(-15.0, 15.0)))
    if border:
        chi = chi[..., border:-border, border:-border]
    per_sample = (torch.sqrt(1.0 + chi.pow(2)) - 1.0).flatten(1).mean(1)
    if weight is None:
        return per_sample.mean()
    weight = weight.float()
    return (per_sample * weight).sum() / weight.sum().clamp_min(1.0)


def band_error(
    output: torch.Tensor,
    target: torch.Tensor,
    seeing: torch.Tensor,
    *,
    pixel_scale: float = SPACE_PIXEL_SCALE,
    softening: float = 3.0,
    low: float = 0.5,
    high: float = 2.0,
) -> torch.Tensor:
    """The restoration-band error of issue 9 as a loss: phase-sensitive, so texture cannot game it.

    For each sample, ``sum |X - T|^2 / (sum |T|^2 + noise floor)`` over the Hann-apodised
    Fourier transforms of output and target taken back to linear flux (``softening * sinh``:
    noise units), summed over the band ``0.5 / FWHM <= |f| <= 2 / FWHM`` cycles per arcsec that
    the seeing removed. The floor is the band power of white noise of one noise unit, so a
    crop of blank sky is scored in units of the noise rather than of its own (vanishing) power.
    Structure in the wrong place costs as much as structure missing.

    Parameters
    ----------
    output, target : torch.Tensor
        ``[B, 1, H, W]`` network units.
    seeing : torch.Tensor
        ``[B]`` seeing FWHM in arcsec.
    pixel_scale : float
        Arcsec per pixel of the images.
    softening : float
        The intensity transform's softening.
    low, high : float
        The band is ``low / FWHM <= |f| <= high / FWHM`` (``low=0, high=0.5``: the frequencies
        below the restoration band, total flux included, which the ``lowband`` term uses).
    """
    return _relative_error(_band_sums(output, target, seeing, pixel_scale=pixel_scale, softening=softening,
                                      low=low, high=high))


def band_power_mismatch(
    output: torch.Tensor,
    target: torch.Tensor,
    seeing: torch.Tensor,
    *,
    pixel_scale: float = SPACE_PIXEL_SCALE,
    softening: float = 3.0,
    low: float = 0.5,
    high: float = 2.0,
) -> torch.Tensor:
    """How far the output's power in the restoration band is from the target's, as a loss.

    ``mean over samples of log((P_X + floor) / (P_T + floor))^2`` with ``P`` the band powers
    and ``floor`` the band power of one noise unit of white noise (as in `band_error`). A model
    trained on an error alone shrinks what it is unsure of toward zero (band power ratio below
    1: too smooth); this term asks for the truth's amount of structure in the band, while the
    band error keeps it in the right place. Symmetric in log: twice too much costs as much as
    half. Parameters as `band_error`.
    """
    return _log_power_mismatch(_band_sums(output, target, seeing, pixel_scale=pixel_scale, softening=softening,
                                          low=low, high=high))


def _band_sums(output, target, seeing, *, pixel_scale, softening, low, high) -> dict[str, torch.Tensor]:
    """Per-sample band sums of ``|X - T|^2``, ``|X|^2``, ``|T|^2`` and the white-noise floor."""
    return _sums_in_band(_spectra(output, target, softening), seeing, pixel_scale=pixel_scale, low=low, high=high)


def _spectra(output: torch.Tensor, target: torch.Tensor, softening: float) -> dict[str, torch.Tensor]:
    """Hann-apodised ``rfft2`` of output and target in linear flux (noise units), and the window."""
    height, width = output.shape[-2:]
    window = torch.outer(torch.hann_window(height, periodic=False, device=output.device),
                         torch.hann_window(width, periodic=False, device=output.device))
    x = softening * torch.sinh(output.float().clamp(-15.0, 15.0))[:, 0] * window
    t = softening * torch.sinh(target.float().clamp(-15.0, 15.0))[:, 0] * window
    return {"x": torch.fft.rfft2(x), "t": torch.fft.rfft2(t), "window": window}


def _sums_in_band(spectra: dict[str, torch.Tensor], seeing: torch.Tensor, *, pixel_scale: float, low: float,
                  high: float) -> dict[str, torch.Tensor]:
    ft_x, ft_t, window = spectra["x"], spectra["t"], spectra["window"]
    height, width = window.shape
    fy = torch.fft.fftfreq(height, d=pixel_scale, device=ft_x.device)
    fx = torch.fft.rfftfreq(width, d=pixel_scale, device=ft_x.device)
    radius = torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)[None]
    fwhm = seeing.float().reshape(-1, 1, 1)
    band = ((radius >= low / fwhm) & (radius <= high / fwhm)).float()
    # rfft2 holds each non-zero column's conjugate twin once: weight them twice
    weight = torch.full((width // 2 + 1,), 2.0, device=ft_x.device)
    weight[0] = 1.0
    if width % 2 == 0:
        weight[-1] = 1.0
    band = band * weight
    return {
        "error": ((ft_x - ft_t).abs() ** 2 * band).sum((-2, -1)),
        "output": (ft_x.abs() ** 2 * band).sum((-2, -1)),
        "target": (ft_t.abs() ** 2 * band).sum((-2, -1)),
        "floor": band.sum((-2, -1)) * window.pow(2).sum(),
    }


def _relative_error(sums: dict[str, torch.Tensor]) -> torch.Tensor:
    return (sums["error"] / (sums["target"] + sums["floor"])).mean()


def _log_power_mismatch(sums: dict[str, torch.Tensor]) -> torch.Tensor:
    ratio = (sums["output"] + sums["floor"]) / (sums["target"] + sums["floor"])
    return torch.log(ratio).pow(2).mean()


class GeneratorObjective(nn.Module):
    """The generator's loss: a weighted sum of named terms.

    ``total = l1 * |G(x) - y| + structural * (1 - CW-SSIM) + perceptual * VGG-MSE
    + adversarial * (-D(G(x), x)) + consistency * data_consistency(G(x), x, psf)``; terms with
    weight 0 are not computed.

    Parameters
    ----------
    weights : mapping
        Weights by term name (`OBJECTIVE_TERMS`); missing terms weigh 0.
    vgg19_weights : str or Path, optional
        Local VGG-19 weights; required when ``weights["perceptual"] > 0``.
    vgg19_layer : str
        Perceptual feature layer.
    structural_levels : int or tuple of int
        DT-CWT levels of the structural term (see `StructuralLoss`).
    """

    def __init__(
        self,
        weights: Mapping[str, float],
        *,
        vgg19_weights: str | Path | None = None,
        vgg19_layer: str = "conv3_1",
        structural_levels: int | tuple[int, ...] = (2, 3, 4),
        softening: float = 3.0,
    ):
        super().__init__()
        self.softening = float(softening)
        unknown = set(weights) - set(OBJECTIVE_TERMS)
        if unknown:
            raise ValueError(
                f"unknown loss terms {', '.join(sorted(unknown))}; known: {', '.join(OBJECTIVE_TERMS)}"
            )
        self.weights = {name: float(weights.get(name, 0.0)) for name in OBJECTIVE_TERMS}
        if any(w < 0 for w in self.weights.values()):
            raise ValueError(f"loss weights must be >= 0, got {self.weights}")
        self.vgg19_weights = None if vgg19_weights is None else str(vgg19_weights)
        self.vgg19_layer = vgg19_layer
        self.structural_levels = structural_levels
        self.structural = StructuralLoss(levels=structural_levels) if self.weights["structural"] else None
        self.perceptual = None
        if self.weights["perceptual"]:
            if vgg19_weights is None:
                raise ValueError(
                    "the perceptual loss needs local VGG-19 ImageNet weights (vgg19_weights); "
                    "nothing is downloaded"
                )
            self.perceptual = PerceptualLoss(vgg19_weights, layer=vgg19_layer)

    @property
    def uses_critic(self) -> bool:
        """Whether the adversarial term (and so a critic) is part of the objective."""
        return self.weights["adversarial"] > 0

    def describe(self) -> dict[str, Any]:
        """JSON-able description for model metadata (which objective trained the model)."""
        return {
            "weights": dict(self.weights),
            "adversarial": "wasserstein-gp" if self.uses_critic else None,
            "structural": {"metric": "1 - cw_ssim", "levels": _levels_list(self.structural_levels)}
            if self.structural is not None
            else None,
            "perceptual": {"network": "vgg19", "layer": self.vgg19_layer} if self.perceptual is not None else None,
            **({"consistency": {"metric": "charbonnier(chi), psf * output vs input, noise units"}}
               if self.weights["consistency"] else {}),
            **({"band": {"metric": "restoration-band error, 0.5/FWHM..2/FWHM, Hann, flux units"}}
               if self.weights["band"] else {}),
            **({"lowband": {"metric": "band error below 0.5/FWHM (total flux included), Hann, flux units"}}
               if self.weights["lowband"] else {}),
            **({"power": {"metric": "log(band power / truth's band power)^2, 0.5/FWHM..2/FWHM, noise floor"}}
               if self.weights["power"] else {}),
        }

    def forward(
        self,
        output: torch.Tensor,
        target: torch.Tensor,
        *,
        fake_scores: torch.Tensor | None = None,
        adversarial: bool = True,
        inputs: torch.Tensor | None = None,
        extras: Mapping[str, torch.Tensor] | None = None,
        adversarial_scale: float = 1.0,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Return ``(total, {term: unweighted value})`` for the terms with non-zero weight.

        `fake_scores` (the critic's scores of `output`) is needed when the adversarial weight is
        non-zero, unless ``adversarial=False`` leaves that term out (a warm-up without critic).
        ``adversarial_scale`` (0-1) multiplies the adversarial weight (the trainer's warm-up ramp).
        """
        terms: dict[str, torch.Tensor] = {}
        if self.weights["l1"]:
            terms["l1"] = F.l1_loss(output, target)
        if self.structural is not None:
            terms["structural"] = self.structural(output.float(), target.float())
        if self.perceptual is not None:
            terms["perceptual"] = self.perceptual(output, target)
        if self.uses_critic and adversarial:
            if fake_scores is None:
                raise ValueError("the adversarial term needs the critic's scores (fake_scores)")
            terms["adversarial"] = wasserstein_generator_loss(fake_scores)
        spectral = [name for name in ("band", "lowband", "power") if self.weights[name]]
        if spectral:
            if extras is None or "seeing" not in extras:
                raise ValueError(f"the {spectral[0]} term needs each sample's seeing (extras)")
            # One pair of FFTs serves the band error, the power mismatch and the low band.
            spectra = _spectra(output, target, self.softening)
            restoration = (_sums_in_band(spectra, extras["seeing"], pixel_scale=SPACE_PIXEL_SCALE, low=0.5, high=2.0)
                           if self.weights["band"] or self.weights["power"] else {})
            if self.weights["band"]:
                terms["band"] = _relative_error(restoration)
            if self.weights["lowband"]:
                terms["lowband"] = _relative_error(
                    _sums_in_band(spectra, extras["seeing"], pixel_scale=SPACE_PIXEL_SCALE, low=0.0, high=0.5))
            if self.weights["power"]:
                terms["power"] = _log_power_mismatch(restoration)
        if self.weights["consistency"]:
            if inputs is None or extras is None or "psf" not in extras:
                raise ValueError("the consistency term needs the inputs and each sample's psf (extras)")
            terms["consistency"] = data_consistency(
                output, inputs, extras["psf"], softening=self.softening, weight=extras.get("has_psf")
            )
        if not terms:
            raise ValueError("all loss weights are zero")
        total = torch.stack([self.weights[name] * (adversarial_scale if name == "adversarial" else 1.0) * value
                             for name, value in terms.items()]).sum()
        return total, terms


def _levels_list(levels: int | tuple[int, ...]) -> list[int]:
    return list(range(1, levels + 1)) if isinstance(levels, int) else [int(v) for v in levels]
