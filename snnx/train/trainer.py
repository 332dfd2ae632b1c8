"""The training loop: BPTT with surrogate gradients, checkpoints, metrics, resume.

Writes into the run folder after every epoch (atomically): ``metrics.csv``, ``last``
(model + optimizer + scheduler, for ``--resume``), ``checkpoint`` (best test accuracy), each
as ``.safetensors`` + ``.json`` (snnx.train.checkpoint), and ``plots/training.png``. A run killed mid-epoch resumes from the last finished epoch and,
because shuffling and spike encoding are seeded per (epoch, batch), continues exactly as an
uninterrupted run would.

Under ``torchrun`` the same loop runs once per device (see :mod:`snnx.train.distributed`):
the global batch is sharded over the processes, metrics are summed over them, and rank 0
alone writes the run folder.
"""

from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from snnx.config import RunConfig
from snnx.data.augment import random_shift
from snnx.data.datasets import ImageSet, load_data
from snnx.data.encoders import encode_config, encoded_shape
from snnx.errors import SnnxError
from snnx.io import write_text
from snnx.loihi.energy_profile import load_profile
from snnx.train import distributed
from snnx.train.checkpoint import Checkpoint, load_weights
from snnx.train.checkpoint import exists as checkpoint_exists
from snnx.train.energy import ChipObjective, energy_uJ, fan_outs, per_sample_counts
from snnx.train.evaluate import batch_seed, evaluate_totals, rates_of
from snnx.train.losses import make_loss
from snnx.train.models import SNN, ModelSpec, build_model, spec_from_config
from snnx.train.silence import SilenceObjective
from snnx.versions import package_versions
from snnx.viz.training import plot_training


@dataclass
class TrainResult:
    run_dir: Path
    best_test_acc: float
    epochs_done: int
    rows: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    rank: int = 0  # under torchrun: this process's rank (0 wrote the run folder)


