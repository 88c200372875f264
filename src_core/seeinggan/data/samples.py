"""Torch datasets of training samples: crops of pairs in the network's intensity space.

A sample is made from a `Pair` in four steps:

1. The intensity transform (`seeinggan.transforms.IntensityTransform`, a noise-scaled asinh) is
   fitted on the pair's **input** (the ground image on the space grid) over its valid pixels, and
   that same fitted transform is applied to the target (the space image), as the Deblurrer does
   at inference.
2. Masked pixels (NaN, not covered) are filled with the fitted sky level in both images, which
   the transform maps to 0, so the network only ever sees finite numbers.
3. A crop of ``crop_size`` is taken at a random position (or the centre); a stamp smaller than
   the crop is padded by reflection first.
4. One random flip/rotation (`seeinggan.data.augment`) is applied to input, target and mask alike.

Each sample is deterministic for ``(seed, epoch, index)``; `PairDataset.set_epoch` changes the
crops and flips from epoch to epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from seeinggan.data.augment import dihedral, random_dihedral
from seeinggan.data.pairs import Pair
from seeinggan.data.simulated import simulate_one
from seeinggan.transforms import IntensityTransform

__all__ = ["PairDataset", "PairSubset", "Sample", "SimulatedPairDataset", "train_val_split"]


@dataclass
class Sample:
    """One training sample with what made it.

    ``input`` and ``target`` are float32 tensors ``[1, H, W]`` in network units; ``mask`` is a
    bool tensor ``[1, H, W]`` (True on valid pixels); ``transform`` is the fitted transform
    (``transform.inverse`` returns flux units); ``k`` the flip/rotation index applied and
    ``window`` the crop ``(y0, x0, y1, x1)`` in the (padded) stamp.
    """

    input: torch.Tensor
    target: torch.Tensor
    mask: torch.Tensor
    transform: IntensityTransform | None
    k: int
    window: tuple[int, int, int, int]
    meta: dict[str, Any]
    extras: dict[str, torch.Tensor] | None = None
    """With ``extras=True``: ``conditions`` ``[2]`` (seeing, input pixel scale, normalised by
    `seeinggan.models.conditions`), ``psf`` ``[crop, crop]`` (the pair's ground PSF, centred at
    pixel (0, 0) and wrapped, flipped/rotated like the images; a delta when unknown) and
    ``has_psf`` (1.0 or 0.0)."""


def _resolve_transform(transform: Any) -> IntensityTransform | None:
    if transform is None or transform == "none":
        return None
    if isinstance(transform, str):
        if transform != "asinh":
            raise ValueError(
                f"unknown transform {transform!r}; use 'asinh', None, or an IntensityTransform"
            )
        return IntensityTransform()
    if isinstance(transform, IntensityTransform):
        return transform
    raise TypeError(f"transform must be 'asinh', None or an IntensityTransform, got {transform!r}")


def _pad_to(array: np.ndarray, size: int) -> np.ndarray:
    """Pad the last two axes by reflection up to at least ``size`` (repeatedly for tiny stamps)."""
    while array.shape[-2] < size or array.shape[-1] < size:
        pads = []
        for n in array.shape[-2:]:
            missing = max(0, size - n)
            # reflect can add at most n - 1 pixels per side in one go
            step = min(missing, 2 * max(n - 1, 0))
            if n == 1 and missing:
                pads.append((missing // 2, missing - missing // 2))
                continue
            pads.append((step // 2, step - step // 2))
        mode: Literal["reflect", "edge"] = "reflect" if min(array.shape[-2:]) > 1 else "edge"
        array = np.pad(array, [(0, 0)] * (array.ndim - 2) + pads, mode=mode)
    return array


def make_sample(
    pair: Pair,
    *,
    rng: np.random.Generator,
    crop_size: int | None,
    augment: bool,
    crop: str,
    transform: IntensityTransform | None,
    target: str = "space",
    jitter: tuple[float, float] = (0.0, 0.0),
    extras: bool = False,
) -> Sample:
    """Build one `Sample` from a pair (see the module docstring for the steps).

    ``target="truth"`` takes the pair's noiseless ``truth`` as the target when it has one (else
    its space image). ``jitter = (sky_sigmas, noise_fraction)`` perturbs the fitted transform's
    sky by up to that many noise units and its noise by up to that fraction (uniform), so that
    a model learns not to depend on exact sky and noise estimates.
    """
    mask = pair.mask
    if not mask.any():
        raise ValueError(f"pair {pair.name!r} has no valid pixel")
    if transform is not None:
        fitted = transform.fit(np.where(mask, pair.ground, np.nan))
        fill = np.float32(fitted.sky)
        if jitter[0] > 0 or jitter[1] > 0:
            sky = fitted.sky + float(rng.uniform(-jitter[0], jitter[0])) * fitted.noise
            noise = fitted.noise * (1.0 + float(rng.uniform(-jitter[1], jitter[1])))
            fitted = IntensityTransform(sky=sky, noise=noise, softening=fitted.softening)
    else:
        fitted = None
        fill = np.float32(np.median(pair.ground[mask]))
    wanted = pair.truth if (target == "truth" and pair.truth is not None) else pair.space
    stack = np.stack(
        [
            np.where(mask, pair.ground, fill),
            np.where(mask, wanted, fill),
            mask.astype(np.float32),
        ]
    )
    if crop_size is not None:
        stack = _pad_to(stack, crop_size)
        rows, cols = stack.shape[-2:]
        if crop == "random":
            y0 = int(rng.integers(rows - crop_size + 1))
            x0 = int(rng.integers(cols - crop_size + 1))
        else:
            y0, x0 = (rows - crop_size) // 2, (cols - crop_size) // 2
        window = (y0, x0, y0 + crop_size, x0 + crop_size)
        stack = stack[:, y0 : y0 + crop_size, x0 : x0 + crop_size]
    else:
        window = (0, 0, stack.shape[-2], stack.shape[-1])
    k = random_dihedral(rng) if augment else 0
    stack = dihedral(stack, k)
    images = stack[:2]
    if fitted is not None:
        images = fitted.forward(images)
    images = np.ascontiguousarray(images, dtype=np.float32)
    extra = _extras(pair, stack.shape[-2:], k) if extras else None
    return Sample(
        input=torch.from_numpy(images[0:1].copy()),
        target=torch.from_numpy(images[1:2].copy()),
        mask=torch.from_numpy(stack[2:3] > 0.5),
        transform=fitted,
        k=k,
        window=window,
        meta=pair.meta,
        extras=extra,
    )


def _extras(pair: Pair, shape: tuple[int, int], k: int) -> dict[str, torch.Tensor]:
    from seeinggan.models.conditions import condition_vector

    meta = pair.meta
    seeing = meta.get("seeing_fwhm")
    scale = meta.get("ground_pixel_scale")
    conditions = condition_vector(
        seeing=float(seeing) if seeing is not None else None,
        input_pixel_scale=float(scale) if scale is not None else None,
    )
    psf = np.zeros(shape, dtype=np.float32)
    has_psf = pair.psf is not None
    if has_psf:
        kernel = dihedral(np.asarray(pair.psf, dtype=np.float32)[None], k)[0]
        half_r, half_c = min(kernel.shape[0] // 2, shape[0] // 2 - 1), min(kernel.shape[1] // 2, shape[1] // 2 - 1)
        cr, cc = kernel.shape[0] // 2, kernel.shape[1] // 2
        kernel = kernel[cr - half_r : cr + half_r + 1, cc - half_c : cc + half_c + 1]
        psf[: 2 * half_r + 1, : 2 * half_c + 1] = kernel / kernel.sum()
        psf = np.roll(psf, (-half_r, -half_c), axis=(0, 1))
    else:
        psf[0, 0] = 1.0
    return {
        "seeing": torch.tensor(float(seeing) if seeing is not None and np.isfinite(float(seeing)) else 1.0),
        "conditions": torch.from_numpy(conditions),
        "psf": torch.from_numpy(psf),
        "has_psf": torch.tensor(1.0 if has_psf else 0.0),
    }


class PairDataset(Dataset):
    """Training samples ``(input, target)`` from a sequence of `Pair`.

    Parameters
    ----------
    pairs : sequence of Pair
        A list, a `seeinggan.data.PairList`, or a lazy sequence such as
        `seeinggan.data.simulated_pairs`.
    crop_size : int or None, optional
        Side of the square crops (pad by reflection when a stamp is smaller). None keeps whole
        stamps (then batch only stamps of one size, or use batch size 1).
    augment : bool, optional
        Apply a random flip/rotation (the same to input, target and mask).
    seed : int, optional
        Samples are deterministic for ``(seed, epoch, index)``.
    transform : {"asinh", None} or IntensityTransform, optional
        ``"asinh"`` fits the default `IntensityTransform` on each pair's input; an
        `IntensityTransform` is used as a template (its softening; refitted on each pair's
        input, as in ``IntensityTransform.from_dict(model_meta).fit(data)``); None keeps flux
        units.
    crop : {"random", "center"}, optional
        Where crops are taken; use "center" for validation.
    return_mask : bool, optional
        ``__getitem__`` returns ``(input, target, mask)`` instead of ``(input, target)``.
    target : {"space", "truth"}, optional
        Train towards the space image, or towards the noiseless truth where a pair has one.
    jitter : (float, float), optional
        Sky (noise units) and noise (fraction) perturbation of the fitted transform.
    extras : bool, optional
        ``__getitem__`` appends a dict of ``conditions``, ``psf``, ``has_psf`` (see `Sample`).

    Notes
    -----
    ``__getitem__`` returns float32 tensors of shape ``[1, crop, crop]``. `sample` returns the
    full `Sample`, with the fitted transform for going back to flux units.
    """

    def __init__(
        self,
        pairs: Sequence[Pair],
        *,
        crop_size: int | None = 256,
        augment: bool = True,
        seed: int = 0,
        transform: str | IntensityTransform | None = "asinh",
        crop: str = "random",
        return_mask: bool = False,
        target: str = "space",
        jitter: tuple[float, float] = (0.0, 0.0),
        extras: bool = False,
    ) -> None:
        if target not in ("space", "truth"):
            raise ValueError(f"target must be 'space' or 'truth', got {target!r}")
        self.target = target
        self.jitter = (float(jitter[0]), float(jitter[1]))
        self.extras = bool(extras)
        if crop_size is not None and int(crop_size) < 1:
            raise ValueError(f"crop_size must be positive, got {crop_size}")
        if crop not in ("random", "center"):
            raise ValueError(f"crop must be 'random' or 'center', got {crop!r}")
        self.pairs = pairs
        self.crop_size = None if crop_size is None else int(crop_size)
        self.augment = bool(augment)
        self.seed = int(seed)
        self.transform = _resolve_transform(transform)
        self.crop = crop
        self.return_mask = bool(return_mask)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.pairs)

    def set_epoch(self, epoch: int) -> None:
        """Draw other crops and flips (same pairs) for a new epoch."""
        self.epoch = int(epoch)

    def _pair(self, index: int) -> Pair:
        return self.pairs[index]

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])

    def sample(self, index: int) -> Sample:
        """The full `Sample` for ``index`` (tensors, mask, fitted transform, crop, flip)."""
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} out of range for {len(self)} samples")
        return make_sample(
            self._pair(index),
            rng=self._rng(index),
            crop_size=self.crop_size,
            augment=self.augment,
            crop=self.crop,
            transform=self.transform,
            target=self.target,
            jitter=self.jitter,
            extras=self.extras,
        )

    def __getitem__(self, index: int):
        sample = self.sample(int(index))
        items: tuple[Any, ...] = (sample.input, sample.target)
        if self.return_mask:
            items += (sample.mask,)
        if self.extras:
            items += (sample.extras,)
        return items


class SimulatedPairDataset(PairDataset):
    """Samples from pairs simulated on the fly: training never repeats a stamp unless asked.

    Item ``index`` of epoch ``e`` is pair number ``e * epoch_size + index`` of the simulated
    stream ``seed`` (`seeinggan.data.simulated`), so every epoch brings new galaxies. With
    ``n_unique`` set, the stream wraps after that many pairs (a fixed training set, new crops
    and flips each epoch).

    Parameters
    ----------
    epoch_size : int, optional
        Length of the dataset (samples per epoch).
    n_unique : int, optional
        Number of distinct pairs to cycle through; None (default) never repeats.
    seed : int, optional
        Seed of the simulated stream and of crops and flips.
    crop_size, augment, transform, crop, return_mask
        As in `PairDataset`.
    **simulate_kwargs
        Passed to `seeinggan.simulate.simulate_pair`.
    """

    def __init__(
        self,
        *,
        epoch_size: int = 1000,
        n_unique: int | None = None,
        seed: int = 0,
        crop_size: int | None = 256,
        augment: bool = True,
        transform: str | IntensityTransform | None = "asinh",
        crop: str = "random",
        return_mask: bool = False,
        **simulate_kwargs: Any,
    ) -> None:
        if int(epoch_size) < 1:
            raise ValueError(f"epoch_size must be positive, got {epoch_size}")
        if n_unique is not None and int(n_unique) < 1:
            raise ValueError(f"n_unique must be positive or None, got {n_unique}")
        super().__init__(
            (),
            crop_size=crop_size,
            augment=augment,
            seed=seed,
            transform=transform,
            crop=crop,
            return_mask=return_mask,
        )
        self.epoch_size = int(epoch_size)
        self.n_unique = None if n_unique is None else int(n_unique)
        self.simulate_kwargs = simulate_kwargs

    def __len__(self) -> int:
        return self.epoch_size

    def stream_index(self, index: int) -> int:
        """Position in the simulated stream of item ``index`` in the current epoch."""
        position = self.epoch * self.epoch_size + int(index)
        return position % self.n_unique if self.n_unique is not None else position

    def _pair(self, index: int) -> Pair:
        return simulate_one(self.seed, self.stream_index(index), self.simulate_kwargs)


class PairSubset(Sequence):
    """A view of some items of a pair sequence (keeps lazy sequences lazy)."""

    def __init__(self, pairs: Sequence[Pair], indices: Sequence[int]):
        self.pairs = pairs
        self.indices = [int(i) for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self.pairs[self.indices[index]]


def train_val_split(
    pairs: Sequence[Pair], *, val_fraction: float, seed: int = 0
) -> tuple[PairSubset, PairSubset]:
    """Split pairs at random into a training and a validation part.

    Parameters
    ----------
    pairs : sequence of Pair
        Any indexable sequence (lazy ones stay lazy).
    val_fraction : float
        Fraction in ``[0, 1)`` for validation; rounded, and at least one pair when the
        fraction is positive and there are two pairs or more.
    seed : int, optional
        The split is deterministic for a seed.

    Returns
    -------
    train, val : PairSubset
        Disjoint; together they hold every pair once. Each keeps the original order.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n = len(pairs)
    n_val = int(round(val_fraction * n))
    if val_fraction > 0 and n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    val = sorted(order[:n_val].tolist())
    train = sorted(order[n_val:].tolist())
    return PairSubset(pairs, train), PairSubset(pairs, val)
