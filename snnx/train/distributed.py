"""``snnx train`` under ``torchrun``: one process per device, DistributedDataParallel.

torchrun starts the same command once per device and tells each process its place through
the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``);
nothing else changes for the user. The rules that keep a distributed run equal to a
single-process run with the same config:

* ``train.batch_size`` is the *global* batch. Every process draws the same seeded
  permutation and, per batch, augments and Poisson-encodes the whole global batch with the
  batch's seed, then keeps its own samples ``rank::world``. That is DistributedSampler's
  sharding (strided, reshuffled per epoch) applied to snnx's own permutation, so the spikes a
  sample sees depend on the global batch only, never on the rank or the number of processes.
* Each process's loss is weighted by its share of the batch, so DDP's gradient average is
  the gradient of the global batch mean, also for a last batch that does not split evenly.
* Loss, accuracy and spike counts are summed over processes (``all_reduce``) before they
  are written: metrics.csv holds the global figures. Only rank 0 writes the run folder.

A hand-written sampler instead of ``DistributedSampler`` + ``DataLoader``: snnx keeps a
split as one preloaded tensor and indexes it per batch, which a DataLoader would only slow
down, and single-process runs must keep their exact numbers.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist

from snnx.errors import SnnxError


@dataclass(frozen=True)
class Rank:
    """Where this process sits: global rank, number of processes, rank on this machine."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0 alone writes files and prints."""
        return self.rank == 0


def from_env() -> Rank:
    """The torchrun environment of this process (a plain single process without it)."""
    names = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
    if "WORLD_SIZE" not in os.environ:
        return Rank()
    try:
        rank, world, local = (int(os.environ.get(n, "0")) for n in names)
    except ValueError:
        raise SnnxError(f"RANK/WORLD_SIZE/LOCAL_RANK must be integers (got {[os.environ.get(n) for n in names]}); "
                        "start distributed training with torchrun") from None
    if world < 1 or not 0 <= rank < world or local < 0:
        raise SnnxError(f"RANK={rank}, WORLD_SIZE={world}, LOCAL_RANK={local} are inconsistent; "
                        "start distributed training with torchrun")
    return Rank(rank, world, local)


def writes_run_folder() -> bool:
    """Whether this process writes the run folder: always, except torchrun's ranks other than 0.

    Known from the environment before any process group exists, so the CLI can decide whether
    to take the run folder's lock (rank 0 alone takes it; the others would be refused).
    """
    return from_env().main


def current() -> Rank:
    """This process's rank in the running process group (a single process when there is none)."""
    if dist.is_available() and dist.is_initialized():
        return Rank(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return Rank()


@contextlib.contextmanager
def process_group(where: Rank, device: torch.device) -> Iterator[Rank]:
    """Join torchrun's process group for the duration (NCCL on CUDA, gloo on CPU).

    A single process, or one whose group is already up (a caller's own), is left alone.
    """
    if where.world == 1 or dist.is_initialized():
        yield current() if dist.is_initialized() else where
        return
    if "MASTER_ADDR" not in os.environ or "MASTER_PORT" not in os.environ:
        raise SnnxError("WORLD_SIZE is set but MASTER_ADDR/MASTER_PORT are not; start distributed training with "
                        "torchrun (e.g. torchrun --standalone --nproc_per_node=2 -m snnx train ...)")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield current()
    finally:
        dist.destroy_process_group()


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """The module to train with: DDP around ``model`` when there are several processes.

    DDP broadcasts rank 0's parameters on construction, so every process starts equal.
    """
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain model inside DDP (its state_dict has no ``module.`` prefix)."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def shard_batch(x: torch.Tensor, y: torch.Tensor, where: Rank) -> tuple[torch.Tensor, torch.Tensor, float, int]:
    """This rank's samples ``rank::world`` of an encoded global batch x [T, B, ...], y [B].

    Returns (x, y, loss weight, samples counted). The weight ``n_rank * world / n`` makes DDP's
    mean of the ranks' gradients the gradient of the global batch mean. A rank left without
    samples (a last batch smaller than the world) still runs one sample, with weight 0, because
    every DDP process must take part in every backward pass.
    """
    n = y.shape[0]
    take = slice(where.rank, None, where.world)
    n_rank = len(range(n)[take])
    if n_rank == 0:
        return x[:, :1], y[:1], 0.0, 0
    return x[:, take], y[take], n_rank * where.world / n, n_rank


def all_sum(values: Sequence[float], device: torch.device, op: str = "sum") -> list[float]:
    """``values`` summed (or maxed) over all processes, in float64 (exact for counts < 2**53)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return list(values)
    t = torch.tensor(list(values), dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
    return t.tolist()


def barrier() -> None:
    """Wait for every process (no-op for a single process)."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()
