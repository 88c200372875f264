"""The SeeingGAN generator: a U-Net of strided convolutions, ResNet blocks and ICNR sub-pixel ups.

Section 2.7 of the paper (Fig. 1 and 2): 4 strided convolution blocks (convolution + ReLU),
4 modified ResNet blocks (conv, ReLU, conv, + skip), 4 sub-pixel upsampling blocks initialised
with ICNR (section 2.4), U-Net skips between symmetric blocks and no batch normalisation (2.6).

Choices the paper leaves open, documented here:

- 3x3 kernels everywhere, ``reflect`` padding. With reflect padding and ICNR a constant image
  maps to an exactly constant image (no checkerboard, no border ramp), which the tests check.
- Skips concatenate (pix2pix): the output of down block ``k`` joins the input of the up block that
  restores its resolution; the deepest down block reaches the first up block through the
  ResNet blocks' own skips, and the network input joins the final convolution.
- ``residual=True`` (the default) adds the input to the output: the network learns a correction
  to the seeing-blurred image (already resampled onto the output grid), and its final
  convolution starts at zero so an untrained generator is the identity, i.e. the plain
  resampled ground image, the baseline every trained model must beat.

Options added for the fidelity model (issue 9), all off by default so older model files load
and behave as before:

- ``antialias=True``: each down block low-passes before it subsamples (a fixed binomial
  ``[1, 2, 1]`` blur with stride 2, then a 3x3 convolution at the low resolution; Zhang 2019,
  "Making convolutional networks shift-invariant again"), so the encoder does not alias.
- ``upsample="resize"``: each up block is a bilinear x2 resize followed by a 3x3 convolution
  (Odena et al. 2016, "Deconvolution and checkerboard artifacts") instead of a sub-pixel
  convolution, whose four independent sub-kernels can print a period-2**n_down lattice.
- ``n_conditions=N``: N numbers per image (the seeing FWHM and the input pixel scale, normalised
  by `seeinggan.models.conditions`) enter as constant input channels of the first block and of
  the final convolution.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["UNetGenerator", "ResBlock", "DownBlock", "BlurDownBlock", "SubPixelUp", "ResizeUp", "BinomialBlur", "icnr_"]


def icnr_(weight: torch.Tensor, *, scale: int = 2, init=nn.init.kaiming_normal_) -> torch.Tensor:
    """Initialise a sub-pixel convolution weight as a convolution followed by a NN resize.

    Aitken et al. (2017): draw a kernel for the ``out / scale**2`` final channels and repeat it
    for the ``scale**2`` sub-pixel positions of each, so that `torch.nn.PixelShuffle` places the
    same value at every sub-pixel position: the layer starts as nearest-neighbour upsampling.

    Parameters
    ----------
    weight : torch.Tensor
        Convolution weight ``[out, in, k, k]`` with ``out`` divisible by ``scale**2``; filled in place.
    scale : int
        Upsampling factor of the following pixel shuffle.
    init : callable
        Initialiser for the sub-kernel.
    """
    out_channels = weight.shape[0]
    factor = scale**2
    if out_channels % factor:
        raise ValueError(f"ICNR needs output channels divisible by {factor}, got {out_channels}")
    sub = torch.empty(out_channels // factor, *weight.shape[1:], dtype=weight.dtype)
    init(sub)
    # PixelShuffle reads channel c * factor + position, so repeat each sub-kernel in place.
    with torch.no_grad():
        weight.copy_(sub.repeat_interleave(factor, dim=0))
    return weight


def _conv3x3(in_channels: int, out_channels: int, *, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(
        in_channels, out_channels, 3, stride=stride, padding=1, padding_mode="reflect"
    )


class DownBlock(nn.Module):
    """Strided 3x3 convolution (halves each side) followed by ReLU (Fig. 2b)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = _conv3x3(in_channels, out_channels, stride=2)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Strided convolution, then the activation."""
        return self.act(self.conv(x))


class BinomialBlur(nn.Conv2d):
    """Fixed depthwise ``[1, 2, 1] x [1, 2, 1] / 16`` blur with stride 2: an anti-aliasing low-pass before subsampling.

    A (frozen) `torch.nn.Conv2d`, so receptive-field walkers see it.
    """

    def __init__(self, channels: int, *, stride: int = 2):
        super().__init__(channels, channels, 3, stride=stride, padding=1, padding_mode="reflect",
                         groups=channels, bias=False)
        taps = torch.tensor([1.0, 2.0, 1.0])
        kernel = (taps[:, None] * taps[None, :]) / 16.0
        with torch.no_grad():
            self.weight.copy_(kernel.expand(channels, 1, 3, 3))
        self.weight.requires_grad_(False)


class BlurDownBlock(nn.Module):
    """Anti-aliased down block: binomial blur + subsample, then 3x3 convolution + ReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.blur = BinomialBlur(in_channels)
        self.conv = _conv3x3(in_channels, out_channels)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Anti-aliasing blur, strided convolution, then the activation."""
        return self.act(self.conv(self.blur(x)))


class ResizeUp(nn.Module):
    """Lattice-free up block: bilinear x2 resize, then 3x3 convolution + ReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.resize = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.conv = _conv3x3(in_channels, out_channels)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Resize up, convolution, then the activation."""
        return self.act(self.conv(self.resize(x)))


class ResBlock(nn.Module):
    """Modified ResNet block (Fig. 2a): conv, ReLU, conv, plus the block's input; no norm."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = _conv3x3(channels, channels)
        self.act = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` plus the residual of two convolutions."""
        return x + self.conv2(self.act(self.conv1(x)))


class SubPixelUp(nn.Module):
    """Sub-pixel upsampling (Fig. 2c): conv to 4x channels, PixelShuffle(2), ReLU; ICNR init."""

    def __init__(self, in_channels: int, out_channels: int, *, icnr: bool = True):
        super().__init__()
        self.conv = _conv3x3(in_channels, out_channels * 4)
        self.shuffle = nn.PixelShuffle(2)
        self.act = nn.ReLU(inplace=True)
        if icnr:
            icnr_(self.conv.weight, scale=2)
            # The bias must repeat too, or the four sub-pixels start at different offsets.
            with torch.no_grad():
                assert self.conv.bias is not None
                bias = self.conv.bias.view(out_channels, 4)
                bias.copy_(bias[:, :1].expand(-1, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolution, pixel shuffle, then the activation."""
        return self.act(self.shuffle(self.conv(x)))


class UNetGenerator(nn.Module):
    """SeeingGAN generator (paper section 2.7): image in, same-shaped image out.

    The input is the seeing-blurred ground image already resampled onto the output (space)
    pixel grid and put through the intensity transform; the output is in the same intensity
    space. Each side of the input must be a multiple of ``2**n_down`` and at least twice that
    (the deepest feature map needs two pixels for reflect padding): 32, 48, 64, ... for
    ``n_down=4``.

    Parameters
    ----------
    in_channels, out_channels : int
        Image channels (1 for a single band).
    base_channels : int
        Width of the first block; the down blocks use ``base * 2**k`` capped at ``8 * base``.
        64 is the paper's width (about 28 M parameters); the shipped model is narrower.
    n_down : int
        Number of strided down blocks, and of sub-pixel up blocks.
    n_res : int
        Number of ResNet blocks at the bottleneck.
    residual : bool
        Add the input to the output (``out_channels == in_channels`` required).
    icnr : bool
        ICNR initialisation of the up blocks (disable only to demonstrate the checkerboard).
    antialias : bool
        Blur before subsampling in the down blocks (`BlurDownBlock`).
    upsample : {"subpixel", "resize"}
        Up blocks: the paper's sub-pixel convolution or bilinear resize + convolution.
    n_conditions : int
        Numbers per image given to ``forward(x, conditions)`` as constant channels.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        base_channels: int = 64,
        n_down: int = 4,
        n_res: int = 4,
        residual: bool = True,
        icnr: bool = True,
        antialias: bool = False,
        upsample: str = "subpixel",
        n_conditions: int = 0,
    ):
        super().__init__()
        if min(in_channels, out_channels, base_channels, n_down) < 1 or n_res < 0:
            raise ValueError("channels, base_channels and n_down must be >= 1, n_res >= 0")
        if residual and in_channels != out_channels:
            raise ValueError("residual=True needs in_channels == out_channels")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.base_channels = base_channels
        self.n_down = n_down
        self.n_res = n_res
        self.residual = residual
        if upsample not in ("subpixel", "resize"):
            raise ValueError(f"upsample must be 'subpixel' or 'resize', got {upsample!r}")
        if n_conditions < 0:
            raise ValueError(f"n_conditions must be >= 0, got {n_conditions}")
        self.antialias = bool(antialias)
        self.upsample = upsample
        self.n_conditions = int(n_conditions)

        widths = [base_channels * 2 ** min(k, 3) for k in range(n_down)]
        self.down = nn.ModuleList()
        previous = in_channels + self.n_conditions
        for width in widths:
            self.down.append(BlurDownBlock(previous, width) if antialias else DownBlock(previous, width))
            previous = width
        self.res = nn.Sequential(*(ResBlock(widths[-1]) for _ in range(n_res)))
        self.up = nn.ModuleList()
        for k in range(n_down):
            # up k restores the resolution of down block (n_down - 2 - k); the last one the input's.
            target = n_down - 2 - k
            out_width = widths[target] if target >= 0 else widths[0]
            in_width = widths[-1] if k == 0 else 2 * widths[n_down - 1 - k]
            if upsample == "resize":
                self.up.append(ResizeUp(in_width, out_width))
            else:
                self.up.append(SubPixelUp(in_width, out_width, icnr=icnr))
        self.head = _conv3x3(widths[0] + in_channels + self.n_conditions, out_channels)
        if residual:
            nn.init.zeros_(self.head.weight)
            assert self.head.bias is not None
            nn.init.zeros_(self.head.bias)

    @property
    def config(self) -> dict[str, Any]:
        """The architecture as a JSON-able dict; ``UNetGenerator.from_config`` rebuilds it."""
        return {
            "name": "UNetGenerator",
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "base_channels": self.base_channels,
            "n_down": self.n_down,
            "n_res": self.n_res,
            "residual": self.residual,
            **({"antialias": True} if self.antialias else {}),
            **({"upsample": self.upsample} if self.upsample != "subpixel" else {}),
            **({"n_conditions": self.n_conditions} if self.n_conditions else {}),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> UNetGenerator:
        """Build an (untrained) generator from `config` (as written by ``.config``)."""
        config = dict(config)
        name = config.pop("name", "UNetGenerator")
        if name != "UNetGenerator":
            raise ValueError(f"unknown generator architecture {name!r}")
        known = {"in_channels", "out_channels", "base_channels", "n_down", "n_res", "residual",
                 "antialias", "upsample", "n_conditions"}
        unknown = set(config) - known
        if unknown:
            raise ValueError(f"unknown generator settings: {', '.join(sorted(unknown))}")
        return cls(**config)

    @property
    def multiple(self) -> int:
        """Each input side must be a multiple of this (and at least twice it)."""
        return 2**self.n_down

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ValueError with the reason if `x` cannot go through the network."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"expected a [batch, {self.in_channels}, height, width] tensor, got {tuple(x.shape)}"
            )
        height, width = x.shape[-2:]
        m = self.multiple
        if height % m or width % m or min(height, width) < 2 * m:
            raise ValueError(
                f"image sides must be multiples of {m} and at least {2 * m}, got {height}x{width}"
            )

    def forward(self, x: torch.Tensor, conditions: torch.Tensor | None = None) -> torch.Tensor:
        """Map ``x`` ``[B, C, H, W]`` (network units) to the restored image.

        `conditions` ``[B, n_conditions]`` (see `seeinggan.models.conditions`) is required when
        the network was built with ``n_conditions > 0`` and must be None otherwise.
        """
        self.check_input(x)
        image = x
        if self.n_conditions:
            if conditions is None or tuple(conditions.shape) != (x.shape[0], self.n_conditions):
                got = None if conditions is None else tuple(conditions.shape)
                raise ValueError(
                    f"this generator needs conditions of shape [{x.shape[0]}, {self.n_conditions}], got {got}"
                )
            planes = conditions.to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[-2:])
            x = torch.cat([x, planes], dim=1)
        elif conditions is not None:
            raise ValueError("this generator takes no conditions (n_conditions = 0)")
        skips = []
        h = x
        for block in self.down:
            h = block(h)
            skips.append(h)
        h = self.res(h)
        for k, block in enumerate(self.up):
            if k > 0:
                h = torch.cat([h, skips[self.n_down - 1 - k]], dim=1)
            h = block(h)
        out = self.head(torch.cat([h, x], dim=1))
        return image + out if self.residual else out
