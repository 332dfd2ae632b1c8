"""lava-dl's netx networks: snnx's fast simulator against Lava, identical yes/no and speed.

Every netx fixture in tests/sim/fixtures/netx: the files made with lava-dl's own blocks in the
shape of its tutorial and test networks (bootstrap MNIST, PilotNet LIF, netx tiny, random
mixed; make_fixtures.py) and copies of lava-dl's own small files (lavadl/: netx tiny, the Oxford
and MNIST tutorial networks). Inputs: graded frames 0..255 into an Input block (as lava-dl's
bootstrap and PilotNet nets take images), binary spikes (rate 0.1) otherwise; T = 16 steps.

Both engines run the same sample stream (netx ``reset_interval``, docs/design.md §5):
* snnx fast: ``FastSimulator`` on ``--samples`` samples in one call (it batches internally),
  best of 3;
* Lava: ``run_lava_stream`` (snnx's LavaWorkerEngine: one worker process per core, each one
  netx network fed in chunks through a single bridge process, Loihi2SimCfg fixed_pt), its best
  setting we know. Its rate is measured marginally: (n_big - n_small) / (t_big - t_small), so
  Lava's start-up of several seconds is not charged to it (where the two runs' difference is
  lost in the machine's noise, n_big / t_big, start-up included, flagged in the JSON).
"identical" compares every layer's spikes of the Lava samples, each from its reset step on.

With ``--lavadl-repo DIR`` (a checkout of https://github.com/lava-nc/lava-dl) it also runs every
``*.net`` file in it, tutorials and tests: identical files are run once; files that are Git LFS
pointers (or empty) in the checkout, and networks snnx refuses (sigma-delta), get a row saying so.

    .venv/bin/python benchmarks/lavadl_nets.py [--samples 5000] [--lava-samples 120]
                                               [--lavadl-repo DIR [--no-fixtures]] [--only NAME ...]
Writes benchmarks/results/lavadl_nets.json (rows of networks not run this time are kept).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from snnx.errors import SnnxError
from snnx.io import write_json
from snnx.loihi.net import LoihiNet
from snnx.loihi.netx import read_netx
from snnx.sim.fast import FastSimulator, is_graded
from snnx.sim.lava_backend import default_workers, run_lava_stream

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "sim" / "fixtures" / "netx"
RESULTS = Path(__file__).parent / "results" / "lavadl_nets.json"
STEPS = 16


def inputs(net: LoihiNet, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (n, STEPS, *net.input.shape)
    if net.input_block is not None:
        return rng.integers(0, 256, shape).astype(np.uint8)
    return (rng.random(shape) < 0.1).astype(np.uint8)  # Oxford's net falls silent above ~0.2


def describe(net: LoihiNet) -> str:
    parts = []
    for layer in net.layers:
        if layer.kind == "input":
            parts.append(f"In[{'x'.join(map(str, layer.shape))}]")
        elif layer.kind == "conv":
            parts.append(f"{layer.shape[0]}c{layer.weight.shape[-1]}s{layer.stride[0]}")
        elif layer.kind == "dense":
            parts.append(f"{layer.shape[0]}{'i' if layer.neuron == 'none' else ''}")
    return "-".join(parts)


def features(net: LoihiNet) -> list[str]:
    f = []
    if net.input_block is not None:
        f.append("Input block")
    if any(layer.neuron == "LOIHI" for layer in net.layers):
        f.append("LOIHI")
    if any(layer.neuron == "none" for layer in net.layers):
        f.append("dense w/o neurons")
    if any(layer.du == -1 and layer.neuron != "none" for layer in net.layers):
        f.append("iDecay 0")
    if any(layer.dv == 4096 and layer.neuron != "none" for layer in net.layers):
        f.append("vDecay 4096")
    if any(layer.kind == "conv" for layer in net.layers):
        f.append("conv")
    if any(layer.bias is not None for layer in net.layers):
        f.append("bias")
    return f


def time_fast(sim: FastSimulator, x: np.ndarray, repeats: int = 3) -> float:
    """Best of ``repeats`` over all of x, streamed in batches whose outputs (every layer's spikes
    at every step, which the simulator returns) stay under ~1 GB, as `snnx sim` streams them."""
    per_sample = sum(int(np.prod(st.layer.shape)) for st in sim.stages) * sim.steps
    batch = max(1, min(len(x), 2**30 // max(per_sample, 1)))
    sim.run(x[: min(len(x), batch, 64)])
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for i in range(0, len(x), batch):
            sim.run(x[i : i + batch])
        best = min(best, time.perf_counter() - t)
    return best


def repo_files(repo: Path) -> tuple[list[tuple[str, Path]], list[dict]]:
    """Every *.net in a lava-dl checkout: (name, path) to run, and rows for those that cannot be."""
    runnable, skipped, seen = [], [], {}
    for path in sorted(repo.rglob("*.net")):
        name = f"lava-dl:{path.relative_to(repo)}"
        data = path.read_bytes()
        if not data.startswith(b"\x89HDF"):
            what = "empty" if not data else "a Git LFS pointer" if data.startswith(b"version https://git-lfs") else "not HDF5"
            skipped.append({"network": name, "source": "lava-dl repository", "status": f"not run: {what} in the checkout"})
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:
            skipped.append({"network": name, "source": "lava-dl repository", "status": f"same file as {seen[digest]}"})
            continue
        seen[digest] = name
        try:
            read_netx(path)
        except SnnxError as e:
            skipped.append({"network": name, "source": "lava-dl repository", "status": f"refused: {e}"})
            continue
        runnable.append((name, path))
    return runnable, skipped


def time_lava(path: Path, x: np.ndarray, n_small: int, n_min: int, seconds: float):
    """The small run, then the big run: all of x, or fewer where Lava's rate in the small run
    (start-up included, so an underestimate) says x would take more than ``seconds``."""
    t = time.perf_counter()
    run_lava_stream(path, x[:n_small], progress=False)
    t_small = time.perf_counter() - t
    n_big = max(n_min, min(len(x), int(seconds * n_small / t_small)))
    t = time.perf_counter()
    run = run_lava_stream(path, x[:n_big], progress=False)
    t_big = time.perf_counter() - t
    return run, t_small, t_big, n_big


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=5000, help="samples through the fast simulator")
    ap.add_argument("--lava-samples", type=int, default=120, help="samples through Lava (big run)")
    ap.add_argument("--lava-seconds", type=float, default=240.0,
                    help="fewer Lava samples where the big run would take longer than this")
    ap.add_argument("--only", nargs="*", help="network names to run (as in the table; default: all)")
    ap.add_argument("--lavadl-repo", type=Path, help="a lava-dl checkout: also run every *.net in it")
    ap.add_argument("--no-fixtures", action="store_true", help="with --lavadl-repo: only the checkout's files")
    args = ap.parse_args()
    files = [] if args.no_fixtures else [
        (p.name if p.parent.name != "lavadl" else f"lavadl/{p.name}", p)
        for p in sorted(FIXTURES.glob("*.net")) + sorted((FIXTURES / "lavadl").glob("*.net"))
    ]
    skipped: list[dict] = []
    if args.lavadl_repo:
        if not args.lavadl_repo.is_dir():
            raise SystemExit(f"lavadl_nets.py: error: {args.lavadl_repo} is not a folder (a lava-dl checkout)")
        more, skipped = repo_files(args.lavadl_repo)
        files += more
    if args.only:
        files = [(name, p) for name, p in files if name in args.only or p.name in args.only]
        skipped = [r for r in skipped if r["network"] in args.only]
    workers = default_workers()
    n_small = workers  # one sample per worker: start-up plus one sample each
    n_big = max(args.lava_samples, 3 * workers)
    rows = []
    for name, path in files:
        net = read_netx(path)
        x = inputs(net, max(args.samples, n_big))
        sim = FastSimulator(net, STEPS, graded=is_graded(x))
        fast_s = time_fast(sim, x[: args.samples])
        lava, t_small, t_big, n_lava = time_lava(path, x[:n_big], n_small, 3 * workers, args.lava_seconds)
        fast_sub = sim.run(x[:n_lava])
        identical = all(np.array_equal(a, b) for a, b in zip(fast_sub.spikes, lava.spikes, strict=True))
        fast_sps = args.samples / fast_s
        marginal = t_big > 1.2 * t_small  # else the machine's noise hides the difference
        lava_sps = (n_lava - n_small) / (t_big - t_small) if marginal else n_lava / t_big
        source = "made with lava-dl blocks" if path.parent == FIXTURES else "lava-dl repository"
        rows.append({
            "network": name,
            "source": source,
            "status": "run",
            "layers": describe(net),
            "features": features(net),
            "timesteps": STEPS,
            "graded_input": bool(is_graded(x)),
            "samples_fast": args.samples,
            "fast_seconds": round(fast_s, 4),
            "fast_samples_per_s": round(fast_sps, 1),
            "samples_lava": n_lava,
            "lava_seconds": round(t_big, 2),
            "lava_seconds_small_run": round(t_small, 2),
            "lava_samples_per_s": round(lava_sps, 2),
            "lava_rate_is_marginal": marginal,
            "lava_samples_per_s_with_startup": round(n_lava / t_big, 2),
            "speedup": round(fast_sps / lava_sps, 1),
            "identical_spikes": identical,
            "output_spikes_per_sample": round(float(fast_sub.spikes[-1].sum()) / n_lava, 2),
            "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_avg_1min": round(os.getloadavg()[0], 2),
        })
        r = rows[-1]
        print(f"{r['network']}: fast {r['fast_samples_per_s']:,.0f}/s, Lava {r['lava_samples_per_s']:.2f}/s, "
              f"{r['speedup']:,.0f}x, identical {identical}", flush=True)
    for r in skipped:
        print(f"{r['network']}: {r['status'][:120]}")
    # rows of networks not run this time are kept (e.g. the fixtures after a --no-fixtures run)
    fresh = {r["network"] for r in rows + skipped}
    old_rows = json.loads(RESULTS.read_text()).get("networks", []) if RESULTS.exists() else []
    rows = rows + skipped + [r for r in old_rows if r["network"] not in fresh]
    result = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "lava_workers": workers,
            "load_avg_1min": os.getloadavg()[0],
        },
        "timesteps": STEPS,
        "networks": rows,
        "target": "fast >= 500x Lava on lava-dl's netx networks, identical spikes",
    }
    write_json(RESULTS, result)
    print()
    print(f"{'network':28s}{'layers':34s}{'fast smp/s':>12s}{'Lava smp/s':>12s}{'speedup':>10s}{'same':>6s}")
    for r in rows:
        if r.get("status", "run") != "run":
            continue
        print(f"{r['network'][:27]:28s}{r['layers'][:33]:34s}{r['fast_samples_per_s']:>12,.0f}"
              f"{r['lava_samples_per_s']:>12,.2f}{r['speedup']:>9,.0f}x{str(r['identical_spikes']):>6s}")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
