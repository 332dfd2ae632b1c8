"""Training benchmark on full MNIST: accuracy of the seed and conv models, and training
throughput of snnx against two snnTorch loops measured side by side in the same run:

- ``tutorial5``: snnTorch's tutorial-5 loop as published (torchvision DataLoader with per-image
  PIL transforms, fc1 recomputed every step, CE on the membrane at every step);
- ``plain``: a plain competent snnTorch loop: preloaded tensors, the input current fc1(x)
  computed once per batch (direct input), same 784-1000-10 Leaky net, 25 steps, batch 128, CE on
  spike counts (snntorch.functional.ce_count_loss), Adam 5e-4.

    uv run python benchmarks/train_mnist.py [--only fc,conv,speed] [--fc-epochs N] [--conv-epochs N]
                                            [--speed-batches N] [--speed-repeats N] [--threads N]
                                            [--resume]

Prints a table and writes benchmarks/results/train_mnist.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from snnx.config import resolve
from snnx.data.datasets import load_split
from snnx.train.trainer import train

RESULTS = Path(__file__).parent / "results"
CONV = Path(__file__).resolve().parents[1] / "examples" / "conv.yaml"  # the conv model: one definition
WARMUP = 5  # speed: untimed batches each side trains before the timed runs


def run_snnx(name: str, sets: list[str], out: Path, data_dir: str, config: Path | None = None,
             resume: bool = False) -> dict:
    """Train, then export and simulate the checkpoint bit-accurately on the full test set.

    ``resume``: continue an interrupted run of this benchmark from its last finished epoch
    (bit-identical to an uninterrupted run, tests/train/test_checkpoint.py); its wall time is
    then the finished epochs' own times (metrics.csv) plus this call's training time."""
    from snnx.export.stage import export_command
    from snnx.sim.stage import sim_command

    cfg = resolve(config, sets)
    resume = resume and (out / name / "last.json").exists()
    # the finished epochs' own training times (metrics.csv's "seconds"), before this call
    done = list(csv.DictReader((out / name / "metrics.csv").read_text().splitlines())) if resume else []
    t0 = time.perf_counter()
    res = train(cfg, out / name, resume=resume, progress=False,
                log=lambda m: print(f"  [{name}] {m}", flush=True))
    secs = time.perf_counter() - t0 + sum(float(r["seconds"]) for r in done)
    export_command(out / name, "loihi", None, None, None, None, None)
    sim = sim_command(out / name, "fast", None, None, None, Path(data_dir))
    return {"name": name, "settings": sets, "epochs": cfg.train.epochs,
            "test_accuracy": res.best_test_acc, "final_test_accuracy": float(res.rows[-1]["test_acc"]),
            "float_accuracy_checkpoint": sim.float_accuracy, "fixed_accuracy": sim.fixed_accuracy,
            "agreement": sim.agreement, "wall_seconds": round(secs, 1),
            **({"resumed_after_epoch": len(done)} if resume else {})}


def tutorial5_epoch(data_dir: str, batches: int | None) -> dict:
    """The snntorch tutorial-5 training loop as published (784-1000-10, snn.Leaky(beta=0.95),
    25 steps, batch 128, Adam 5e-4, CE on the membrane at every step, torchvision DataLoader)."""
    import snntorch as snn
    from torch import nn
    from torch.utils.data import DataLoader
    from torchvision import transforms

    from snnx.data.datasets import DATASETS, _torchvision_root

    torch.manual_seed(0)
    root = _torchvision_root(Path(data_dir), DATASETS["mnist"])
    tf = transforms.Compose([transforms.Resize((28, 28)), transforms.Grayscale(), transforms.ToTensor(),
                             transforms.Normalize((0,), (1,))])
    train_ds = DATASETS["mnist"](str(root), train=True, transform=tf)
    test_ds = DATASETS["mnist"](str(root), train=False, transform=tf)
    train_loader = DataLoader(train_ds, batch_size=128, shuffle=True, drop_last=True)
    test_loader = DataLoader(test_ds, batch_size=128, shuffle=False, drop_last=False)
    num_steps, beta = 25, 0.95

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.lif1 = nn.Linear(784, 1000), snn.Leaky(beta=beta)
            self.fc2, self.lif2 = nn.Linear(1000, 10), snn.Leaky(beta=beta)

        def forward(self, x):
            mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
            spk2_rec, mem2_rec = [], []
            for _ in range(num_steps):
                cur1 = self.fc1(x)
                spk1, mem1 = self.lif1(cur1, mem1)
                cur2 = self.fc2(spk1)
                spk2, mem2 = self.lif2(cur2, mem2)
                spk2_rec.append(spk2)
                mem2_rec.append(mem2)
            return torch.stack(spk2_rec, dim=0), torch.stack(mem2_rec, dim=0)

    net = Net()
    loss = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=5e-4, betas=(0.9, 0.999))
    t0, c0, seen = time.perf_counter(), time.process_time(), 0
    for i, (data, targets) in enumerate(train_loader):
        if batches is not None and i >= batches:
            break
        net.train()
        spk_rec, mem_rec = net(data.view(128, -1))
        loss_val = torch.zeros(1)
        for step in range(num_steps):
            loss_val += loss(mem_rec[step], targets)
        optimizer.zero_grad()
        loss_val.backward()
        optimizer.step()
        seen += len(targets)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    correct = total = 0
    with torch.no_grad():
        net.eval()
        for data, targets in test_loader:
            spk_rec, _ = net(data.view(data.size(0), -1))
            correct += (spk_rec.sum(0).argmax(1) == targets).sum().item()
            total += targets.size(0)
    return {"samples": seen, "train_seconds": round(secs, 2), "cpu_seconds": round(cpu, 2),
            "samples_per_s": round(seen / secs, 1), "test_accuracy": correct / total}


def plain_epoch(data_dir: str, batches: int | None) -> dict:
    """A plain competent snnTorch loop (see the module docstring): tensors in memory, cur1 = fc1(x)
    once per batch, 25 steps of Leaky -> fc2 -> Leaky, ce_count_loss, Adam 5e-4."""
    import snntorch as snn
    from snntorch import functional as SF
    from torch import nn

    torch.manual_seed(0)
    train_set, test_set = load_split("mnist", True, data_dir), load_split("mnist", False, data_dir)
    x_all, y_all = train_set.images.float().div_(255.0).view(-1, 784), train_set.labels
    num_steps, beta = 25, 0.95

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.lif1 = nn.Linear(784, 1000), snn.Leaky(beta=beta)
            self.fc2, self.lif2 = nn.Linear(1000, 10), snn.Leaky(beta=beta)

        def forward(self, x):
            mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
            cur1 = self.fc1(x)  # direct input: the same current every step
            spk2_rec = []
            for _ in range(num_steps):
                spk1, mem1 = self.lif1(cur1, mem1)
                spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
                spk2_rec.append(spk2)
            return torch.stack(spk2_rec, dim=0)

    net = Net()
    loss_fn = SF.ce_count_loss()
    optimizer = torch.optim.Adam(net.parameters(), lr=5e-4, betas=(0.9, 0.999))
    order = torch.randperm(len(y_all))
    t0, c0, seen = time.perf_counter(), time.process_time(), 0
    net.train()
    for i, start in enumerate(range(0, len(order), 128)):
        if batches is not None and i >= batches:
            break
        idx = order[start:start + 128]
        loss = loss_fn(net(x_all[idx]), y_all[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += len(idx)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    with torch.no_grad():
        net.eval()
        pred = net(test_set.images.float().div_(255.0).view(-1, 784)).sum(0).argmax(1)
    return {"samples": seen, "train_seconds": round(secs, 2), "cpu_seconds": round(cpu, 2),
            "samples_per_s": round(seen / secs, 1), "test_accuracy": float((pred == test_set.labels).float().mean())}


def snnx_epoch(data_dir: str, batches: int | None) -> dict:
    """snnx's trainer (trainer.train_epoch, what `snnx train` runs per epoch) on the same settings:
    784-1000-10, direct input, 25 steps, batch 128, CE on counts, Adam 5e-4; then its test accuracy."""
    from snnx.data.datasets import load_data
    from snnx.train import kernel
    from snnx.train.evaluate import evaluate_totals
    from snnx.train.models import build_model, spec_from_config
    from snnx.train.trainer import make_optimizer, make_scheduler, train_epoch

    sets = ["model.hidden=[1000]", "data.encoding=direct", "data.timesteps=25", "train.energy_weight=0",
            "train.epochs=1", "train.batch_size=128",
            "train.qat=false", "train.schedule=none", "train.lr=5e-4", "train.optimizer=adam"]
    if batches is not None:
        sets.append(f"data.train_subset={128 * batches}")
    cfg = resolve(None, sets)
    torch.set_flush_denormal(True)  # as the trainer does
    train_set, test_set = load_data(cfg.data, True, data_dir), load_data(cfg.data, False, data_dir)
    torch.manual_seed(cfg.train.seed)
    model = build_model(spec_from_config(cfg.model, train_set.image_shape, train_set.num_classes, cfg.train.qat))
    opt = make_optimizer(model, cfg.train)
    sched = make_scheduler(opt, cfg.train, -(-len(train_set) // cfg.train.batch_size))
    t0, c0 = time.perf_counter(), time.process_time()
    train_epoch(model, train_set, cfg, opt, sched, 0, torch.device("cpu"), progress=False)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    tot = evaluate_totals(model, test_set, cfg.data, cfg.train.seed)
    n = len(train_set)
    return {"samples": n, "train_seconds": round(secs, 2), "cpu_seconds": round(cpu, 2),
            "samples_per_s": round(n / secs, 1), "test_accuracy": tot.correct / tot.samples, "settings": sets,
            "compiled_kernel": kernel.library() is not None, "kernel_on_torch_openmp": kernel.openmp()}


def speed(data_dir: str, out: Path, batches: int | None, repeats: int) -> dict:
    """Same architecture, same steps, batch, one epoch each (or ``batches`` batches): snnx vs both loops.

    snnx and the plain loop run ``repeats`` times, alternating, and the median of each is reported:
    on a shared machine one pair's wall-clock ratio moved 3.3x-7.4x between two idle runs, while
    the CPU time per sample moved 2 %. Records the load average before and after and OMP_WAIT_POLICY,
    which decides whether torch's idle OpenMP threads spin (the default) or sleep.

    Both sides first train ``WARMUP`` batches untimed, so that neither median includes one-off
    costs (loading the compiled kernel, oneDNN's first-call primitive creation, page faults)."""
    snnx_epoch(data_dir, WARMUP)
    plain_epoch(data_dir, WARMUP)
    load_before = os.getloadavg()
    ours_all, plain_all = [], []
    for _ in range(repeats):
        ours_all.append(snnx_epoch(data_dir, batches))
        print(f"  [snnx] {ours_all[-1]}", flush=True)
        plain_all.append(plain_epoch(data_dir, batches))
        print(f"  [plain snnTorch] {plain_all[-1]}", flush=True)
    tut = tutorial5_epoch(data_dir, batches)
    print(f"  [tutorial5] {tut}", flush=True)

    def median(runs: list[dict]) -> dict:
        return sorted(runs, key=lambda r: r["samples_per_s"])[len(runs) // 2]

    def cpu_per_sample(r: dict) -> float:
        return r["cpu_seconds"] / r["samples"]

    ours, plain = median(ours_all), median(plain_all)
    return {"threads": torch.get_num_threads(), "batches": batches, "repeats": repeats, "warmup_batches": WARMUP,
            "load_average_1_5_15_min": {"before": [round(v, 2) for v in load_before],
                                        "after": [round(v, 2) for v in os.getloadavg()]},
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"), "tutorial5": tut, "plain": plain, "snnx": ours,
            "snnx_runs": ours_all, "plain_runs": plain_all,
            "speedup": round(ours["samples_per_s"] / tut["samples_per_s"], 2),
            "speedup_vs_plain": round(ours["samples_per_s"] / plain["samples_per_s"], 2),
            "speedup_vs_plain_per_pair": [round(o["samples_per_s"] / p["samples_per_s"], 2)
                                          for o, p in zip(ours_all, plain_all, strict=True)],
            "cpu_speedup_vs_plain": round(sorted(map(cpu_per_sample, plain_all))[repeats // 2]
                                          / sorted(map(cpu_per_sample, ours_all))[repeats // 2], 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", default="fc,conv,speed")
    ap.add_argument("--fc-epochs", type=int, default=10)
    ap.add_argument("--conv-epochs", type=int, default=32)
    ap.add_argument("--out", type=Path, default=Path("runs/bench"))
    ap.add_argument("--speed-batches", type=int, default=None, help="speed: time this many batches, not an epoch")
    ap.add_argument("--speed-repeats", type=int, default=3,
                    help="speed: alternate snnx and the plain loop this many times, report medians")
    ap.add_argument("--resume", action="store_true",
                    help="fc/conv: continue an interrupted run in --out from its last finished epoch")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data_dir = os.environ.get("SNNX_DATA_DIR", "data")
    load_split("mnist", False, data_dir)  # fail early, clearly, without data
    parts = args.only.split(",")
    results: dict = {"machine": {"cpu_threads": torch.get_num_threads(), "python": sys.version.split()[0],
                                 "torch": torch.__version__, "platform": platform.platform(),
                                 "cuda": torch.cuda.is_available()}}
    if "fc" in parts:
        results["fc"] = run_snnx("fc_defaults", [f"train.epochs={args.fc_epochs}"], args.out, data_dir,
                                 resume=args.resume)
    if "conv" in parts:
        results["conv"] = run_snnx("conv", [f"train.epochs={args.conv_epochs}"], args.out, data_dir, CONV,
                                   args.resume)
        results["conv"]["config"] = str(CONV.relative_to(CONV.parents[1]))
    if "speed" in parts:
        results["speed"] = speed(data_dir, args.out, args.speed_batches, args.speed_repeats)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "train_mnist.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    previous.update(results)  # --only runs keep the other parts' figures
    path.write_text(json.dumps(previous, indent=2) + "\n")
    print("\n| benchmark | setting | test acc (best / final epoch) | fixed point (fast sim) | epochs | wall s "
          "| samples/s |")
    print("|---|---|---|---|---|---|---|")
    for key in ("fc", "conv"):
        if key in results:
            r = results[key]
            print(f"| {r['name']} | {' '.join(r['settings'])} | {100 * r['test_accuracy']:.2f}% / "
                  f"{100 * r['final_test_accuracy']:.2f}% | {100 * r['fixed_accuracy']:.2f}% | {r['epochs']} "
                  f"| {r['wall_seconds']} | |")
    if "speed" in results:
        s = results["speed"]
        print(f"| tutorial-5 loop | 784-1000-10 Leaky, 1 epoch | {100 * s['tutorial5']['test_accuracy']:.2f}% | | 1 "
              f"| {s['tutorial5']['train_seconds']} | {s['tutorial5']['samples_per_s']} |")
        print(f"| plain snnTorch loop | same net, direct input, fc1 once per batch | "
              f"{100 * s['plain']['test_accuracy']:.2f}% | | 1 | {s['plain']['train_seconds']} "
              f"| {s['plain']['samples_per_s']} |")
        print(f"| snnx | same net, direct input, 1 epoch | {100 * s['snnx']['test_accuracy']:.2f}% | | 1 "
              f"| {s['snnx']['train_seconds']} | {s['snnx']['samples_per_s']} |")
        print(f"\nspeed-up snnx / tutorial loop: {s['speedup']}x; snnx / plain snnTorch loop: "
              f"{s['speedup_vs_plain']}x, medians of {s['repeats']} alternating runs; per pair "
              f"{s['speedup_vs_plain_per_pair']} (CPU time per sample: {s['cpu_speedup_vs_plain']}x; "
              f"{s['threads']} torch threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
