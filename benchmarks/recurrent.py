"""Recurrent SNNs from training to Loihi (issue 14): row-MNIST and the NIR paper's Braille network.

1. Row-sequential MNIST: one binary image row per step (28 steps of 28 inputs, ``data.encoding=rows``),
   a recurrent hidden layer (``model.recurrent=true``, netx ``dense_rec``) and a dense readout,
   trained with QAT (``snnx train``, unless ``--run`` names a trained run), exported (``snnx export``)
   and simulated on the full 10,000-image test set (``snnx sim``, fast backend): float vs deployed
   fixed-point accuracy. Then Lava and the fast simulator on the first ``--lava-samples`` test
   images (``snnx sim --backend both``): identical spikes on every layer and step?
2. The NIR paper's ``braille_noDelay_bias_zero.nir`` (snnTorch RSynaptic, 12-38-7, recurrent hidden
   layer; tests/export/fixtures/nir_paper): imported (``snnx export --from-nir``), quantized to
   dense_rec and run on random input spikes (no Braille data here): the float network the graph
   describes (snnx's reading of it, ``snnx.export.nir_build``) vs the fixed point (fast), and Lava
   vs fast on a subset.

    SNNX_DATA_DIR=path/to/mnist .venv/bin/python benchmarks/recurrent.py   # trains examples/rows.yaml
    .venv/bin/python benchmarks/recurrent.py --run runs/rows   # reuse a trained run

Prints a table and writes benchmarks/results/recurrent.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import snnx  # noqa: E402
from snnx.export.from_nir import graph_to_float, read_graph  # noqa: E402
from snnx.export.nir_build import build_float_model  # noqa: E402
from snnx.export.quantize import quantize  # noqa: E402
from snnx.sim.fast import FastSimulator  # noqa: E402

BRAILLE = ROOT / "tests" / "export" / "fixtures" / "nir_paper" / "braille_noDelay_bias_zero.nir"
RECIPE = ROOT / "examples" / "rows.yaml"  # the one definition of the row-MNIST recipe (README, this benchmark)


def row_mnist(run: Path | None, epochs: int | None, lava_samples: int, out: Path, extra: list[str],
              stream_clock: int) -> dict:
    t0 = time.perf_counter()
    if run is None:
        run = out / "rows"
        more = [] if epochs is None else [f"train.epochs={epochs}"]
        snnx.train(run, config=RECIPE, overrides=[*extra, *more], overwrite=True)
    train_s = time.perf_counter() - t0
    snnx.export(run, stream_clock=stream_clock)  # clock neurons: the deployed stream leaks nothing (§12)
    snnx.simulate(run, backend="fast")
    full_json = json.loads((run / "sim.json").read_text())
    snnx.simulate(run, backend="both", samples=lava_samples)
    both_json = json.loads((run / "sim.json").read_text())
    # each sample from rest (a fresh network per sample; netx's streaming reset leaks state, §12)
    from snnx.config import RunConfig
    from snnx.loihi.netx import read_netx
    from snnx.sim.lava_backend import run_lava
    from snnx.sim.reference import encoded_test_set

    net = read_netx(run / "model.net")
    cfg = RunConfig.load(run / "config.yaml")
    xs, ys = encoded_test_set(net, cfg, 10_000, None)
    alone = FastSimulator(net, net.input.timesteps, independent=True).run(xs)
    alone_acc = float(np.mean(alone.predictions == ys))
    alone_lava = all(
        all(np.array_equal(alone.spikes[i][k:k + 1], run_lava(net, xs[k:k + 1], workdir=out).spikes[i])
            for i in range(net.num_synapse_layers))
        for k in range(3))
    layers = []
    import h5py

    with h5py.File(run / "model.net") as f:
        layers = [f["layer"][k]["type"][0].decode() for k in sorted(f["layer"], key=int)]
    return {
        "run": str(run),
        "recipe": str(RECIPE.relative_to(ROOT)),
        "overrides": list(extra),
        "stream_clock": stream_clock,
        "epochs": cfg.train.epochs,
        "hidden": list(cfg.model.hidden),
        "alpha": cfg.model.neuron.alpha,
        "beta": cfg.model.neuron.beta,
        "train_seconds": round(train_s, 1) if train_s > 1 else None,
        "netx_layers": layers,
        "samples": full_json["samples"],
        "float_accuracy": full_json["float_accuracy"],
        "fixed_accuracy": full_json["fixed_accuracy"],
        "agreement": full_json["agreement"],
        "gap_points": round(100 * (full_json["float_accuracy"] - full_json["fixed_accuracy"]), 3),
        "spikes_per_sample": full_json["spikes_per_sample"],
        "fixed_accuracy_each_from_rest": alone_acc,
        "sim_fixed_accuracy_from_rest": full_json.get("fixed_accuracy_from_rest"),  # snnx sim's own figure
        "leaked_samples": full_json.get("leaked_samples"),  # samples the stream changed (snnx sim)
        "recurrent_last_step_silent": float(np.mean(~alone.spikes[0][:, -1].any(axis=1))),
        "gap_points_each_from_rest": round(100 * (full_json["float_accuracy"] - alone_acc), 3),
        "lava_fast_identical_each_from_rest_3_samples": bool(alone_lava),
        "lava_samples": both_json["samples"],
        "lava_fast_identical": both_json["lava_fast_identical"],
        "lava_fixed_accuracy": both_json["fixed_accuracy"],
    }


def braille(samples: int, steps: int, lava_samples: int, out: Path) -> dict:
    from snnx.sim.lava_backend import run_lava

    run = out / "braille"
    snnx.export(from_nir=BRAILLE, out=run, timesteps=steps)
    fnet = graph_to_float(read_graph(BRAILLE))
    net, report = quantize(fnet)
    rng = np.random.default_rng(0)
    x = (rng.random((samples, steps, 12)) < 0.1).astype(np.uint8)
    with torch.no_grad():
        fout = build_float_model(fnet)(torch.from_numpy(x).float().permute(1, 0, 2))
    f_hidden = fout.spikes[0].permute(1, 0, 2).numpy().astype(bool)
    f_counts = fout.counts.numpy()
    fast = FastSimulator(net, steps, independent=True).run(x)  # each sample from rest, as the float net
    streamed = FastSimulator(net, steps).run(x)  # netx's streaming reset: state crosses samples (§12)
    lat = net.num_synapse_layers
    q_counts = fast.counts
    active = f_counts.sum(1) > 0
    lava = run_lava(net, x[:lava_samples], workdir=out)
    identical = all(np.array_equal(streamed.spikes[i][:lava_samples], lava.spikes[i]) for i in range(lat))
    deployed = None
    np.save(out / "braille_inputs.npy", x)
    try:
        snnx.simulate(run, backend="fast", input=out / "braille_inputs.npy")  # deploy reads sim.json's activity
        snnx.deploy(run)
        deployed = sorted(p.name for p in (run / "deploy" / "loihi2").iterdir())
    except snnx.SnnxError as exc:  # reported, not hidden
        deployed = f"snnx: error: {exc}"
    return {
        "graph": str(BRAILLE.relative_to(ROOT)),
        "source": "github.com/neuromorphs/NIR paper/03_rnn (commit 7232ada6)",
        "framework": fnet.framework,
        "notes": fnet.notes + [n for ly in fnet.layers for n in ly.notes],
        "scales": [round(r.scale, 3) for r in report.layers],
        "vth": [r.vth for r in report.layers],
        "samples": samples,
        "timesteps": steps,
        "input_rate": 0.1,
        "prediction_agreement": float(np.mean(f_counts.argmax(1) == q_counts.argmax(1))),
        "prediction_agreement_active": float(np.mean((f_counts.argmax(1) == q_counts.argmax(1))[active]))
        if active.any() else None,
        "hidden_spike_flips": float(np.mean(f_hidden != fast.spikes[0])),
        "prediction_agreement_streamed": float(np.mean(f_counts.argmax(1) == streamed.counts.argmax(1))),
        "hidden_spikes_per_sample": [float(f_hidden.sum() / samples), float(fast.spikes[0].sum() / samples)],
        "output_spikes_per_sample": [float(f_counts.sum() / samples), float(q_counts.sum() / samples)],
        "count_correlation": float(np.corrcoef(f_counts.reshape(-1), q_counts.reshape(-1))[0, 1]),
        "lava_samples": lava_samples,
        "lava_fast_identical": bool(identical),
        "deploy": deployed,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="a trained row-MNIST recurrent run (skips training)")
    ap.add_argument("--epochs", type=int, default=None, help="train.epochs (default: the recipe's)")
    ap.add_argument("--lava-samples", type=int, default=100)
    ap.add_argument("--braille-samples", type=int, default=500)
    ap.add_argument("--braille-steps", type=int, default=100)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_recurrent")
    ap.add_argument("--skip-mnist", action="store_true")
    ap.add_argument("--stream-clock", type=int, default=32,
                    help="clock neurons in the dense_rec layer (snnx export --stream-clock; 0: off)")
    ap.add_argument("--set", dest="extra", action="append", default=[], metavar="KEY=VALUE",
                    help="a config override added to the recipe (e.g. train.silence_weight=30)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    res: dict = {"machine": platform.platform(), "torch_threads": torch.get_num_threads()}
    if not args.skip_mnist:
        res["row_mnist"] = row_mnist(args.run, args.epochs, args.lava_samples, args.out, args.extra,
                                     args.stream_clock)
    res["braille"] = braille(args.braille_samples, args.braille_steps, min(args.lava_samples, 20), args.out)
    rows = []
    if "row_mnist" in res:
        m = res["row_mnist"]
        hidden = " -> ".join(f"{h} (dense_rec)" for h in m["hidden"])
        rows += [(f"row-MNIST recurrent 28x28 -> {hidden} -> 10, test images", f"{m['samples']}"),
                 (f"  alpha {m['alpha']}, beta {m['beta']}, epochs", f"{m['epochs']}"),
                 ("  stream clock neurons (snnx export --stream-clock)", f"{m['stream_clock']}"),
                 ("  float accuracy", f"{100 * m['float_accuracy']:.2f} %"),
                 ("  fixed point, each sample from rest (fresh network per sample)",
                  f"{100 * m['fixed_accuracy_each_from_rest']:.2f} %"),
                 ("  gap (points)", f"{m['gap_points_each_from_rest']:.2f}"),
                 ("  fixed point, streamed with netx's reset (snnx sim: deployed)", f"{100 * m['fixed_accuracy']:.2f} %"),
                 ("  samples the stream changed (leak through the reset)", f"{m['leaked_samples']}"),
                 ("  samples whose recurrent layer ends silent", f"{100 * m['recurrent_last_step_silent']:.2f} %"),
                 ("  Lava == fast, each from rest, 3 images", str(m["lava_fast_identical_each_from_rest_3_samples"])),
                 (f"  Lava == fast (streamed), first {m['lava_samples']} images", str(m["lava_fast_identical"]))]
    b = res["braille"]
    rows += [(f"Braille (NIR paper) 12 -> 38 (dense_rec) -> 7, {b['samples']} random inputs x {b['timesteps']} steps",
              b["framework"]),
             ("  prediction agreement float/fixed (each from rest)", f"{100 * b['prediction_agreement']:.1f} %"),
             ("  prediction agreement float/fixed (streamed)", f"{100 * b['prediction_agreement_streamed']:.1f} %"),
             ("  hidden spikes flipped", f"{100 * b['hidden_spike_flips']:.2f} %"),
             ("  output count correlation", f"{b['count_correlation']:.3f}"),
             (f"  Lava == fast (streamed), first {b['lava_samples']} inputs", str(b["lava_fast_identical"])),
             ("  deploy", "ok" if isinstance(b["deploy"], list) else str(b["deploy"])[:60])]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    dest = ROOT / "benchmarks" / "results" / "recurrent.json"
    dest.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {dest.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
