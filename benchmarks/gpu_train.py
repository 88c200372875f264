"""GPU training throughput of the paper-length recipe: images per second, fraction of bf16 peak.

Trains ``configs/default.toml`` on a GPU for a fixed number of steps::

    python benchmarks/gpu_train.py [--config src_core/seeinggan/configs/default.toml] \
        [--steps 200] [--warmup 20] [--pairs 512] [--peak-tflops 989] [--set KEY=VALUE ...]

What it does, in order:

1. simulates ``--pairs`` training pairs with the config's prior (in ``num_workers`` processes; the
   pairs are held in memory and cropped anew each epoch, as in a real run);
2. counts the FLOPs of one full training step (critic step with its gradient penalty, generator
   step, forward and backward) with ``torch.utils.flop_counter.FlopCounterMode`` on one batch;
3. runs the real training loop (`seeinggan.train.Trainer.run`: data loading, bf16 autocast when
   ``amp = true``, channels_last, the optimisers) for ``--warmup + --steps`` steps, and times the
   last ``--steps`` of them from the trainer's own per-step timings.

It prints the step time, images per second (``batch_size / step time``), the achieved TFLOP/s
and that as a fraction of ``--peak-tflops`` (default 989: the dense bf16 tensor-core peak of an
H100/H200 SXM; an A100 is 312). FLOP counts are for the matmuls and convolutions only, so the
fraction is the model-FLOP utilisation (MFU) that papers quote.

Status: written without a GPU (this project's machines had none when it was made); it runs on
CPU for a check (``--device cpu --steps 2 --warmup 1 --pairs 8 --set base_channels=8 --set
critic_base_channels=8 --set crop_size=64 --set batch_size=2``), but its GPU figures are unmeasured.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from seeinggan.train import TrainConfig, Trainer
from seeinggan.train.callbacks import StepUpdate
from seeinggan.train.datasets import datasets_from_config
from torch.utils.flop_counter import FlopCounterMode

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "src_core" / "seeinggan" / "configs" / "default.toml"


def _batch(dataset, size: int, device: torch.device):
    """One training batch, collated as the trainer's loader does."""
    from torch.utils.data import default_collate

    items = []
    for index in range(size):
        item = dataset[index % len(dataset)]
        items.append((item[0], item[1], item[-1]) if isinstance(item[-1], dict) else (item[0], item[1]))
    batch = default_collate(items)
    x = batch[0].to(device).float().contiguous(memory_format=torch.channels_last)
    y = batch[1].to(device).float().contiguous(memory_format=torch.channels_last)
    extras = {k: v.to(device) for k, v in batch[2].items()} if len(batch) > 2 else None
    return x, y, extras


def step_flops(trainer: Trainer, dataset) -> float:
    """FLOPs of one training step (critic + gradient penalty + generator, forward and backward)."""
    x, y, extras = _batch(dataset, trainer.config.batch_size, trainer.device)
    counter = FlopCounterMode(display=False)
    with counter:
        trainer.train_step(x, y, extras)
    return float(counter.get_total_flops())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--steps", type=int, default=200, help="timed steps (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first (default 20)")
    parser.add_argument("--pairs", type=int, default=512, help="simulated training pairs (default 512)")
    parser.add_argument("--peak-tflops", type=float, default=989.0,
                        help="the GPU's dense bf16 peak in TFLOP/s (default 989: H100/H200 SXM)")
    parser.add_argument("--device", default=None, help="override the config's device (e.g. cuda:0, cpu)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (TOML value); repeatable")
    args = parser.parse_args(argv)

    # the critic and its gradient penalty from the first step: the timed steps are the adversarial
    # ones (the most expensive part of a run); --set adversarial_after=N overrides this
    overrides = ["adversarial_after=0", "adversarial_ramp=0", *args.overrides, f"steps={args.warmup + args.steps}",
                 "val_every=0", "preview_every=0", "checkpoint_every=0", "val_pairs=0", "log_every=0",
                 f"simulate_pairs={args.pairs}"]
    if args.device:
        overrides.append(f'device="{args.device}"')
    config = TrainConfig.from_toml(args.config, overrides=overrides)
    with tempfile.TemporaryDirectory(prefix="seeinggan-gpu-bench-") as folder:
        config.output_dir = folder
        start = time.perf_counter()
        train_set, _ = datasets_from_config(config)
        simulate_seconds = time.perf_counter() - start
        seconds: list[float] = []

        def record(update) -> None:
            if isinstance(update, StepUpdate):
                seconds.append(update.seconds_per_step)

        trainer = Trainer(config, train_pairs=train_set, callbacks=[record])
        device = trainer.device
        flops = step_flops(trainer, train_set)
        trainer.step = 0  # the counted step does not count as training
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        trainer.run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    timed = seconds[args.warmup:]
    if not timed:
        raise SystemExit("no timed steps: raise --steps")
    step_time = sum(timed) / len(timed)
    images = config.batch_size / step_time
    achieved = flops / step_time / 1e12
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    generator_params = sum(p.numel() for p in trainer.generator.parameters()) / 1e6
    critic = trainer.critic
    critic_params = sum(p.numel() for p in critic.parameters()) / 1e6 if critic is not None else 0.0
    print(f"device             {name} (torch {torch.__version__}, amp {'bf16' if trainer.use_amp else 'off'})")
    print(f"config             {args.config} {' '.join(args.overrides)}")
    print(f"networks           generator {generator_params:.1f} M, critic {critic_params:.2f} M parameters; "
          f"batch {config.batch_size} x {config.crop_size}^2")
    print(f"simulated pairs    {args.pairs} in {simulate_seconds:.0f} s")
    print(f"step FLOPs         {flops / 1e9:.1f} GFLOP (critic + GP + generator, forward + backward)")
    print(f"step time          {step_time * 1e3:.1f} ms (mean of {len(timed)} steps after {args.warmup} warm-up)")
    print(f"throughput         {images:.0f} images/s")
    print(f"achieved           {achieved:.3g} TFLOP/s = {100 * achieved / args.peak_tflops:.1f}% of the "
          f"{args.peak_tflops:g} TFLOP/s bf16 peak")
    if device.type == "cuda":
        print(f"peak GPU memory    {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB")
    full = TrainConfig.from_toml(args.config).steps
    print(f"full run           the config's {full} steps would take {full * step_time / 60:.1f} min at this rate")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
