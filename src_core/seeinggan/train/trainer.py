"""The SeeingGAN trainer: a conditional WGAN-GP with a configurable generator objective.

One generator step (paper 2.1, 2.5, with the gradient penalty of Gulrajani et al. 2017):

1. ``critic_steps`` critic updates on the batch: ``D(G(x), x) - D(y, x) + gp_weight * GP``;
2. one generator update on ``l1 * |G(x) - y| + structural * (1 - CW-SSIM) + perceptual * VGG
   + adversarial * -D(G(x), x)`` (terms with weight 0 are skipped; the adversarial term and the
   critic start after ``adversarial_after`` steps).

The samples of step ``s`` are fixed by ``(seed, s)``: the order is a per-epoch permutation drawn
from ``(seed, epoch)``, and the dataset is told the epoch (``set_epoch``) so its crops and flips
are fixed too. With every random state in the checkpoint, a resumed run repeats the steps of an
uninterrupted one exactly (on the same device and threads).
"""

from __future__ import annotations

import contextlib
import json
import math
import platform
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from seeinggan.devices import resolve_device
from seeinggan.losses import GeneratorObjective, gradient_penalty, wasserstein_critic_loss
from seeinggan.models import PatchCritic, UNetGenerator, load_model, save_model
from seeinggan.train.callbacks import (
    Callback,
    CheckpointUpdate,
    PreviewUpdate,
    StepUpdate,
    Update,
    ValidationUpdate,
)
from seeinggan.train.checkpoints import (
    CheckpointError,
    checkpoint_path,
    load_checkpoint,
    prune_checkpoints,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from seeinggan.train.config import TrainConfig
from seeinggan.train.distributed import Context, average_gradients

__all__ = ["Trainer", "TrainResult", "resolve_device", "seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed torch, numpy's global generator and python's `random`."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


@dataclass(frozen=True)
class TrainResult:
    """What `Trainer.run` returns."""

    step: int
    stopped: bool
    """True when a stop request ended the run before ``config.steps``."""
    checkpoint: Path | None
    best_cw_ssim: float | None
    best_step: int | None
    elapsed: float
    """Seconds of training, over all resumed sessions."""


class PairItems(Protocol):
    """A map-style dataset of ``(input, target[, extras])`` items with a length (a torch Dataset)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...


class _PairSamples(PairItems, Protocol):
    """A `PairItems` that also gives each item with its transform and mask (`seeinggan.data.PairDataset`)."""

    def sample(self, index: int) -> Any: ...


class _EpochIndexed(Dataset):
    """Items addressed by ``(epoch, index)``.

    The dataset learns the epoch before each item, also inside DataLoader worker processes.
    """

    def __init__(self, dataset: PairItems):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> tuple[Any, ...]:
        epoch, index = key
        if hasattr(self.dataset, "set_epoch") and getattr(self.dataset, "epoch", None) != epoch:
            self.dataset.set_epoch(epoch)
        item = self.dataset[index]
        if isinstance(item[-1], dict):
            return item[0], item[1], item[-1]
        return item[0], item[1]


class _Batches:
    """Batches of ``(epoch, index)`` for steps ``start..stop``: a permutation per epoch."""

    def __init__(self, n: int, *, batch_size: int, seed: int, start: int, stop: int, rank: int = 0, world: int = 1):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.start, self.stop = start, stop
        self.rank, self.world = rank, world  # a process of a multi-process run keeps its share
        self._perm: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return max(self.stop - self.start, 0)

    def _order(self, epoch: int) -> np.ndarray:
        if self._perm is None or self._perm[0] != epoch:
            self._perm = (epoch, np.random.default_rng([self.seed, epoch]).permutation(self.n))
        return self._perm[1]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start, self.stop):
            batch = []
            for k in range(step * self.batch_size, (step + 1) * self.batch_size):
                epoch, position = divmod(k, self.n)
                batch.append((epoch, int(self._order(epoch)[position])))
            yield batch[self.rank :: self.world]


class Trainer:
    """Train (or fine-tune) a SeeingGAN generator.

    Parameters
    ----------
    config : TrainConfig
        The run's settings.
    train_pairs : torch Dataset
        Items ``(input, target)`` (extra items ignored), float tensors ``[1, H, W]`` already in
        the network's intensity space, e.g. `seeinggan.data.PairDataset`. Side a multiple of 16.
    val_pairs : torch Dataset, optional
        Same kind of items (centre crops advised) for the validation CW-SSIM and previews.
    callbacks : iterable of callable
        Each receives every `StepUpdate`, `ValidationUpdate`, `PreviewUpdate`,
        `CheckpointUpdate` (see `seeinggan.train.callbacks`). Called in the training thread.
    init_model : str or Path, optional
        Start from this model file (fine-tuning); its architecture replaces the config's.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        train_pairs: PairItems,
        val_pairs: PairItems | None = None,
        callbacks: Iterable[Callback] = (),
        init_model: str | Path | None = None,
    ):
        if len(train_pairs) == 0:
            raise ValueError("no training pairs")
        self.config = config
        self.train_pairs = train_pairs
        self.val_pairs = val_pairs if val_pairs is not None and len(val_pairs) > 0 else None
        self.callbacks: list[Callback] = list(callbacks)
        self.device = resolve_device(config.device)
        # torchrun: one process of several (seeinggan.train.distributed); else a plain single process
        self.dist = Context.from_env(self.device)
        self.device = self.dist.device(self.device)
        if config.batch_size % self.dist.world:
            raise ValueError(
                f"batch_size {config.batch_size} (the global batch) must be a multiple of the "
                f"{self.dist.world} processes"
            )
        if config.threads:
            torch.set_num_threads(config.threads)
        seed_everything(config.seed)

        self.init_model = None if init_model is None else str(init_model)
        self.init_metadata: dict[str, Any] = {}
        if init_model is not None:
            from seeinggan.models.io import resolve_model

            self.generator, self.init_metadata = load_model(resolve_model(init_model))
        else:
            self.generator = UNetGenerator(
                base_channels=config.base_channels,
                n_down=config.n_down,
                n_res=config.n_res,
                residual=config.residual,
                antialias=config.antialias,
                upsample=config.upsample,
                n_conditions=config.n_conditions,
            )
        if getattr(self.generator, "n_conditions", 0):
            # A conditioned generator (e.g. fine-tuning the shipped model): datasets that can give
            # each sample's seeing and pixel scale are asked to (pairs without them get the
            # defaults of seeinggan.models.conditions).
            for dataset in (train_pairs, val_pairs):
                if dataset is not None and hasattr(dataset, "extras") and not dataset.extras:
                    dataset.extras = True
        self.objective = GeneratorObjective(
            {"l1": config.l1, "structural": config.structural, "perceptual": config.perceptual,
             "adversarial": config.adversarial, "consistency": config.consistency, "band": config.band,
             "lowband": config.lowband, "power": config.power},
            vgg19_weights=config.vgg19_weights or None,
            vgg19_layer=config.vgg19_layer,
            structural_levels=config.structural_levels,
            softening=config.softening or 3.0,
        )
        self.critic = None
        if self.objective.uses_critic:
            self.critic = PatchCritic(
                base_channels=config.critic_base_channels, dropout=config.critic_dropout, conditional=True
            )
        # channels_last: ~1.7x faster convolutions on CPU (oneDNN) and tensor cores on GPU.
        # (torch's stubs lack Module.to's memory_format keyword, which torch takes)
        self.generator.to(self.device, memory_format=torch.channels_last).train()  # type: ignore[call-overload]
        self._train_generator = self.dist.wrap(self.generator, self.device)  # DDP when multi-process
        self.objective.to(self.device)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr_g, betas=config.betas)
        self.opt_c = None
        if self.critic is not None:
            self.critic.to(self.device).train()
            self.opt_c = torch.optim.Adam(self.critic.parameters(), lr=config.lr_c, betas=config.betas)
        self.step = 0
        self.elapsed = 0.0
        self.best_cw_ssim: float | None = None
        self.best_step: int | None = None
        self.last_validation: ValidationUpdate | None = None
        self._val_flux: bool | None = None
        self.output_dir = Path(config.output_dir)
        self.use_amp = bool(config.amp and self.device.type == "cuda")

    # --- state -----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything a checkpoint holds."""
        return {
            "step": self.step,
            "elapsed": self.elapsed,
            "config": self.config.to_dict(),
            "architecture": self.generator.config,
            "init_model": self.init_model or "",
            "generator": self.generator.state_dict(),
            "critic": self.critic.state_dict() if self.critic is not None else {},
            "opt_g": self.opt_g.state_dict(),
            "opt_c": self.opt_c.state_dict() if self.opt_c is not None else {},
            "rng": rng_state(),
            "best_cw_ssim": self.best_cw_ssim if self.best_cw_ssim is not None else float("nan"),
            "best_step": self.best_step if self.best_step is not None else -1,
        }

    def save_checkpoint(self, path: str | Path | None = None, *, reason: str = "periodic") -> Path:
        """Write a checkpoint (default ``output_dir/checkpoints/step_N.ckpt``), atomically.

        In a multi-process run only rank 0 writes; the others return the same path.
        """
        path = Path(path) if path is not None else checkpoint_path(self.output_dir, self.step)
        if not self.dist.is_main:
            return path
        save_checkpoint(path, self.state())
        if path.parent == checkpoint_path(self.output_dir, 0).parent:
            prune_checkpoints(self.output_dir, keep=self.config.keep_checkpoints)
        self._emit(CheckpointUpdate(self.step, path, reason))
        return path

    def load_checkpoint(self, path: str | Path) -> None:
        """Continue from a checkpoint (file, or run folder for its latest).

        Networks, optimisers, step, elapsed time and random states. The config's ``steps`` may be
        raised to train on.
        """
        document = load_checkpoint(path)
        where = document["path"]
        if document["architecture"] != self.generator.config:
            raise CheckpointError(
                f"{where}: generator {document['architecture']} differs from this run's {self.generator.config}"
            )
        if bool(document["critic"]) != (self.critic is not None):
            raise CheckpointError(f"{where}: the checkpoint and this run disagree on using a critic")
        try:
            self.generator.load_state_dict(document["generator"])
            self.opt_g.load_state_dict(document["opt_g"])
            if self.critic is not None and self.opt_c is not None:
                self.critic.load_state_dict(document["critic"])
                self.opt_c.load_state_dict(document["opt_c"])
        except (RuntimeError, ValueError, KeyError) as error:
            raise CheckpointError(f"{where}: does not fit this run ({error})") from error
        self.step = int(document["step"])
        self.elapsed = float(document["elapsed"])
        best = float(document["best_cw_ssim"])
        self.best_cw_ssim = None if math.isnan(best) else best
        self.best_step = None if document["best_step"] < 0 else int(document["best_step"])
        set_rng_state(document["rng"])

    # --- training ----------------------------------------------------------------------------

    def _emit(self, update: Update) -> None:
        if not self.dist.is_main:  # one report per multi-process run
            return
        for callback in self.callbacks:
            callback(update)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.use_amp:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _learning_rate(self, base: float, step: int) -> float:
        if self.config.lr_decay == "cosine" and self.config.steps > 0:
            progress = min(step / self.config.steps, 1.0)
            return base * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))
        return base

    def _loader(self, start: int) -> DataLoader:
        batches = _Batches(
            len(self.train_pairs),
            batch_size=self.config.batch_size,
            seed=self.config.seed,
            start=start,
            stop=self.config.steps,
            rank=self.dist.rank,
            world=self.dist.world,
        )
        workers = self.config.num_workers
        return DataLoader(
            _EpochIndexed(self.train_pairs),
            batch_sampler=batches,
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
            # its own generator: making the iterator must not draw from the global torch RNG
            generator=torch.Generator().manual_seed(self.config.seed),
            worker_init_fn=_seed_worker if workers else None,
        )

    def _generate(
        self, x: torch.Tensor, extras: dict[str, torch.Tensor] | None, *, network: torch.nn.Module | None = None
    ) -> torch.Tensor:
        """The generator's output for `x`, told each sample's conditions when it takes them.

        ``network`` runs the generator through a wrapper (DistributedDataParallel when training
        on several processes).
        """
        network = self.generator if network is None else network
        if getattr(self.generator, "n_conditions", 0):
            if extras is None or "conditions" not in extras:
                from seeinggan.models.conditions import condition_vector

                default = torch.from_numpy(condition_vector(seeing=None, input_pixel_scale=None)).to(x.device)
                return network(x, default.expand(x.shape[0], -1))
            return network(x, extras["conditions"].to(x.device).float())
        return network(x)

    def train_step(
        self, x: torch.Tensor, y: torch.Tensor, extras: dict[str, torch.Tensor] | None = None
    ) -> dict[str, float]:
        """One generator step (after its critic steps) on a batch; returns the losses.

        The schedule (`_schedule`: learning rates, whether the critic plays), the critic loop
        (`_critic_steps`) and the generator's update (`_generator_step`), in that order.
        """
        adversarial = self._schedule(self.step)
        losses = self._critic_steps(x, y, extras) if adversarial else {}
        losses.update(self._generator_step(x, y, extras, adversarial=adversarial))
        return self.dist.mean(losses)

    def _schedule(self, step: int) -> bool:
        """Set the optimisers' learning rates for ``step``; True when the critic plays in it."""
        cfg = self.config
        adversarial = self.critic is not None and step >= cfg.adversarial_after
        for group in self.opt_g.param_groups:
            group["lr"] = self._learning_rate(cfg.lr_g, step)
        if adversarial and self.opt_c is not None:
            for group in self.opt_c.param_groups:
                group["lr"] = self._learning_rate(cfg.lr_c, step)
        return adversarial

    def _critic_steps(
        self, x: torch.Tensor, y: torch.Tensor, extras: dict[str, torch.Tensor] | None
    ) -> dict[str, float]:
        """``critic_steps`` Wasserstein-GP updates of the critic on one batch; its last losses."""
        critic, opt_c = self.critic, self.opt_c
        if critic is None or opt_c is None:
            raise RuntimeError("this run has no critic")
        cfg = self.config
        critic.requires_grad_(True)
        with torch.no_grad(), self._autocast():
            fake = self._generate(x, extras).float()
        last: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        for _ in range(cfg.critic_steps):
            with self._autocast():
                real_scores = critic(y, x).float()
                fake_scores = critic(fake, x).float()
            distance = wasserstein_critic_loss(real_scores, fake_scores)
            penalty = gradient_penalty(critic, y, fake, condition=x)  # float32
            critic_loss = distance + cfg.gp_weight * penalty
            opt_c.zero_grad(set_to_none=True)
            critic_loss.backward()
            average_gradients(critic, self.dist)
            opt_c.step()
            last = (critic_loss, distance, penalty)
        critic.requires_grad_(False)  # its gradients are not needed for G's update
        if last is None:
            return {}
        critic_loss, distance, penalty = last  # read once, after the loop (one device sync)
        return {"critic": critic_loss.item(), "wasserstein": -distance.item(), "gp": penalty.item()}

    def _generator_step(
        self, x: torch.Tensor, y: torch.Tensor, extras: dict[str, torch.Tensor] | None, *, adversarial: bool
    ) -> dict[str, float]:
        """One update of the generator by the objective (with the critic's scores when it plays)."""
        critic = self.critic if adversarial else None
        with self._autocast():
            output = self._generate(x, extras, network=self._train_generator)  # DDP when multi-process
            fake_scores = critic(output, x).float() if critic is not None else None
        output = output.float()
        total, terms = self.objective(
            output, y, fake_scores=fake_scores, adversarial=adversarial, inputs=x, extras=extras,
            adversarial_scale=self.adversarial_scale(self.step),
        )
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g.step()
        losses = {"g_total": total.item()}
        losses.update({name: value.item() for name, value in terms.items()})
        return losses

    def adversarial_scale(self, step: int) -> float:
        """Fraction (0-1) of the adversarial weight at `step`.

        0 before ``adversarial_after``, then a linear ramp over ``adversarial_ramp`` steps (1 at
        once when the ramp is 0).
        """
        cfg = self.config
        if step < cfg.adversarial_after:
            return 0.0
        if cfg.adversarial_ramp <= 0:
            return 1.0
        return min(1.0, (step - cfg.adversarial_after + 1) / cfg.adversarial_ramp)

    def run(self, *, should_stop: Callable[[], bool] | None = None) -> TrainResult:
        """Train from the current step to ``config.steps``.

        `should_stop` is polled before every step; when it returns True, training stops after
        the step in progress, a checkpoint is written and the result says ``stopped`` (a
        stopped run is an ordinary outcome here, not an error: its model can be saved).
        """
        cfg = self.config
        if self.dist.is_main:  # one writer in a multi-process run
            self.output_dir.mkdir(parents=True, exist_ok=True)
            from seeinggan.io.atomic import atomic_write_text

            atomic_write_text(self.output_dir / "config.json", json.dumps(cfg.to_dict(), indent=2) + "\n",
                              overwrite=True)
        stopped = False
        session_start = time.perf_counter()
        elapsed_before = self.elapsed
        last = time.perf_counter()
        self.generator.train()
        for batch in self._loader(self.step):
            if should_stop is not None and self.dist.any(should_stop()):
                stopped = True
                break
            x = batch[0].to(self.device, non_blocking=True).float().contiguous(memory_format=torch.channels_last)
            y = batch[1].to(self.device, non_blocking=True).float().contiguous(memory_format=torch.channels_last)
            extras = {k: v.to(self.device) for k, v in batch[2].items()} if len(batch) > 2 else None
            losses = self.train_step(x, y, extras)
            self.step += 1
            now = time.perf_counter()
            self.elapsed = elapsed_before + (now - session_start)
            self._emit(StepUpdate(self.step, cfg.steps, losses, self.opt_g.param_groups[0]["lr"], now - last,
                                  self.elapsed))
            last = now
            final = self.step >= cfg.steps
            # validation, previews and checkpoints are rank 0's in a multi-process run
            if self.dist.is_main and self.val_pairs is not None and cfg.val_every and (
                self.step % cfg.val_every == 0 or final
            ):
                self.validate()
            if self.dist.is_main and cfg.preview_every and (self.step % cfg.preview_every == 0 or final):
                self._emit(self.preview(fallback=(x, y, extras)))
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0 and not final:
                self.save_checkpoint(reason="periodic")
        if should_stop is not None and not stopped and self.step < cfg.steps and self.dist.any(should_stop()):
            stopped = True
        path = self.save_checkpoint(reason="stop" if stopped else "end")
        return TrainResult(self.step, stopped, path, self.best_cw_ssim, self.best_step, self.elapsed)

    # --- validation and previews -------------------------------------------------------------

    @property
    def validation_units(self) -> str:
        """``"flux"`` when validation can score in flux units, else ``"network"``.

        Flux needs the validation set to give each sample's transform and samples large enough for
        `seeinggan.metrics.compare` (then scores are the evaluation's own).
        """
        if self.val_pairs is None or not hasattr(self.val_pairs, "sample"):
            return "network"
        if self._val_flux is None:
            from seeinggan.metrics import DEFAULT_LEVELS, DEFAULT_WINDOW, min_size_for_levels

            top = DEFAULT_LEVELS if isinstance(DEFAULT_LEVELS, int) else max(DEFAULT_LEVELS)
            side = min(self.val_pairs[0][0].shape[-2:])
            self._val_flux = side >= min_size_for_levels(top, DEFAULT_WINDOW)
        return "flux" if self._val_flux else "network"

    @torch.no_grad()
    def validate(self) -> ValidationUpdate:
        """Mean CW-SSIM (and L1 in network units) to the target of the output and of the input.

        With a `seeinggan.data.PairDataset` (which gives each sample's fitted intensity
        transform) and crops of 97 pixels or more, the images go back to flux units and are scored with
        `seeinggan.metrics.compare`, the evaluation's own normalisation; with any other dataset
        `seeinggan.metrics.cw_ssim` scores the network-unit images. Emits and returns a
        `ValidationUpdate`.
        """
        from seeinggan.metrics import compare, cw_ssim

        if self.val_pairs is None:
            raise ValueError("no validation pairs")
        flux = self.validation_units == "flux"
        self.generator.eval()
        scores, baseline, l1, n = 0.0, 0.0, 0.0, 0
        for index in range(min(len(self.val_pairs), self.config.val_samples)):
            if flux:
                sample = cast(_PairSamples, self.val_pairs).sample(index)
                x, y, extras = sample.input, sample.target, sample.extras
            else:
                item = self.val_pairs[index]
                x, y = _first_two(item)
                extras = item[-1] if isinstance(item[-1], dict) else None
            x = x[None].to(self.device).float()
            y = y[None].to(self.device).float()
            extras = None if extras is None else {k: v[None].to(self.device) for k, v in extras.items()}
            with self._autocast():
                out = self._generate(x, extras)
            out = out.float()
            l1 += (out - y).abs().mean().item()
            if flux:
                to_flux = sample.transform.inverse if sample.transform is not None else (lambda a: a)
                arrays = [to_flux(t[0, 0].cpu().numpy().astype(np.float64)) for t in (y, out, x)]
                invalid = ~sample.mask[0].cpu().numpy()
                invalid = invalid if invalid.any() else None
                scores += compare(arrays[0], arrays[1], mask=invalid)["cw_ssim"]
                baseline += compare(arrays[0], arrays[2], mask=invalid)["cw_ssim"]
            else:
                levels = self.config.structural_levels
                scores += cw_ssim(y, out, levels=levels).sum().item()
                baseline += cw_ssim(y, x, levels=levels).sum().item()
            n += 1
        self.generator.train()
        score = scores / n
        best = self.best_cw_ssim is None or score > self.best_cw_ssim
        if best:
            self.best_cw_ssim, self.best_step = score, self.step
        update = ValidationUpdate(self.step, score, baseline / n, l1 / n, n, best, self.validation_units)
        self.last_validation = update
        self._emit(update)
        return update

    @torch.no_grad()
    def preview(self, *, fallback: tuple[Any, ...] | None = None) -> PreviewUpdate:
        """Input, output and target of the first validation sample (else of `fallback`).

        ``fallback`` is a batch ``(input, target[, extras])``, used when there is no validation set.
        """
        extras = None
        source = self.val_pairs if self.val_pairs is not None else (None if fallback is not None else self.train_pairs)
        if source is not None:
            item = source[0]
            x, y = (t[None] for t in _first_two(item))
            if isinstance(item[-1], dict):
                extras = {k: v[None] for k, v in item[-1].items()}
        elif fallback is not None:
            x, y = fallback[0][:1], fallback[1][:1]
            if len(fallback) > 2 and fallback[2] is not None:
                extras = {k: v[:1] for k, v in fallback[2].items()}
        self.generator.eval()
        x = x.to(self.device).float()
        extras = None if extras is None else {k: v.to(self.device) for k, v in extras.items()}
        with self._autocast():
            out = self._generate(x, extras).float()
        self.generator.train()

        def plane(t: torch.Tensor) -> np.ndarray:
            return t[0, 0].detach().float().cpu().numpy().copy()

        return PreviewUpdate(self.step, plane(x), plane(out), plane(y.float()))

    # --- model files ---------------------------------------------------------------------------

    def model_metadata(self, *, name: str | None = None, description: str = "") -> dict[str, Any]:
        """Metadata for the generator's model file (see ``docs/architecture.md``)."""
        import seeinggan

        cfg = self.config
        space_scale, ground_scale = _pixel_scales(self.train_pairs, self.init_metadata)
        template = getattr(self.train_pairs, "transform", None)
        if template is not None and hasattr(template, "to_dict"):
            transform = {k: v for k, v in template.to_dict().items() if k in ("kind", "softening")}
        else:
            transform = dict(self.init_metadata.get("intensity_transform") or {})
        objective = self.objective.describe()
        if self.critic is not None:
            objective.update(
                critic=self.critic.config,
                gp_weight=cfg.gp_weight,
                critic_steps=cfg.critic_steps,
                adversarial_after=cfg.adversarial_after,
                adversarial_ramp=cfg.adversarial_ramp,
                lr_g=cfg.lr_g,
                lr_c=cfg.lr_c,
            )
        hardware = {
            "device": str(self.device),
            "device_name": (torch.cuda.get_device_name(self.device) if self.device.type == "cuda"
                            else platform.processor() or platform.machine()),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "amp": "bf16" if self.use_amp else "none",
        }
        training = {
            "steps": self.step,
            "seconds": round(self.elapsed, 1),
            "batch_size": cfg.batch_size,
            "crop_size": cfg.crop_size,
            "seed": cfg.seed,
            "data": _data_summary(self.train_pairs),
            "validation": None
            if self.last_validation is None
            else {
                "step": self.last_validation.step,
                "cw_ssim": self.last_validation.cw_ssim,
                "cw_ssim_input": self.last_validation.cw_ssim_input,
                "n": self.last_validation.n,
                "units": self.validation_units,
            },
            "hardware": hardware,
            "config": cfg.to_dict(),
            "init_model": self.init_model,
            "seeinggan_version": seeinggan.__version__,
        }
        document = {
            "name": name or "",
            "description": description,
            "pixel_scale_arcsec": space_scale,
            "input_pixel_scale_arcsec": ground_scale,
            "intensity_transform": transform,
            "objective": objective,
            "training": training,
            "trained_ranges": _union_of_ranges(_trained_ranges(self.train_pairs, cfg, ground_scale),
                                               self.init_metadata.get("trained_ranges")),
        }
        from seeinggan.models.io import PURPOSES

        if self.critic is not None:  # trained with a critic: texture, not photometry
            document["purpose"] = PURPOSES["adversarial"]
        elif self.init_metadata.get("purpose"):  # a fine-tune keeps its starting model's purpose
            document["purpose"] = str(self.init_metadata["purpose"])
        if getattr(self.generator, "n_conditions", 0):
            from seeinggan.models.conditions import CONDITION_NAMES

            document["conditions"] = list(CONDITION_NAMES)
        return document

    def save_model(
        self,
        path: str | Path,
        *,
        name: str | None = None,
        description: str = "",
        metadata: dict[str, Any] | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Write the generator as a model file (``NAME.safetensors`` + ``NAME.json``).

        `metadata` entries override the ones the trainer fills in. An existing model of that name
        is replaced only with `overwrite` (`seeinggan.models.io.save_model`).
        """
        document = self.model_metadata(name=name or Path(path).with_suffix("").name, description=description)
        document.update(metadata or {})
        was_training = self.generator.training
        self.generator.eval()
        try:
            return save_model(path, self.generator, metadata=document, overwrite=overwrite)
        finally:
            self.generator.train(was_training)


def _first_two(item: Sequence[Any]) -> tuple[torch.Tensor, torch.Tensor]:
    return item[0], item[1]


def _seed_worker(worker_id: int) -> None:
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def _pixel_scales(dataset: Any, init_metadata: dict[str, Any]) -> tuple[float, float]:
    """(space, ground) arcsec/px from the first pair's meta, the initial model, or the defaults."""
    from seeinggan.models.io import GROUND_PIXEL_SCALE, SPACE_PIXEL_SCALE

    space = init_metadata.get("pixel_scale_arcsec", SPACE_PIXEL_SCALE)
    ground = init_metadata.get("input_pixel_scale_arcsec", GROUND_PIXEL_SCALE)
    pairs = getattr(dataset, "pairs", None)
    if isinstance(pairs, Sequence) and len(pairs) > 0:
        meta = getattr(pairs[0], "meta", {}) or {}
        space = float(meta.get("space_pixel_scale", space))
        ground = float(meta.get("ground_pixel_scale", ground))
        step = max(1, len(pairs) // 200)
        scales = [float((getattr(pairs[i], "meta", {}) or {}).get("ground_pixel_scale", ground))
                  for i in range(0, len(pairs), step)]
        if max(scales) > 1.05 * min(scales):
            # a range of input scales (the broad prior): its geometric middle stands for them
            ground = round(math.sqrt(min(scales) * max(scales)), 4)
    else:
        kwargs = getattr(dataset, "simulate_kwargs", {}) or {}
        space = float(kwargs.get("space_pixel_scale", space))
        ground = float(kwargs.get("ground_pixel_scale", ground))
    return space, ground


def _trained_ranges(dataset: Any, config: TrainConfig, ground_scale: float) -> dict[str, Any]:
    """Seeing, input pixel scale and peak S/N ranges of the training pairs (model JSON).

    Read from the pairs' meta where they say (simulated pairs), else from the config; the peak
    S/N (brightest ground pixel over the ground noise, on the space grid) is measured on up to
    500 pairs and given as its 1st and 99th percentiles.
    """
    from seeinggan.transforms import measure_sky_noise

    pairs = getattr(dataset, "pairs", None)
    seeing, scales, snr = [], [], []
    if isinstance(pairs, Sequence) and len(pairs) > 0:
        step = max(1, len(pairs) // 500)
        for index in range(0, len(pairs), step):
            pair = pairs[index]
            meta = getattr(pair, "meta", {}) or {}
            if meta.get("seeing_fwhm") is not None:
                seeing.append(float(meta["seeing_fwhm"]))
            if meta.get("ground_pixel_scale") is not None:
                scales.append(float(meta["ground_pixel_scale"]))
            ground = np.where(pair.mask, pair.ground, np.nan)
            sky, noise = measure_sky_noise(ground)
            snr.append((float(np.nanmax(ground)) - sky) / noise)
    ranges: dict[str, Any] = {
        "seeing_fwhm_arcsec": [round(min(seeing), 3), round(max(seeing), 3)] if seeing else list(config.seeing_fwhm),
        "input_pixel_scale_arcsec": ([round(min(scales), 4), round(max(scales), 4)] if scales
                                     else [ground_scale, ground_scale]),
    }
    if snr:
        ranges["peak_snr"] = [round(float(np.percentile(snr, 1)), 1), round(float(np.percentile(snr, 99)), 1)]
    return ranges


def _union_of_ranges(ranges: dict[str, Any], earlier: Any) -> dict[str, Any]:
    """A fine-tuned model has also seen what its starting model saw: widen each range to both."""
    if not isinstance(earlier, dict):
        return ranges
    out = dict(ranges)
    for key, (low, high) in ranges.items():
        before = earlier.get(key)
        if isinstance(before, (list, tuple)) and len(before) == 2:
            out[key] = [min(low, before[0]), max(high, before[1])]
    return out


def _data_summary(dataset: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {"dataset": type(dataset).__name__, "samples_per_epoch": len(dataset)}
    for key in ("seed", "n_unique", "crop_size", "augment"):
        if hasattr(dataset, key):
            summary[key] = getattr(dataset, key)
    if getattr(dataset, "simulate_kwargs", None):
        summary["simulate"] = {k: list(v) if isinstance(v, tuple) else v for k, v in dataset.simulate_kwargs.items()}
    pairs = getattr(dataset, "pairs", None)
    if pairs is not None and len(pairs) > 0:
        summary["pairs"] = repr(pairs) if len(repr(pairs)) < 300 else f"{len(pairs)} pairs"
        if hasattr(pairs, "summary"):
            summary["pairs_summary"] = {k: v for k, v in pairs.summary.items() if isinstance(v, (int, float, str))}
    return summary
