"""VGG-19 convolutional features for the perceptual loss (paper 2.5), defined here, no torchvision.

The weights are ImageNet weights the user already has on disk, in torchvision's layout (keys
``features.N.weight`` / ``features.N.bias``, as in ``vgg19-dcbb9e9d.pth``), as ``.safetensors`` or
``.pth``. A ``.pth`` is read with ``torch.load(..., weights_only=True)``, which refuses arbitrary
pickled objects. Nothing is ever downloaded.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

__all__ = ["VGG19_LAYERS", "VGG19Features", "load_vgg19_state_dict"]

# torchvision's VGG-19 "E" configuration: conv widths, "M" = 2x2 max pooling.
_CONFIG: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
           512, 512, 512, 512, "M"]


def _layer_indices() -> dict[str, int]:
    """Map ``convB_L`` to the index, in ``features``, of the ReLU that follows that conv."""
    names = {}
    block, conv, index = 1, 0, 0
    for item in _CONFIG:
        if item == "M":
            block, conv = block + 1, 0
            index += 1
        else:
            conv += 1
            names[f"conv{block}_{conv}"] = index + 1  # the ReLU after the conv
            index += 2
    return names


VGG19_LAYERS: dict[str, int] = _layer_indices()
"""Layer name (``conv3_1``...) -> index of its ReLU in torchvision's ``features``."""

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def load_vgg19_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read VGG-19 weights from a ``.safetensors`` or ``.pth`` file (no arbitrary unpickling).

    Raises
    ------
    ValueError
        Naming the file, when it is missing, unreadable or holds no ``features.N`` tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: VGG-19 weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(
            f"{path}: not a VGG-19 weights file readable as safetensors or a weights-only "
            f"torch file ({type(error).__name__}: {str(error).splitlines()[0][:200]})"
        ) from error
    if not isinstance(state, dict) or not any(
        isinstance(k, str) and k.startswith("features.") for k in state
    ):
        raise ValueError(f"{path}: no 'features.N.weight' tensors (torchvision VGG-19 layout)")
    return state


class VGG19Features(nn.Module):
    """Frozen VGG-19 feature extractor up to (and including the ReLU of) one conv layer.

    ``conv3_1`` means the activation after VGG-19's conv3_1 and its ReLU, as Keras's
    ``block3_conv1`` (the paper's Keras model) returns it.

    Input is one-channel astronomical images in the network's intensity space, ``[B, 1, H, W]``;
    they are repeated to 3 channels and ImageNet-normalised (``(x - mean) / std``) as if they were
    intensities in [0, 1].

    Parameters
    ----------
    weights_path : str or Path
        ImageNet VGG-19 weights in torchvision's layout (``.safetensors`` or ``.pth``).
    layer : str
        ``convB_L`` name of the feature layer, e.g. ``conv3_1`` (the paper's choice).
    """

    mean: torch.Tensor  # ImageNet normalisation buffers, [1, 3, 1, 1]
    std: torch.Tensor

    def __init__(self, weights_path: str | Path, *, layer: str = "conv3_1"):
        super().__init__()
        if layer not in VGG19_LAYERS:
            raise ValueError(f"unknown VGG-19 layer {layer!r}; choose from {', '.join(VGG19_LAYERS)}")
        self.layer = layer
        last = VGG19_LAYERS[layer]
        layers: list[nn.Module] = []
        channels = 3
        for item in _CONFIG:
            if len(layers) > last:
                break
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU(inplace=False)]
                channels = int(item)
        self.features = nn.Sequential(*layers[: last + 1])
        self.out_channels = channels

        path = Path(weights_path)
        state = load_vgg19_state_dict(path)
        wanted = {f"features.{k}": v for k, v in self.features.state_dict().items()}
        missing = [key for key in wanted if key not in state]
        if missing:
            raise ValueError(f"{path}: VGG-19 weights lack {', '.join(missing[:4])}")
        for key, tensor in wanted.items():
            if tuple(state[key].shape) != tuple(tensor.shape):
                raise ValueError(
                    f"{path}: {key} has shape {tuple(state[key].shape)}, VGG-19 needs {tuple(tensor.shape)}"
                )
        self.features.load_state_dict(
            {key.removeprefix("features."): state[key].float() for key in wanted}
        )
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG19Features:
        """Stay in eval mode whatever ``mode`` (the network is frozen)."""
        # Frozen: stays in eval mode whatever its parent does.
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The features of ``x`` ([batch, 1 or 3, H, W]; one channel is repeated to three)."""
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"expected [batch, 1 or 3, H, W], got {tuple(x.shape)}")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.features((x - self.mean) / self.std)
