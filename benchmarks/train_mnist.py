"""Training benchmark on full MNIST: accuracy of the seed and conv models, and training
throughput of snnx against the snntorch tutorial-5 loop measured in the same run.

    uv run python benchmarks/train_mnist.py [--only fc,conv,speed] [--fc-epochs N] [--conv-epochs N]

Prints a table and writes benchmarks/results/train_mnist.json.
"""

from __future__ import annotations

import argparse
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


def run_snnx(name: str, sets: list[str], out: Path, data_dir: str) -> dict:
    """Train, then export and simulate the checkpoint bit-accurately on the full test set."""
    from snnx.export.stage import export_command
    from snnx.sim.stage import sim_command

    cfg = resolve(None, sets)
    t0 = time.perf_counter()
    res = train(cfg, out / name, progress=False, log=lambda m: print(f"  [{name}] {m}", flush=True))
    secs = time.perf_counter() - t0
    export_command(out / name, "loihi", None, None, None, None, None)
    sim = sim_command(out / name, "fast", None, None, None, Path(data_dir))
    return {"name": name, "settings": sets, "epochs": cfg.train.epochs,
            "test_accuracy": res.best_test_acc, "final_test_accuracy": float(res.rows[-1]["test_acc"]),
            "float_accuracy_checkpoint": sim.float_accuracy, "fixed_accuracy": sim.fixed_accuracy,
            "agreement": sim.agreement, "wall_seconds": round(secs, 1)}


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
    t0, seen = time.perf_counter(), 0
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
    secs = time.perf_counter() - t0
    correct = total = 0
    with torch.no_grad():
        net.eval()
        for data, targets in test_loader:
            spk_rec, _ = net(data.view(data.size(0), -1))
            correct += (spk_rec.sum(0).argmax(1) == targets).sum().item()
            total += targets.size(0)
    return {"samples": seen, "train_seconds": round(secs, 2), "samples_per_s": round(seen / secs, 1),
            "test_accuracy": correct / total}


def speed(data_dir: str, out: Path) -> dict:
    """Same architecture, same steps, batch, one epoch each: snnx vs tutorial loop."""
    tut = tutorial5_epoch(data_dir, None)
    print(f"  [tutorial5] {tut}", flush=True)
    sets = ["model.hidden=[1000]", "data.encoding=direct", "train.epochs=1", "train.batch_size=128",
            "train.qat=false", "train.schedule=none", "train.lr=5e-4", "train.optimizer=adam"]
    cfg = resolve(None, sets)
    t0 = time.perf_counter()
    res = train(cfg, out / "speed_snnx", progress=False)
    secs = time.perf_counter() - t0 - 0.0
    train_secs = float(res.rows[-1]["train_seconds"])  # the training pass alone, as timed for the tutorial
    n = 60000
    ours = {"samples": n, "train_seconds": round(train_secs, 2), "samples_per_s": round(n / train_secs, 1),
            "test_accuracy": res.best_test_acc, "wall_seconds": round(secs, 1), "settings": sets}
    print(f"  [snnx] {ours}", flush=True)
    return {"tutorial5": tut, "snnx": ours, "speedup": round(ours["samples_per_s"] / tut["samples_per_s"], 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", default="fc,conv,speed")
    ap.add_argument("--fc-epochs", type=int, default=10)
    ap.add_argument("--conv-epochs", type=int, default=32)
    ap.add_argument("--out", type=Path, default=Path("runs/bench"))
    args = ap.parse_args()
    data_dir = os.environ.get("SNNX_DATA_DIR", "data")
    load_split("mnist", False, data_dir)  # fail early, clearly, without data
    parts = args.only.split(",")
    results: dict = {"machine": {"cpu_threads": torch.get_num_threads(), "python": sys.version.split()[0],
                                 "torch": torch.__version__, "platform": platform.platform(),
                                 "cuda": torch.cuda.is_available()}}
    if "fc" in parts:
        results["fc"] = run_snnx("fc_784_100_10", [f"train.epochs={args.fc_epochs}"], args.out, data_dir)
    if "conv" in parts:
        results["conv"] = run_snnx("conv", ["model.kind=conv", "model.conv=32c5s2-64c3s2", "model.hidden=[256]",
                                            "data.encoding=direct", "data.timesteps=8", "data.augment_shift=2",
                                            f"train.epochs={args.conv_epochs}"], args.out, data_dir)
    if "speed" in parts:
        results["speed"] = speed(data_dir, args.out)
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
        print(f"| snnx | same net, direct input, 1 epoch | {100 * s['snnx']['test_accuracy']:.2f}% | | 1 "
              f"| {s['snnx']['train_seconds']} | {s['snnx']['samples_per_s']} |")
        print(f"\nspeed-up snnx / tutorial loop: {s['speedup']}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