def select_device(name: str, local_rank: int | None = None) -> torch.device:
    """``auto`` picks CUDA when present. Under torchrun (``local_rank`` given) ``auto`` and
    ``cuda`` mean the GPU of this process's local rank: one process per device."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SnnxError(f"train.device={name} but no CUDA device is available; use train.device=auto or cpu")
    if local_rank is not None and name.startswith("cuda"):
        if name != "cuda":
            raise SnnxError(f"train.device={name} under torchrun: each process takes the GPU of its local rank; "
                            "use train.device=auto or cuda")
        if local_rank >= torch.cuda.device_count():
            raise SnnxError(f"local rank {local_rank} but only {torch.cuda.device_count()} CUDA device(s) here; "
                            "start at most one process per GPU (torchrun --nproc_per_node)")
        return torch.device("cuda", local_rank)
    return torch.device(name)


def make_optimizer(model: SNN, cfg) -> torch.optim.Optimizer:
    """Adam(W) with torch's multi-tensor (foreach) update: the same arithmetic as the default
    per-tensor loop, in a few passes over all parameters instead of ~10 per tensor (2.5x faster on
    a CPU, where torch 2.3 does not pick it by itself)."""
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)


def make_scheduler(opt: torch.optim.Optimizer, cfg, steps_per_epoch: int):
    """Stepped once per batch, so cosine decays smoothly over the whole run."""
    total = max(1, cfg.epochs * steps_per_epoch)
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, cfg.step_size * steps_per_epoch), gamma=cfg.gamma)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


def stretch_cosine(sched, total_steps: int) -> None:
    """After ``--resume --set train.epochs=N`` a cosine schedule must end at the new last step:
    the restored scheduler still holds the old length. Continue on the new curve (closed form)."""
    total = max(1, total_steps)
    if not isinstance(sched, torch.optim.lr_scheduler.CosineAnnealingLR) or sched.T_max == total:
        return
    sched.T_max = total
    t = min(sched.last_epoch, sched.T_max)
    lrs = [sched.eta_min + (base - sched.eta_min) * (1 + math.cos(math.pi * t / sched.T_max)) / 2
           for base in sched.base_lrs]
    for group, lr in zip(sched.optimizer.param_groups, lrs, strict=True):
        group["lr"] = lr
    sched._last_lr = lrs


def write_metrics(rows: list[dict], path: Path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def train_epoch(model: SNN, data: ImageSet, cfg: RunConfig, opt, sched, epoch: int, device: torch.device,
                progress: bool = True) -> tuple[float, float]:
    """One pass over ``data``; returns (mean loss, train accuracy), over all processes.

    ``model`` may be DDP-wrapped: each process then trains on its share of every global batch.
    """
    model.train()
    where = distributed.current()
    loss_fn, needs_v = make_loss(cfg.model.loss)
    chip = ChipObjective(cfg.train, cfg.deploy.energy_profile)
    silence = SilenceObjective(cfg.train, model)  # recurrent layers: a silent last step (§12)
    bs = cfg.train.batch_size
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(batch_seed(cfg.train.seed, epoch, -1)))
    total_loss, correct, seen = 0.0, 0, 0
    batches = range(0, len(data), bs)
    bar = tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.train.epochs}", unit="batch", leave=False,
               disable=None if progress else True, dynamic_ncols=True)
    for b, start in enumerate(bar):
        idx = order[start:start + bs]
        seed = batch_seed(cfg.train.seed, epoch, b)
        images = random_shift(data.floats(idx).to(device), cfg.data.augment_shift, seed)
        x = encode_config(images, cfg.data, seed)
        y = data.labels[idx].to(device)
        n, weight = len(idx), 1.0
        if where.world > 1:  # the whole global batch was encoded; keep this rank's samples
            x, y, weight, n = distributed.shard_batch(x, y, where)
        out = model(x, record_v=needs_v, hidden_spikes=chip.active or silence.active)  # else only the output's
        loss = loss_fn(out, y)
        if chip.active:  # energy (uJ) and firing-rate terms, from this batch's spikes
            loss = loss + chip(getattr(model, "module", model), x, out)
        if silence.active:
            loss = loss + silence(out)
        opt.zero_grad(set_to_none=True)
        (loss * weight if where.world > 1 else loss).backward()
        opt.step()
        sched.step()
        if n:
            total_loss += loss.item() * n
            correct += int((out.counts.argmax(1) == y).sum())
            seen += n
        bar.set_postfix(loss=f"{total_loss / max(seen, 1):.3f}", acc=f"{correct / max(seen, 1):.3f}")
    total_loss, correct, seen = distributed.all_sum([total_loss, correct, seen], device)
    return total_loss / max(seen, 1), correct / max(seen, 1)


def train(cfg: RunConfig, run_dir: Path, data_dir: Path | None = None, resume: bool = False,
          progress: bool = True, log=print, before_write=None) -> TrainResult:
    """Train the configured model into ``run_dir``; see the module docstring for outputs.

    Nothing is written before the data, the model and (with ``resume``) the last checkpoint
    have loaded; config.yaml is written with the first finished epoch, so a run that fails
    early leaves the folder as it was. ``before_write`` (e.g. removing an overwritten run's
    artifacts) is called at that point, by rank 0 alone under torchrun.
    """
    where = distributed.from_env()
    device = select_device(cfg.train.device, where.local_rank if where.world > 1 else None)
    with distributed.process_group(where, device) as where:
        if not where.main:
            progress, log, before_write = False, _silent, None
        return _train(cfg, Path(run_dir), data_dir, resume, progress, log, device, where, before_write)


def _silent(*_args, **_kwargs) -> None:
    """The log of ranks other than 0: one process reports."""


def _train(cfg: RunConfig, run_dir: Path, data_dir: Path | None, resume: bool, progress: bool, log,
           device: torch.device, where: distributed.Rank, before_write) -> TrainResult:
    np.finfo(np.float32), np.finfo(np.float64)  # computed before flushing, or numpy warns
    torch.set_flush_denormal(True)  # decaying optimizer moments/membranes must not hit slow denormals
    train_set = load_data(cfg.data, True, data_dir)
    test_set = load_data(cfg.data, False, data_dir)
    torch.manual_seed(cfg.train.seed)
    in_shape = encoded_shape(cfg.data.encoding, train_set.image_shape)  # one row per step with rows
    spec = spec_from_config(cfg.model, in_shape, train_set.num_classes, cfg.train.qat)
    model = build_model(spec).to(device)
    opt = make_optimizer(model, cfg.train)
    steps_per_epoch = -(-len(train_set) // cfg.train.batch_size)
    sched = make_scheduler(opt, cfg.train, steps_per_epoch)
    rows: list[dict] = []
    best, start_epoch = -1.0, 0
    if resume:
        start_epoch, rows, best = _resume(run_dir, spec, model, opt, sched)
        stretch_cosine(sched, cfg.train.epochs * steps_per_epoch)
        log(f"resuming {run_dir} after epoch {start_epoch}")
    net = distributed.wrap(model, device)  # a collective: every rank has passed its checks before rank 0 writes
    if where.main:
        if before_write is not None:
            before_write()
        run_dir.mkdir(parents=True, exist_ok=True)
    provenance = {"versions": package_versions(), "device": str(device), "seed": cfg.train.seed,
                  "processes": where.world}
    t_run = time.perf_counter()
    for epoch in range(start_epoch, cfg.train.epochs):
        t0 = time.perf_counter()
        loss, train_acc = train_epoch(net, train_set, cfg, opt, sched, epoch, device, progress)
        t_train = time.perf_counter() - t0
        acc, rates, energy = _evaluate(model, test_set, cfg, device, where)
        row = {"epoch": epoch + 1, "loss": round(loss, 6), "train_acc": round(train_acc, 6),
               "test_acc": round(acc, 6)}
        row.update({f"rate_layer{i + 1}": round(r, 6) for i, r in enumerate(rates)})
        if energy is not None:
            row["energy_uJ"] = round(energy, 6)
        row.update({"train_seconds": round(t_train, 3), "seconds": round(time.perf_counter() - t0, 3),
                    "lr": opt.param_groups[0]["lr"]})
        rows.append(row)
        improved = acc > best
        best = max(best, acc)
        if where.main:
            if epoch == start_epoch:
                cfg.save(run_dir / "config.yaml", provenance)
            _save_epoch(run_dir, rows, spec, model, cfg, opt, sched, best, improved)
        priced = f"  {energy:.3f} uJ" if energy is not None else ""
        log(f"epoch {epoch + 1}/{cfg.train.epochs}: loss {loss:.4f}  train {100 * train_acc:.2f}%  "
            f"test {100 * acc:.2f}%{priced}  ({row['seconds']:.1f} s)")
    if where.main:
        if start_epoch >= cfg.train.epochs:  # nothing trained: still a complete run folder
            cfg.save(run_dir / "config.yaml", provenance)
        if cfg.train.epochs == 0 and not checkpoint_exists(run_dir / "checkpoint.json"):
            Checkpoint(spec, model.state_dict(), cfg, 0, {}).save(run_dir / "checkpoint.json")
    distributed.barrier()  # no process returns before rank 0's files are complete
    return TrainResult(run_dir, best, len(rows), rows, time.perf_counter() - t_run, where.rank)


def _evaluate(model: SNN, test_set: ImageSet, cfg: RunConfig, device: torch.device,
              where: distributed.Rank) -> tuple[float, list[float], float | None]:
    """Test accuracy, spike rates and the estimated dynamic energy per inference (uJ, the
    deploy profile's; None for a model Loihi cannot run); under torchrun each rank runs every
    world-th batch and the sums are reduced, which gives exactly the single-process figures."""
    fos = fan_outs(model) if hasattr(model, "layers") else None
    tot = evaluate_totals(model, test_set, cfg.data, cfg.train.seed, (where.rank, where.world), device=device,
                          fan_outs=fos)
    n_layers = len(tot.spikes)
    sums = distributed.all_sum([tot.correct, tot.samples, *tot.spikes, *tot.synops], device)
    neurons = distributed.all_sum(tot.neurons, device, op="max")
    correct, samples = sums[0], int(sums[1])
    spikes, synops = np.array(sums[2:2 + n_layers]), np.array(sums[2 + n_layers:])
    steps = cfg.data.timesteps + model.latency
    energy = None
    if fos is not None:
        counts = per_sample_counts(synops, spikes, np.array(neurons), samples, steps)
        energy = float(energy_uJ(counts, load_profile(cfg.deploy.energy_profile)))
    return correct / max(samples, 1), rates_of(spikes, samples, steps, np.array(neurons)), energy


def _save_epoch(run_dir: Path, rows: list[dict], spec: ModelSpec, model: SNN, cfg: RunConfig, opt, sched,
                best: float, improved: bool) -> None:
    """The files of one finished epoch, each written atomically (rank 0 only)."""
    row = rows[-1]
    write_metrics(rows, run_dir / "metrics.csv")
    state = model.state_dict()
    if improved:
        Checkpoint(spec, state, cfg, row["epoch"], row).save(run_dir / "checkpoint.json")
    Checkpoint(spec, state, cfg, row["epoch"], row, opt.state_dict(), sched.state_dict(),
               {"rows": rows, "best": best}).save(run_dir / "last.json")
    plot_training(rows, run_dir / "plots" / "training.png")


def _resume(run_dir: Path, spec: ModelSpec, model: SNN, opt, sched) -> tuple[int, list[dict], float]:
    path = run_dir / "last.json"
    if not checkpoint_exists(path):
        raise SnnxError(f"--resume: {path} not found; start a new run without --resume")
    ck = Checkpoint.load(path)
    if ck.spec != spec:
        raise SnnxError(f"--resume: {path} holds a different model ({ck.spec.kind}, "
                        f"{[ly.out for ly in ck.spec.layers]}); use the run's own config or a new run folder")
    load_weights(model, ck.state_dict, "last.json checkpoint")
    if ck.optimizer:
        opt.load_state_dict(ck.optimizer)
    if ck.scheduler:
        sched.load_state_dict(ck.scheduler)
    return ck.epoch, list(ck.extra.get("rows", [])), float(ck.extra.get("best", -1.0))
