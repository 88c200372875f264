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

__all__ = [
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
    "gradient_penalty",
    "PerceptualLoss",
    "StructuralLoss",
    "GeneratorObjective",
    "OBJECTIVE_TERMS",
]

OBJECTIVE_TERMS = ("l1", "structural", "perceptual", "adversarial")
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
        from seeinggan.metrics import cw_ssim

        score = cw_ssim(target, output, levels=self.levels, window=self.window)
        if not isinstance(score, torch.Tensor):
            raise TypeError("seeinggan.metrics.cw_ssim must return a torch tensor for torch input")
        return 1 - score.mean()


class GeneratorObjective(nn.Module):
    """The generator's loss: a weighted sum of named terms.

    ``total = l1 * |G(x) - y| + structural * (1 - CW-SSIM) + perceptual * VGG-MSE
    + adversarial * (-D(G(x), x))``; terms with weight 0 are not computed.

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
    ):
        super().__init__()
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
        }

    def forward(
        self,
        output: torch.Tensor,
        target: torch.Tensor,
        *,
        fake_scores: torch.Tensor | None = None,
        adversarial: bool = True,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Return ``(total, {term: unweighted value})`` for the terms with non-zero weight.

        `fake_scores` (the critic's scores of `output`) is needed when the adversarial weight is
        non-zero, unless ``adversarial=False`` leaves that term out (a warm-up without critic).
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
        if not terms:
            raise ValueError("all loss weights are zero")
        total = sum(self.weights[name] * value for name, value in terms.items())
        return total, terms


def _levels_list(levels: int | tuple[int, ...]) -> list[int]:
    return list(range(1, levels + 1)) if isinstance(levels, int) else [int(v) for v in levels]
