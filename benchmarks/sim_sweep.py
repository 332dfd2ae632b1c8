"""Sweep: the fast simulator against Lava on many random networks, spikes, u and v bit for bit.

A larger version of tests/sim/test_fast_vs_lava.py: random dense and conv nets with every
corner of the arithmetic (odd / single-sign / all-zero weights, du and dv at 0 and 4095,
13-bit biases, thresholds from 0 to 2**17 - 1, dense inputs that wrap u and saturate v,
graded inputs). Then ``--recurrent`` random netx ``dense_rec`` nets (tests/sim/
test_recurrent_vs_lava.py; docs/design.md §12): the same corners on both synapses, driven to
spike past their windows, some with a layer whose u wraps and v saturates, some with graded
input; Lava runs all samples as one stream, the fast simulator in two calls (``stream``), so
the recurrent state must carry across samples and calls. Prints a table of cases and writes
benchmarks/results/sim_sweep.json.

    .venv/bin/python benchmarks/sim_sweep.py [--nets 60] [--recurrent 20] [--seed 0] [--out FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np

from snnx.io import write_json
from snnx.loihi.limits import BIAS_MAX
from snnx.loihi.net import InputSpec
from snnx.sim.fast import FastRun, FastSimulator, simulate
from snnx.sim.lava_backend import run_lava
from snnx.sim.randnet import random_conv_net, random_dense_net, random_inputs, random_recurrent_net

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


RECURRENT_KINDS = ["rec", "rec", "rec-wrap", "rec-graded"]


def make_recurrent_case(rng: np.random.Generator, i: int):
    """A random dense_rec net (hidden layers recurrent, the output at random) and its inputs.

    ``rec-wrap``: a wide first layer with excitatory input weights, no current decay and
    biases at the limit, so u passes 2**23 (wraps) and v saturates, feeding its recurrent
    synapse. ``rec-graded``: graded 0..255 input (a direct-encoded net)."""
    kind = RECURRENT_KINDS[i % len(RECURRENT_KINDS)]
    wide = kind == "rec-wrap"
    sizes = [int(rng.integers(100, 200)) if wide else int(rng.integers(2, 60))]
    sizes += [int(rng.integers(2, 40)) for _ in range(int(rng.integers(2, 4)))]
    net = random_recurrent_net(rng, sizes, busy=wide or rng.random() < 0.7)
    if wide:
        first = net.layers[0]
        first = dataclasses.replace(first, weight=rng.integers(128, 256, first.weight.shape), du=0,
                                    dv=int(rng.choice([0, 1])), bias=np.full(first.shape, BIAS_MAX))
        net = dataclasses.replace(net, layers=(first, *net.layers[1:]))
    samples, steps = int(rng.integers(2, 6)), int(rng.integers(8, 16) if wide else rng.integers(2, 12))
    if kind == "rec-graded":
        net = dataclasses.replace(net, input=InputSpec(net.input.shape, "direct", steps))
        x = rng.integers(0, 256, (samples, steps, *net.input.shape)).astype(np.uint8)
    else:
        x = random_inputs(rng, net, samples, steps, rate=0.9 if wide else None)
    return kind, net, x


def stream_run(net, x: np.ndarray) -> tuple[FastRun, bool]:
    """The fast simulator over a stream of samples in two calls (state carried from the first
    call to the second), and whether that state changed a later sample's spikes (a run of each
    sample from rest differs)."""
    graded = bool(x.max(initial=0) > 1)
    sim = FastSimulator(net, int(x.shape[1]), graded=graded, stream=True)
    cut = max(1, len(x) // 2)
    parts = [sim.run(x[:cut], record_state=True), sim.run(x[cut:], record_state=True)]
    joined = FastRun(
        spikes=[np.concatenate(p) for p in zip(*(r.spikes for r in parts), strict=True)],
        latency=parts[0].latency,
        u=[np.concatenate(p) for p in zip(*(r.u for r in parts), strict=True)],
        v=[np.concatenate(p) for p in zip(*(r.v for r in parts), strict=True)],
    )
    alone = FastSimulator(net, int(x.shape[1]), graded=graded, independent=True).run(x)
    crossed = any(not np.array_equal(a, b) for a, b in zip(alone.spikes, joined.spikes, strict=True))
    return joined, crossed


def compare(net, x, workdir: Path, fast: FastRun | None = None) -> dict:
    fast = simulate(net, x, record_state=True) if fast is None else fast
    lava = run_lava(net, x, record_state=True, workdir=workdir)
    for i in range(net.num_synapse_layers):
        for key in ("spikes", "u", "v"):
            a, b = getattr(fast, key)[i], getattr(lava, key)[i]
            if not np.array_equal(a, b):
                where = tuple(int(k) for k in np.argwhere(a != b)[0])
                return {"identical": False, "layer": i + 1, "what": key, "where": where}
    u_max = max(int(np.abs(u).max()) for u in fast.u)
    big = 2**22  # u jumping from above +big to below -big (or back) in one step has wrapped at 2**23
    wrapped = any(bool((((u[:, :-1] > big) & (u[:, 1:] < -big)) | ((u[:, :-1] < -big) & (u[:, 1:] > big))).any())
                  for u in fast.u)
    v_sat = any(int(np.abs(v).max()) == 2**23 - 1 for v in fast.v)
    return {
        "identical": True,
        "spikes": int(sum(s.sum() for s in fast.spikes)),
        "u_max": u_max,
        "u_wrapped": wrapped,
        "v_saturated": v_sat,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", type=int, default=60)
    ap.add_argument("--recurrent", type=int, default=20, help="random dense_rec nets after the others")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS, help="the JSON to write")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    rec_rng = np.random.default_rng([args.seed, 14])  # its own stream: the first --nets cases stay as before
    cases = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.nets + args.recurrent):
            if i < args.nets:
                kind, net, x = make_case(rng, i)
                r = compare(net, x, Path(tmp))
            else:
                kind, net, x = make_recurrent_case(rec_rng, i - args.nets)
                fast, crossed = stream_run(net, x)
                r = {**compare(net, x, Path(tmp), fast), "state_crossed_samples": crossed}
            layers = [
                (layer.kind + ("_rec" if layer.is_recurrent else ""), layer.shape, layer.du, layer.dv, layer.vth)
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
            print(f"{i:4d} {kind:10s} input {str(list(x.shape)):22s} {len(layers)} layers  {status}")
    same = sum(c["identical"] for c in cases)
    summary = {
        "nets": len(cases),
        "identical": same,
        "with_u_past_2**23": sum(1 for c in cases if c.get("u_max", 0) > 2**23),
        "with_v_saturated": sum(1 for c in cases if c.get("v_saturated")),
        "recurrent": {
            "nets": sum(c["kind"].startswith("rec") for c in cases),
            "identical": sum(c["identical"] for c in cases if c["kind"].startswith("rec")),
            "with_u_past_2**23": sum(1 for c in cases if c["kind"].startswith("rec") and c.get("u_max", 0) > 2**23),
            "with_u_wrapped": sum(1 for c in cases if c["kind"].startswith("rec") and c.get("u_wrapped")),
            "with_v_saturated": sum(1 for c in cases if c["kind"].startswith("rec") and c.get("v_saturated")),
            "state_crossed_samples": sum(1 for c in cases if c.get("state_crossed_samples")),
        },
        "seconds": round(time.perf_counter() - t0, 1),
        "seed": args.seed,
    }
    write_json(args.out, {"summary": summary, "cases": cases})
    rec = summary["recurrent"]
    print(
        f"\n{same}/{len(cases)} networks identical (spikes, u, v on every layer and step); "
        f"u past 2**23 in {summary['with_u_past_2**23']}, v saturated in {summary['with_v_saturated']}; "
        f"{summary['seconds']} s\n  of them dense_rec: {rec['identical']}/{rec['nets']} identical, u wrapped in "
        f"{rec['with_u_wrapped']}, past 2**23 in {rec['with_u_past_2**23']}, v saturated in {rec['with_v_saturated']}, recurrent state changed a "
        f"later sample in {rec['state_crossed_samples']}\nwrote {args.out}"
    )


if __name__ == "__main__":
    main()
