"""Sweep: the fast simulator against Lava on many random networks, spikes, u and v bit for bit.

A larger version of tests/sim/test_fast_vs_lava.py: random dense and conv nets with every
corner of the arithmetic (odd / single-sign / all-zero weights, du and dv at 0 and 4095,
13-bit biases, thresholds from 0 to 2**17 - 1, dense inputs that wrap u and saturate v,
graded inputs). Prints a table of cases and writes benchmarks/results/sim_sweep.json.

    .venv/bin/python benchmarks/sim_sweep.py [--nets 60] [--seed 0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from snnx.io import write_json
from snnx.sim.fast import simulate
from snnx.sim.lava_backend import run_lava
from snnx.sim.randnet import random_conv_net, random_dense_net, random_inputs

RESULTS = Path(__file__).parent / "results" / "sim_sweep.json"


def make_case(rng: np.random.Generator, i: int):
    kind = ["dense", "dense", "conv", "graded"][i % 4]
    if kind == "conv":
        size = int(rng.integers(5, 11))
        convs = [
            (int(rng.integers(1, 6)), int(rng.choice([1, 3, 5])), int(rng.choice([1, 2])))
            for _ in range(int(rng.integers(1, 3)))
        ]
        net = random_conv_net(
            rng, (int(rng.integers(1, 4)), size, size), convs, [int(rng.integers(2, 8))]
        )
    else:
        sizes = [int(rng.integers(1, 120)) for _ in range(int(rng.integers(2, 5)))]
        net = random_dense_net(rng, sizes)
    samples, steps = int(rng.integers(1, 5)), int(rng.integers(1, 12))
    if kind == "graded":
        x = rng.integers(0, 256, (samples, steps, *net.input.shape)).astype(np.uint8)
    else:
        x = random_inputs(rng, net, samples, steps)
    return kind, net, x


def compare(net, x, workdir: Path) -> dict:
    fast = simulate(net, x, record_state=True)
    lava = run_lava(net, x, record_state=True, workdir=workdir)
    for i in range(net.num_synapse_layers):
        for key in ("spikes", "u", "v"):
            a, b = getattr(fast, key)[i], getattr(lava, key)[i]
            if not np.array_equal(a, b):
                where = tuple(int(k) for k in np.argwhere(a != b)[0])
                return {"identical": False, "layer": i + 1, "what": key, "where": where}
    u_max = max(int(np.abs(u).max()) for u in fast.u)
    v_sat = any(int(np.abs(v).max()) == 2**23 - 1 for v in fast.v)
    return {
        "identical": True,
        "spikes": int(sum(s.sum() for s in fast.spikes)),
        "u_max": u_max,
        "v_saturated": v_sat,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    cases = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.nets):
            kind, net, x = make_case(rng, i)
            r = compare(net, x, Path(tmp))
            layers = [
                (layer.kind, layer.shape, layer.du, layer.dv, layer.vth)
                for layer in net.synapse_layers
            ]
            cases.append(
                {
                    "case": i,
                    "kind": kind,
                    "input": list(x.shape),
                    "layers": [str(v) for v in layers],
                    **r,
                }
            )
            status = (
                "identical"
                if r["identical"]
                else f"DIFFERS layer {r['layer']} {r['what']} at {r['where']}"
            )
            print(f"{i:4d} {kind:7s} input {str(list(x.shape)):22s} {len(layers)} layers  {status}")
    same = sum(c["identical"] for c in cases)
    summary = {
        "nets": len(cases),
        "identical": same,
        "with_u_past_2**23": sum(1 for c in cases if c.get("u_max", 0) > 2**23),
        "with_v_saturated": sum(1 for c in cases if c.get("v_saturated")),
        "seconds": round(time.perf_counter() - t0, 1),
        "seed": args.seed,
    }
    write_json(RESULTS, {"summary": summary, "cases": cases})
    print(
        f"\n{same}/{len(cases)} networks identical (spikes, u, v on every layer and step); "
        f"u past 2**23 in {summary['with_u_past_2**23']}, v saturated in {summary['with_v_saturated']}; "
        f"{summary['seconds']} s\nwrote {RESULTS}"
    )


if __name__ == "__main__":
    main()
