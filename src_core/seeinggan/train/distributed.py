"""Multi-process training under ``torchrun``: one process per core group or GPU, one model.

``torchrun --nproc_per_node N -m seeinggan.cli train ...`` starts N copies of the trainer with
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set; `Context.from_env`
joins them into a process group (gloo on CPU, nccl on CUDA). Then:

- every process draws the same global batch of ``batch_size`` samples (the trainer's sampler is
  seeded by step) and keeps its share ``batch[rank::world]``, so ``batch_size`` is the global batch
  and must be a multiple of the number of processes;
- the generator is wrapped in `torch.nn.parallel.DistributedDataParallel`, which averages the
  gradients of the processes' shares: the mean of equal shares' mean losses is the global batch's
  mean loss, so a run on N processes follows a one-process run with the same global batch (to
  float rounding of the different summation order);
- the critic's gradients are averaged with an explicit all-reduce (`average_gradients`): its
  gradient penalty differentiates through a gradient (``create_graph=True``), which DDP's
  reducer does not support;
- only rank 0 writes (config, checkpoints, the model file) and reports (callbacks); every rank
  reads a checkpoint to resume, so all start from the same state;
- a stop request on any rank stops all of them after the same step (`Context.any`).

Without ``WORLD_SIZE`` (or with 1) nothing here does anything: the trainer runs as one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["Context", "average_gradients"]


@dataclass(frozen=True)
class Context:
    """The place of this process in a multi-process run (``world == 1``: a single process)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """True when more than one process takes part."""
        return self.world > 1

    @property
    def is_main(self) -> bool:
        """True for the process that writes files and reports (rank 0)."""
        return self.rank == 0

    @classmethod
    def from_env(cls, device: torch.device) -> Context:
        """Join the process group torchrun describes in the environment (if any).

        Parameters
        ----------
        device : torch.device
            The training device: gloo for CPU, nccl for CUDA (this process's GPU is
            ``cuda:LOCAL_RANK``).
        """
        world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        if world <= 1:
            return cls()
        rank = int(os.environ["RANK"])
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
        if not torch.distributed.is_available():
            raise ValueError("WORLD_SIZE > 1 but this torch was built without torch.distributed")
        if not torch.distributed.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            torch.distributed.init_process_group(backend=backend, rank=rank, world_size=world)
        return cls(rank=rank, world=world, local_rank=local_rank)

    def device(self, device: torch.device) -> torch.device:
        """The device of this process: ``cuda:LOCAL_RANK`` for CUDA runs, else ``device``."""
        if self.enabled and device.type == "cuda":
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        return device

    def wrap(self, module: nn.Module, device: torch.device) -> nn.Module:
        """``module`` in DistributedDataParallel (the same module when single-process)."""
        if not self.enabled:
            return module
        ids = [device.index] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(module, device_ids=ids)

    def any(self, flag: bool) -> bool:
        """True on every process when ``flag`` is True on any."""
        if not self.enabled:
            return bool(flag)
        value = torch.tensor([1.0 if flag else 0.0])
        torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
        return bool(value.item() > 0)

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Losses averaged over the processes (the global batch's values, for reports)."""
        if not self.enabled or not values:
            return values
        keys = sorted(values)
        tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
        torch.distributed.all_reduce(tensor)
        return {k: float(v) / self.world for k, v in zip(keys, tensor.tolist(), strict=True)}

    def close(self) -> None:
        """Leave the process group (at the end of a run)."""
        if self.enabled and torch.distributed.is_initialized():
            # Every rank first: rank 0 may still be writing the model while another rank leaves,
            # and gloo aborts a process whose group is torn down under a peer ("terminate called").
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()


def average_gradients(module: nn.Module, context: Context) -> None:
    """Average ``module``'s gradients over the processes (in place)."""
    if not context.enabled:
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    torch.distributed.all_reduce(flat)
    flat /= context.world
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n
