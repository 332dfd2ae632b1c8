"""Accuracy on the full MNIST test set: float model vs Loihi fixed point, without and with QAT.

For a run trained without QAT and one trained with it (trained here with ``snnx train`` unless
existing run folders are given), export each (``snnx export``: NIR -> quantized netx) and
compare on the same encoded test images (the seeds ``snnx sim`` uses):

* float: the checkpoint's model (its own effective weights; QAT-rounded for the QAT run);
* fixed (fast sim): the exported model.net in ``snnx.sim.fast``, bit-exact with Lava;
* fixed (int ref): the same integers in a plain step-by-step integer reference
  (``snnx.export.intref``), an independent check of the fast simulator.

Target (issue 3): with QAT the fixed-point accuracy is within 0.1 points of float.

    SNNX_DATA_DIR=path/to/mnist .venv/bin/python benchmarks/quantization.py --epochs 5
    .venv/bin/python benchmarks/quantization.py --float-run runs/a --qat-run runs/b   # reuse runs

Prints a table and writes benchmarks/results/quantization.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from snnx.data.datasets import load_split  # noqa: E402
from snnx.export.intref import integer_reference  # noqa: E402
from snnx.export.stage import export_command  # noqa: E402
from snnx.run import RunFolder  # noqa: E402
from snnx.sim.fast import predictions, simulate  # noqa: E402
from snnx.sim.reference import FloatReference, encoded_batches, fixed_inputs  # noqa: E402
from snnx.train.checkpoint import exists as checkpoint_exists  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "quantization.json"


def train(run: Path, qat: bool, epochs: int, extra: list[str]) -> float:
    """``snnx train`` in a child process (keeps this one light); returns seconds."""
    cmd = [sys.executable, "-m", "snnx.cli", "train", "-o", str(run), "--set", f"train.epochs={epochs}",
           "--set", f"train.qat={'true' if qat else 'false'}"]
    for s in extra:
        cmd += ["--set", s]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def evaluate(run: Path, samples: int | None, data_dir: Path | None) -> dict:
    with contextlib.redirect_stdout(io.StringIO()):
        net = export_command(run, "loihi", None, None, None, None, None)
    ref = FloatReference(run / "checkpoint.json")
    cfg = ref.config
    images = load_split(cfg.data.dataset, False, data_dir or cfg.data.dir)
    n = len(images) if samples is None else min(samples, len(images))
    lat = net.num_synapse_layers
    pred = {"float": [], "fast": [], "intref": []}
    labels = []
    t0 = time.perf_counter()
    enc = RunFolder(run).input_encoding(net=net)  # model.net's input spec, as `snnx sim` encodes
    for b in encoded_batches(images, n, enc, cfg.train.seed):
        x = fixed_inputs(net, b.spikes)
        pred["float"].append(predictions(ref.run(b.spikes).counts))
        pred["fast"].append(simulate(net, x).predictions)
        out = integer_reference(net, x.astype(np.int64))[-1]
        pred["intref"].append(predictions(out[:, lat:].sum(1)))
        labels.append(b.labels)
    y = np.concatenate(labels)
    p = {k: np.concatenate(v) for k, v in pred.items()}
    quant = RunFolder(run).load_quant()
    return {
        "run": run.name, "samples": int(n), "qat": bool(cfg.train.qat), "epochs": cfg.train.epochs,
        "model": f"{cfg.model.kind} {cfg.model.hidden} alpha={cfg.model.neuron.alpha} beta={cfg.model.neuron.beta}",
        "encoding": cfg.data.encoding, "timesteps": cfg.data.timesteps,
        "accuracy": {k: float(np.mean(v == y)) for k, v in p.items()},
        "agreement_with_float": {k: float(np.mean(v == p["float"])) for k, v in p.items() if k != "float"},
        "max_weight_error_units": max(q.max_weight_error * q.scale for q in quant.layers),
        "eval_seconds": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--float-run", type=Path, help="existing run trained with train.qat=false")
    ap.add_argument("--qat-run", type=Path, help="existing run trained with train.qat=true")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "runs", help="where to train missing runs")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--set", dest="extra", action="append", default=[], help="extra snnx train --set for both runs")
    ap.add_argument("--samples", type=int, help="first N test images (default: all 10,000)")
    ap.add_argument("--data-dir", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(2)

    runs, train_seconds = {}, {}
    for name, qat, given in (("no_qat", False, args.float_run), ("qat", True, args.qat_run)):
        run = given or args.out_dir / f"bench-quant-{name}"
        if not checkpoint_exists(run / "checkpoint.json"):
            print(f"training {run} (qat={qat}, {args.epochs} epochs) ...", flush=True)
            train_seconds[name] = round(train(run, qat, args.epochs, args.extra), 1)
        runs[name] = run
    results = {name: evaluate(run, args.samples, args.data_dir) for name, run in runs.items()}

    a, q = results["no_qat"]["accuracy"], results["qat"]["accuracy"]
    rows = [
        ("float model (trained without QAT)", a["float"]),
        ("  quantized, no QAT: fixed point (fast sim = Lava)", a["fast"]),
        ("  quantized, no QAT: fixed point (int ref)", a["intref"]),
        ("float model (trained with QAT)", q["float"]),
        ("  quantized, QAT: fixed point (fast sim = Lava)", q["fast"]),
        ("  quantized, QAT: fixed point (int ref)", q["intref"]),
    ]
    n = results["qat"]["samples"]
    print(f"\nMNIST test accuracy, {n} images ({results['qat']['model']}, {results['qat']['encoding']}, "
          f"T={results['qat']['timesteps']})")
    width = max(len(r[0]) for r in rows)
    for label, acc in rows:
        print(f"{label:<{width}}  {100 * acc:7.2f} %")
    gap_fast = 100 * (q["float"] - q["fast"])
    gap_ref = 100 * (q["float"] - q["intref"])
    print(f"QAT gap float - fixed: {gap_fast:+.2f} points (fast sim), {gap_ref:+.2f} points (int ref); "
          f"target |gap| <= 0.1")
    payload = {
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform()},
        "train_seconds": train_seconds,
        "results": results,
        "qat_gap_points": {"fast": gap_fast, "intref": gap_ref},
        "target_met": {"fast": abs(gap_fast) <= 0.1, "intref": abs(gap_ref) <= 0.1},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
