"""Training and validation datasets as a `TrainConfig` describes them (used by ``seeinggan train``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from seeinggan.train.config import TrainConfig

__all__ = ["datasets_from_config", "simulate_in_memory"]


def _transform(config: TrainConfig) -> Any:
    if config.softening > 0:
        from seeinggan.transforms import IntensityTransform

        return IntensityTransform.from_dict({"softening": config.softening})
    return "asinh"


def _simulate_one(args: tuple[int, int, dict[str, Any]]):
    from seeinggan.data.simulated import simulate_one

    seed, index, kwargs = args
    if kwargs.get("prior") == "fidelity_v1":
        from seeinggan.train.prior import simulate_training_pair

        return simulate_training_pair(seed, index, {"seeing_fwhm": kwargs["seeing_fwhm"]})
    if kwargs.get("prior") == "broad":
        # the suites' prior draws its own seeing (0.4-1.6"): the config's range does not apply
        return simulate_one(seed, index, {"prior": "broad"})
    return simulate_one(seed, index, kwargs)


def simulate_in_memory(
    n: int,
    *,
    seed: int,
    workers: int = 0,
    progress: Callable[[int, int], None] | None = None,
    **simulate_kwargs: Any,
):
    """Simulate ``n`` pairs of the stream ``seed`` into a list (in ``workers`` processes).

    Simulating costs ~0.1 s a pair on one core; a training step on a GPU costs milliseconds, so
    a fixed set is simulated once and then cropped and flipped anew every epoch.
    """
    from seeinggan.data import PairList

    jobs = [(seed, index, simulate_kwargs) for index in range(n)]
    pairs = []
    if workers > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for pair in pool.imap(_simulate_one, jobs, chunksize=8):
                pairs.append(pair)
                if progress is not None:
                    progress(len(pairs), n)
    else:
        for job in jobs:
            pairs.append(_simulate_one(job))
            if progress is not None:
                progress(len(pairs), n)
    return PairList(pairs, summary={"source": "simulated", "n_pairs": n, "seed": seed})


def datasets_from_config(
    config: TrainConfig,
    *,
    pairs_dir: str | Path | None = None,
    simulate: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    transform: Any = None,
):
    """``(train, val)`` datasets of ``(input, target)`` crops in network units.

    Parameters
    ----------
    config : TrainConfig
        Crop size, seeds, seeing range, validation sizes, intensity transform softening.
    pairs_dir : path, optional
        A folder of ``ground/`` and ``space/`` FITS pairs; ``val_fraction`` of them is held out.
    simulate : int, optional
        Simulated training pairs (overrides ``config.simulate_pairs``): N > 0 simulates N pairs
        once (in ``num_workers`` processes) and crops them anew each epoch; 0 draws a fresh pair
        for every sample. Validation pairs are simulated from ``val_seed`` (disjoint stream).
    transform : IntensityTransform, optional
        The template of every sample's intensity transform; by default one with
        ``config.softening``. A fine-tune passes its start model's
        (`seeinggan.train.finetune.intensity_template`).
    """
    from seeinggan.data import (
        PairDataset,
        SimulatedPairDataset,
        folder_pairs,
        train_val_split,
    )

    transform = transform if transform is not None else _transform(config)
    crop = config.crop_size
    extras = bool(config.n_conditions or config.consistency or config.band or config.lowband or config.power)
    options: dict[str, Any] = {"target": config.target, "extras": extras}
    train_options = {**options, "jitter": (config.sky_jitter, config.noise_jitter)}
    if pairs_dir is not None:
        pairs = folder_pairs(pairs_dir, progress=progress)
        train, val = train_val_split(pairs, val_fraction=config.val_fraction, seed=config.seed)
        train_set = PairDataset(train, crop_size=crop, augment=True, seed=config.seed, transform=transform,
                                **train_options)
        held_out = PairDataset(val, crop_size=crop, augment=False, crop="center", transform=transform, **options)
        return train_set, (held_out if len(val) else None)

    n = config.simulate_pairs if simulate is None else int(simulate)
    if n < 0:
        raise ValueError(f"the number of simulated pairs must be >= 0, got {n}")
    kwargs: dict[str, Any] = {"seeing_fwhm": tuple(config.seeing_fwhm)}
    if config.prior != "default":
        kwargs["prior"] = config.prior
    if n > 0:
        pairs = simulate_in_memory(
            n, seed=config.simulate_seed, workers=config.num_workers, progress=progress, **kwargs
        )
        train_set = PairDataset(pairs, crop_size=crop, augment=True, seed=config.seed, transform=transform,
                                **train_options)
    else:
        if config.prior != "default":
            raise ValueError(f"prior = {config.prior!r} needs simulate_pairs > 0 (a simulated set held in memory)")
        train_set = SimulatedPairDataset(
            epoch_size=max(1000, config.batch_size), seed=config.simulate_seed, crop_size=crop,
            augment=True, transform=transform, **kwargs,
        )
    val_set: PairDataset | None = None
    if config.val_pairs > 0:
        val_pairs = simulate_in_memory(config.val_pairs, seed=config.val_seed, workers=config.num_workers, **kwargs)
        val_set = PairDataset(val_pairs, crop_size=crop, augment=False, crop="center", transform=transform,
                              **options)
    return train_set, val_set
