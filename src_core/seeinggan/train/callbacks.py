"""Typed updates a training run sends to its callbacks (a GUI dock, a log, a history).

A callback is any callable taking one update; it picks the kinds it cares about with
``isinstance``. Updates are plain dataclasses of Python numbers and numpy arrays (never tensors
on a device), so they can cross threads and processes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

__all__ = [
    "StepUpdate",
    "ValidationUpdate",
    "PreviewUpdate",
    "CheckpointUpdate",
    "Update",
    "Callback",
    "History",
    "LogLines",
]


@dataclass(frozen=True)
class StepUpdate:
    """After each generator step.

    ``losses`` by name (``g_total``, ``l1``, ``structural``, ``adversarial``, ``critic``,
    ``wasserstein``, ``gp``...), learning rate, timing.
    """

    step: int
    total: int
    losses: dict[str, float]
    lr_g: float
    seconds_per_step: float
    elapsed: float


@dataclass(frozen=True)
class ValidationUpdate:
    """After a validation pass.

    Mean CW-SSIM to the target of the generator's output, and of the input (the resampled ground
    image, the baseline the model must beat), over ``n`` samples; ``units`` says how they were
    scored: "flux" (`seeinggan.metrics.compare`, as the evaluation) or "network"
    (`seeinggan.metrics.cw_ssim` on the network's intensity units).
    """

    step: int
    cw_ssim: float
    cw_ssim_input: float
    l1: float
    n: int
    best: bool
    """This is the best validation CW-SSIM so far."""
    units: str = "network"

    @property
    def improvement(self) -> float:
        """Relative CW-SSIM improvement over the input (0.1 = +10%)."""
        return self.cw_ssim / self.cw_ssim_input - 1 if self.cw_ssim_input else float("nan")


@dataclass(frozen=True)
class PreviewUpdate:
    """One validation (or training) sample, ``[H, W]`` float32 arrays in network units."""

    step: int
    input: np.ndarray
    output: np.ndarray
    target: np.ndarray


@dataclass(frozen=True)
class CheckpointUpdate:
    """A checkpoint was written (``reason``: "periodic", "stop" or "end")."""

    step: int
    path: Path
    reason: str


Update = StepUpdate | ValidationUpdate | PreviewUpdate | CheckpointUpdate
Callback = Callable[[Update], None]


@dataclass
class History:
    """A callback that keeps every loss and validation score (for plots and tests)."""

    steps: list[int] = field(default_factory=list)
    losses: dict[str, list[float]] = field(default_factory=dict)
    validations: list[ValidationUpdate] = field(default_factory=list)
    previews: int = 0
    checkpoints: list[CheckpointUpdate] = field(default_factory=list)

    def __call__(self, update: Update) -> None:
        """Keep the losses and validation scores of ``update``."""
        if isinstance(update, StepUpdate):
            self.steps.append(update.step)
            for name, value in update.losses.items():
                self.losses.setdefault(name, []).append(value)
        elif isinstance(update, ValidationUpdate):
            self.validations.append(update)
        elif isinstance(update, PreviewUpdate):
            self.previews += 1
        elif isinstance(update, CheckpointUpdate):
            self.checkpoints.append(update)


class LogLines:
    """A callback writing a line every ``every`` steps, and one per validation and checkpoint.

    Each step line gives the mean losses since the last line.
    """

    def __init__(self, *, every: int = 50, stream: TextIO | None = None):
        self.every = max(int(every), 1)
        self.stream = stream
        self._sums: dict[str, float] = {}
        self._count = 0
        self._start = time.perf_counter()

    def _write(self, text: str) -> None:
        print(text, file=self.stream or sys.stderr, flush=True)

    def __call__(self, update: Update) -> None:
        """Write a log line when ``update`` completes a reporting period or a validation."""
        if isinstance(update, StepUpdate):
            for name, value in update.losses.items():
                self._sums[name] = self._sums.get(name, 0.0) + value
            self._count += 1
            if update.step % self.every == 0 or update.step == update.total:
                means = " ".join(f"{k}={v / self._count:.4g}" for k, v in self._sums.items())
                self._write(
                    f"step {update.step}/{update.total} {means} lr={update.lr_g:.3g} "
                    f"{update.seconds_per_step:.3f}s/step"
                )
                self._sums, self._count = {}, 0
        elif isinstance(update, ValidationUpdate):
            self._write(
                f"step {update.step} validation: CW-SSIM {update.cw_ssim:.4f} (input "
                f"{update.cw_ssim_input:.4f}, {update.improvement:+.2%}) L1 {update.l1:.4f} "
                f"on {update.n} samples{' (best)' if update.best else ''}"
            )
        elif isinstance(update, CheckpointUpdate):
            self._write(f"step {update.step} checkpoint ({update.reason}): {update.path}")
