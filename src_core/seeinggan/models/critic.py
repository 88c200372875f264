"""The SeeingGAN critic: a conditional PatchGAN with a fully connected output (paper 2.7, Fig. 3).

Layout (Isola et al. 2016, as the paper describes it): a convolution + LeakyReLU + dropout;
3 strided blocks (convolution, instance norm, LeakyReLU, dropout); 1 non-strided block; a final
convolution to one channel (a map of patch scores); flatten; a fully connected output.

Choices the paper leaves open, documented here:

- Conditional (pix2pix): the critic scores the candidate image *together with* the blurred input
  it should explain (the two are concatenated on the channel axis), so it judges "is this a
  plausible sharp version of this ground image", not only "is this a sharp galaxy".
- The patch-score map is average-pooled to a fixed ``pool_size x pool_size`` before the fully
  connected layer, so one critic takes any crop size (32 and larger for the default depth).
- The output is an unbounded score (WGAN critic), with no sigmoid; instance norm (per sample)
  keeps the gradient penalty's per-sample meaning, where batch norm would not.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["PatchCritic"]


class PatchCritic(nn.Module):
    """Conditional PatchGAN critic returning one Wasserstein score per image, shape ``[batch]``.

    Parameters
    ----------
    in_channels : int
        Channels of the scored image (and of the condition when ``conditional``).
    base_channels : int
        Width of the first convolution; strided blocks double it up to ``8 * base``.
    n_strided : int
        Strided blocks after the first convolution (3 in the paper).
    dropout : float
        Dropout probability after each activation (the paper uses dropout; 0 turns it off).
    conditional : bool
        Score ``cat(condition, image)``; then ``forward`` needs ``condition``.
    pool_size : int
        Side of the pooled patch-score map fed to the fully connected layer.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        base_channels: int = 64,
        n_strided: int = 3,
        dropout: float = 0.2,
        conditional: bool = True,
        pool_size: int = 4,
    ):
        super().__init__()
        self.in_channels = in_channels
        self.base_channels = base_channels
        self.n_strided = n_strided
        self.dropout = dropout
        self.conditional = conditional
        self.pool_size = pool_size

        def act() -> list[nn.Module]:
            return [nn.LeakyReLU(0.2, inplace=True), nn.Dropout(dropout)]

        channels = in_channels * (2 if conditional else 1)
        layers: list[nn.Module] = [nn.Conv2d(channels, base_channels, 4, stride=2, padding=1), *act()]
        width = base_channels
        for k in range(1, n_strided + 1):
            new = base_channels * 2 ** min(k, 3)
            layers += [
                nn.Conv2d(width, new, 4, stride=2, padding=1),
                nn.InstanceNorm2d(new, affine=True),
                *act(),
            ]
            width = new
        layers += [
            nn.Conv2d(width, width, 3, stride=1, padding=1),
            nn.InstanceNorm2d(width, affine=True),
            *act(),
            nn.Conv2d(width, 1, 3, stride=1, padding=1),
        ]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.fc = nn.Linear(pool_size * pool_size, 1)

    @property
    def config(self) -> dict[str, Any]:
        """The architecture as a JSON-able dict (``PatchCritic(**config)`` minus ``name``)."""
        return {
            "name": "PatchCritic",
            "in_channels": self.in_channels,
            "base_channels": self.base_channels,
            "n_strided": self.n_strided,
            "dropout": self.dropout,
            "conditional": self.conditional,
            "pool_size": self.pool_size,
        }

    @property
    def min_size(self) -> int:
        """Smallest crop side: the deepest map must keep 2 pixels for instance norm."""
        return 2 ** (self.n_strided + 2)

    def forward(self, image: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """The critic's score map of ``image`` (beside ``condition`` when conditional)."""
        if self.conditional:
            if condition is None:
                raise ValueError("this critic is conditional: pass the input image as condition")
            image = torch.cat([condition, image], dim=1)
        if min(image.shape[-2:]) < self.min_size:
            raise ValueError(f"critic crops must be at least {self.min_size} pixels on a side")
        patches = self.features(image)
        return self.fc(self.pool(patches).flatten(1)).squeeze(1)
