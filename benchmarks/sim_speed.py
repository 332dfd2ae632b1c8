"""Fixed-point simulation speed: the fast simulator against Lava on the same MNIST inputs.

For an fc network (the run's, e.g. the default 784-300-10; else 784-100-10) and the conv network (16c5s2-32c3s2-10) it measures, in one run:
rate encoding of the test images (timed apart), samples/s of the fast simulator on the whole
test set, samples/s of the Lava backend (netx, fixed_pt, streamed in worker processes) on a
subset, that both give identical spikes on that subset, and how much of the machine's GEMM
peak the first layer reaches (peak measured here with a large sgemm and a large int8 GEMM).

Networks come from a trained run folder when given (``--run runs/x``, its model.net), else
random weights on the real architecture with the exporter's typical parameters.

    .venv/bin/python benchmarks/sim_speed.py [--run runs/x] [--lava-samples 300]
Writes benchmarks/results/sim_speed.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from snnx.data.datasets import load_split
from snnx.data.encoders import encode
from snnx.io import write_json
from snnx.loihi.net import InputSpec, LoihiLayer, LoihiNet
from snnx.loihi.netx import read_netx, write_netx
from snnx.sim.fast import FastSimulator, _int8_linear, is_graded
from snnx.sim.lava_backend import run_lava_stream
from snnx.sim.reference import fixed_inputs

RESULTS = Path(__file__).parent / "results" / "sim_speed.json"


def random_net(kind: str, rng: np.random.Generator) -> LoihiNet:
    """Weights on the exporter's grid (even, max |w| = 254), beta = 0.95, theta = 1 at a typical scale."""

    def dense(n_out, n_in, name):
        return LoihiLayer(
            "dense",
            (n_out,),
            name=name,
            weight=2 * rng.integers(-127, 128, (n_out, n_in)),
            bias=rng.integers(-30, 30, n_out),
            du=4095,
            dv=205,
            vth=int(8 * np.sqrt(n_in) * 10),
        )

    def conv(c_out, c_in, k, s, h, name):
        return LoihiLayer(
            "conv",
            (c_out, h, h),
            name=name,
            weight=2 * rng.integers(-127, 128, (c_out, c_in, k, k)),
            bias=np.repeat(rng.integers(-30, 30, c_out), h * h).reshape(c_out, h, h),
            stride=(s, s),
            padding=(k // 2, k // 2),
            du=4095,
            dv=205,
            vth=int(80 * k * np.sqrt(c_in)),
        )

    if kind == "fc":
        layers = [
            LoihiLayer("flatten", (784,)),
            dense(100, 784, "dense1"),
            dense(10, 100, "dense2"),
        ]
    else:
        layers = [
            conv(16, 1, 5, 2, 14, "conv1"),
            conv(32, 16, 3, 2, 7, "conv2"),
            LoihiLayer("flatten", (32 * 49,)),
            dense(10, 32 * 49, "dense3"),
        ]
    return LoihiNet(InputSpec((1, 28, 28), "rate", 25), layers, source=f"random {kind}")


def conv_label(net: LoihiNet) -> str:
    """e.g. 32c5s2-64c3s2-256-10, the notation of ``model.conv``/``model.hidden``."""
    parts = []
    for layer in net.synapse_layers:
        if layer.kind == "conv":
            parts.append(f"{layer.shape[0]}c{layer.weight.shape[-1]}s{layer.stride[0]}")
        else:
            parts.append(str(layer.shape[0]))
    return "-".join(parts)


def gemm_peaks() -> dict:
    """GFLOP/s of a large float32 GEMM (torch/MKL) and GOP/s of a large u8 x s8 GEMM (oneDNN)."""
    a = torch.rand(8192, 2048)
    b = torch.rand(2048, 2048)
    a @ b
    t = time.perf_counter()
    for _ in range(3):
        a @ b
    f32 = 3 * 2 * 8192 * 2048 * 2048 / (time.perf_counter() - t) / 1e9
    x = torch.randint(0, 2, (8192, 2048), dtype=torch.uint8)
    w = torch.randint(-128, 128, (2048, 2048), dtype=torch.int8)
    packed = torch.ops.onednn.qlinear_prepack(w, None)
    _int8_linear(x, packed, 2048)
    t = time.perf_counter()
    for _ in range(3):
        _int8_linear(x, packed, 2048)
    i8 = 3 * 2 * 8192 * 2048 * 2048 / (time.perf_counter() - t) / 1e9
    return {"sgemm_gflops": round(f32, 1), "int8_gemm_gops": round(i8, 1)}


def encode_inputs(net: LoihiNet, n: int) -> tuple[np.ndarray, float]:
    """The first n test images in the network's own encoding, as the simulator's integer input."""
    images = load_split("mnist", False, os.environ.get("SNNX_DATA_DIR"))
    spec = net.input
    t = time.perf_counter()
    x = encode(images.floats(slice(0, n)), spec.encoding, spec.timesteps, seed=0,
               gain=spec.params.get("gain", 1.0), latency_tau=spec.params.get("latency_tau", 5.0))
    fixed = fixed_inputs(net, x)  # [N, T, *input shape]
    return fixed, time.perf_counter() - t


def time_fast(sim: FastSimulator, x: np.ndarray, repeats: int = 3) -> tuple[float, float, int]:
    """Best wall time of the whole simulation and of the first layer's synapse alone."""
    sim.run(x[:64])
    best = first = float("inf")
    chunk = sim.chunk_size()
    syn = sim.stages[0].synapse
    for _ in range(repeats):
        t = time.perf_counter()
        sim.run(x)
        best = min(best, time.perf_counter() - t)
        t = time.perf_counter()
        for i in range(0, len(x), chunk):
            xs = x[i : i + chunk]
            xs = xs.reshape(xs.shape[0] * xs.shape[1], *xs.shape[2:])
            syn(xs.transpose(0, 2, 3, 1) if getattr(syn, "hwc", False) else xs)  # a conv's state is channels-last
        first = min(first, time.perf_counter() - t)
    return best, first, chunk


def first_layer_ops(net: LoihiNet, x: np.ndarray) -> float:
    layer = net.synapse_layers[0]
    n_steps = x.shape[0] * x.shape[1]
    if layer.kind == "dense":
        return 2.0 * n_steps * layer.weight.size
    c, h, w = layer.shape
    return 2.0 * n_steps * c * h * w * int(np.prod(layer.weight.shape[1:]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="run folder whose model.net is the fc network")
    ap.add_argument("--conv-run", type=Path, help="run folder whose model.net is the conv network")
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--lava-samples", type=int, default=300)
    ap.add_argument("--lava-conv-samples", type=int, default=60)
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    fc = read_netx(args.run / "model.net") if args.run else random_net("fc", rng)
    nets = {f"{int(np.prod(fc.input.shape))}-{conv_label(fc)}": fc}
    if args.conv_run:
        conv = read_netx(args.conv_run / "model.net")
        nets[f"conv {conv_label(conv)}"] = conv
    else:
        nets["conv 16c5s2-32c3s2-10"] = random_net("conv", rng)
    peaks = gemm_peaks()
    rows, encodings = [], []
    for name, net in nets.items():
        x, encode_s = encode_inputs(net, args.samples)
        encodings.append({"network": name, "kind": net.input.encoding, "timesteps": net.input.timesteps,
                          "samples": len(x), "seconds": round(encode_s, 3)})
        sim = FastSimulator(net, x.shape[1], is_graded(x))
        fast_s, first_s, chunk = time_fast(sim, x)
        n_lava = args.lava_conv_samples if name.startswith("conv") else args.lava_samples
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.net"
            write_netx(net, path)
            t = time.perf_counter()
            lava = run_lava_stream(path, x[:n_lava], progress=False)
            lava_s = time.perf_counter() - t
        fast_sub = sim.run(x[:n_lava])
        identical = all(
            np.array_equal(a, b) for a, b in zip(fast_sub.spikes, lava.spikes, strict=True)
        )
        ops = first_layer_ops(net, x)
        syn = sim.stages[0].synapse
        gemm = "int8 (oneDNN VNNI)" if getattr(syn, "int8", None) is not None else "float32"
        peak = peaks["int8_gemm_gops"] if gemm.startswith("int8") else peaks["sgemm_gflops"]
        fast_sps, lava_sps = len(x) / fast_s, n_lava / lava_s
        rows.append(
            {
                "network": name,
                "source": net.source,
                "encoding": f"{net.input.encoding}, {net.input.timesteps} steps",
                "samples_fast": len(x),
                "fast_seconds": round(fast_s, 4),
                "fast_samples_per_s": round(fast_sps, 1),
                "samples_lava": n_lava,
                "lava_seconds": round(lava_s, 2),
                "lava_samples_per_s": round(lava_sps, 2),
                "lava_seconds_for_10k_estimate": round(10000 / lava_sps, 1),
                "speedup": round(fast_sps / lava_sps, 1),
                "identical_spikes": identical,
                "first_layer_gemm": gemm,
                "first_layer_seconds": round(first_s, 4),
                "first_layer_gops": round(ops / first_s / 1e9, 1),
                "first_layer_fraction_of_peak": round(ops / first_s / 1e9 / peak, 3),
                "chunk_samples": chunk,
            }
        )
    result = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_avg_1min": os.getloadavg()[0],
            **peaks,
        },
        "encoding": encodings,
        "networks": rows,
        "target": "fast >= 1000x Lava; 10k samples of 784-100-10 in <= 0.25 s",
    }
    write_json(RESULTS, result)
    print(
        f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; sgemm peak {peaks['sgemm_gflops']} "
        f"GFLOP/s, int8 GEMM peak {peaks['int8_gemm_gops']} GOP/s"
    )
    for e in encodings:
        print(f"{e['network']}: {e['kind']} encoding of {e['samples']} images x {e['timesteps']} steps: "
              f"{e['seconds']:.2f} s (not in the times below)")
    print()
    head = (
        f"{'network':24s}{'fast s':>9s}{'fast smp/s':>12s}{'Lava smp/s':>12s}{'speedup':>10s}{'same':>6s}"
        f"{'L1 GEMM':>20s}{'of peak':>9s}"
    )
    print(head)
    for r in rows:
        print(
            f"{r['network']:24s}{r['fast_seconds']:>9.3f}{r['fast_samples_per_s']:>12,.0f}"
            f"{r['lava_samples_per_s']:>12,.2f}{r['speedup']:>9,.0f}x{str(r['identical_spikes']):>6s}"
            f"{r['first_layer_gemm']:>20s}{100 * r['first_layer_fraction_of_peak']:>8.0f}%"
        )
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
