"""The training loop: BPTT with surrogate gradients, checkpoints, metrics, resume.

Writes into the run folder after every epoch (atomically): ``metrics.csv``, ``last``
(model + optimizer + scheduler, for ``--resume``), ``checkpoint`` (best test accuracy), each
as ``.safetensors`` + ``.json`` (snnx.train.checkpoint), and ``plots/training.png``. A run killed mid-epoch resumes from the last finished epoch and,
because shuffling and spike encoding are seeded per (epoch, batch), continues exactly as an
uninterrupted run would.
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
from snnx.data.encoders import encode_config
from snnx.errors import SnnxError
from snnx.io import write_text
from snnx.train.checkpoint import Checkpoint, load_weights
from snnx.train.checkpoint import exists as checkpoint_exists
from snnx.train.evaluate import batch_seed, evaluate
from snnx.train.losses import make_loss
from snnx.train.models import SNN, ModelSpec, build_model, spec_from_config
from snnx.versions import package_versions
from snnx.viz.training import plot_training


@dataclass
class TrainResult:
    run_dir: Path
    best_test_acc: float
    epochs_done: int
    rows: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def select_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SnnxError(f"train.device={name} but no CUDA device is available; use train.device=auto or cpu")
    return torch.device(name)


def make_optimizer(model: SNN, cfg) -> torch.optim.Optimizer:
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


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
    """One pass over ``data``; returns (mean loss, train accuracy)."""
    model.train()
    loss_fn, needs_v = make_loss(cfg.model.loss)
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
        out = model(x, record_v=needs_v)
        loss = loss_fn(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        total_loss += loss.item() * len(idx)
        correct += int((out.counts.argmax(1) == y).sum())
        seen += len(idx)
        bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
    return total_loss / max(seen, 1), correct / max(seen, 1)


def train(cfg: RunConfig, run_dir: Path, data_dir: Path | None = None, resume: bool = False,
          progress: bool = True, log=print, before_write=None) -> TrainResult:
    """Train the configured model into ``run_dir``; see the module docstring for outputs.

    Nothing is written before the data, the model and (with ``resume``) the last checkpoint
    have loaded; config.yaml is written with the first finished epoch, so a run that fails
    early leaves the folder as it was. ``before_write`` (e.g. removing an overwritten run's
    artifacts) is called at that point.
    """
    run_dir = Path(run_dir)
    device = select_device(cfg.train.device)
    np.finfo(np.float32), np.finfo(np.float64)  # computed before flushing, or numpy warns
    torch.set_flush_denormal(True)  # decaying optimizer moments/membranes must not hit slow denormals
    train_set = load_data(cfg.data, True, data_dir)
    test_set = load_data(cfg.data, False, data_dir)
    torch.manual_seed(cfg.train.seed)
    spec = spec_from_config(cfg.model, train_set.image_shape, train_set.num_classes, cfg.train.qat)
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
    if before_write is not None:
        before_write()
    run_dir.mkdir(parents=True, exist_ok=True)
    provenance = {"versions": package_versions(), "device": str(device), "seed": cfg.train.seed}
    t_run = time.perf_counter()
    for epoch in range(start_epoch, cfg.train.epochs):
        t0 = time.perf_counter()
        loss, train_acc = train_epoch(model, train_set, cfg, opt, sched, epoch, device, progress)
        t_train = time.perf_counter() - t0
        ev = evaluate(model, test_set, cfg.data, cfg.train.seed, device=device)
        row = {"epoch": epoch + 1, "loss": round(loss, 6), "train_acc": round(train_acc, 6),
               "test_acc": round(ev.accuracy, 6)}
        row.update({f"rate_layer{i + 1}": round(r, 6) for i, r in enumerate(ev.spike_rates)})
        row.update({"train_seconds": round(t_train, 3), "seconds": round(time.perf_counter() - t0, 3),
                    "lr": opt.param_groups[0]["lr"]})
        rows.append(row)
        if epoch == start_epoch:
            cfg.save(run_dir / "config.yaml", provenance)
        write_metrics(rows, run_dir / "metrics.csv")
        state = model.state_dict()
        if ev.accuracy > best:
            best = ev.accuracy
            Checkpoint(spec, state, cfg, epoch + 1, row).save(run_dir / "checkpoint.json")
        Checkpoint(spec, state, cfg, epoch + 1, row, opt.state_dict(), sched.state_dict(),
                   {"rows": rows, "best": best}).save(run_dir / "last.json")
        plot_training(rows, run_dir / "plots" / "training.png")
        log(f"epoch {epoch + 1}/{cfg.train.epochs}: loss {loss:.4f}  train {100 * train_acc:.2f}%  "
            f"test {100 * ev.accuracy:.2f}%  ({row['seconds']:.1f} s)")
    if start_epoch >= cfg.train.epochs:  # nothing trained: still a complete run folder
        cfg.save(run_dir / "config.yaml", provenance)
    if cfg.train.epochs == 0 and not checkpoint_exists(run_dir / "checkpoint.json"):
        Checkpoint(spec, model.state_dict(), cfg, 0, {}).save(run_dir / "checkpoint.json")
    return TrainResult(run_dir, best, len(rows), rows, time.perf_counter() - t_run)


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
