"""``snnx compare RUN``: the same architecture trained as a ReLU ANN, measured side by side.

Accuracy, activation sparsity, MACs vs synaptic operations per inference, energy under the
docs/design.md §8 profiles (the SNN's from its deploy report, the ANN's from Horowitz's 45 nm
numbers), and parameter count. Written to ``RUN/compare.json`` and printed as a table.

It lives in deploy/ because it reads the deploy report (energy.json) and prices the ANN with
deploy's energy model; ``snnx.train.ann`` only builds and trains the twin.
"""

from __future__ import annotations

from pathlib import Path

from snnx.artifacts import stamp
from snnx.data.datasets import load_data
from snnx.deploy.energy import ann_energy
from snnx.errors import SnnxError
from snnx.io import write_json
from snnx.run import RunFolder
from snnx.train.ann import train_ann
from snnx.train.checkpoint import Checkpoint


def compare_command(run: Path, data_dir: Path | None) -> dict:
    folder = RunFolder(run)
    run = folder.root
    from snnx.provenance import check_run

    ck = Checkpoint.load(folder.checkpoint)
    check_run(run)  # nothing stale, no bundle modified
    sim = folder.load_sim().to_dict()  # typed, schema-checked
    if not folder.energy().exists():
        raise SnnxError(f"{folder.energy()} not found; run `snnx deploy {run} --target loihi2` first")
    energy = folder.load_energy().document
    cfg = ck.config
    train_set = load_data(cfg.data, True, data_dir)
    test_set = load_data(cfg.data, False, data_dir)
    print(f"training the ANN twin ({cfg.train.epochs} epochs, ReLU) ...", flush=True)
    ann = train_ann(ck.spec, train_set, test_set, max(cfg.train.epochs, 1), cfg.train.lr,
                    cfg.train.batch_size, cfg.train.seed)
    model = ck.build_model()
    snn_params = sum(p.numel() for p in model.parameters())
    steps = int(energy.get("steps_per_inference") or (cfg.data.timesteps + len(ck.spec.layers)))
    # layer l (1-based) runs steps - l steps (held at zero until the sample reaches it)
    slots = sum(int(layer.get("neurons", 0)) * (steps - i)
                for i, layer in enumerate(energy.get("layers", []), start=1))
    spikes = float(energy.get("spikes_per_inference", 0.0))
    snn_sparsity = 1.0 - spikes / slots if slots else None
    ann_e = ann_energy(ann.macs)
    profile = energy.get("profile")
    profile_name = profile.get("name") if isinstance(profile, dict) else profile
    result = {
        "snn": {"float_accuracy": sim.get("float_accuracy"), "fixed_accuracy": sim.get("fixed_accuracy"),
                "test_images": sim.get("samples"),
                "sparsity": snn_sparsity, "synops_per_inference": energy.get("synops_per_inference"),
                "energy_per_inference_uJ": energy.get("energy_per_inference_uJ"),
                "parameters": snn_params, "profile": profile_name},
        "ann": {"accuracy": ann.accuracy, "test_images": len(test_set), "sparsity": ann.sparsity,
                "macs_per_inference": ann.macs,
                "energy_fp32_uJ": ann_e["fp32_energy_per_inference_uJ"],
                "energy_int8_uJ": ann_e["int8_energy_per_inference_uJ"],
                "parameters": ann.parameters, "train_seconds": round(ann.seconds, 1)},
        "notes": ("SNN sparsity = fraction of (neuron, step) pairs without a spike; ANN sparsity = fraction of "
                  "zero ReLU outputs. ANN energy = MACs x 45 nm MAC energy, compute only: " + ann_e["source"]),
    }
    write_json(folder.compare, stamp("compare", result))
    _print(result)
    return result


def _print(r: dict) -> None:
    s, a = r["snn"], r["ann"]

    def pct(x):
        return "n/a" if x is None else f"{100 * x:.2f} %"

    def num(x, fmt=",.0f"):
        return "n/a" if x is None else format(x, fmt)

    rows = [
        ("accuracy", f"{pct(s['fixed_accuracy'])} (fixed) / {pct(s['float_accuracy'])} (float)", pct(a["accuracy"])),
        ("sparsity", pct(s["sparsity"]), pct(a["sparsity"])),
        ("ops per inference", f"{num(s['synops_per_inference'])} synops", f"{num(a['macs_per_inference'])} MACs"),
        ("energy per inference (uJ)", f"{num(s['energy_per_inference_uJ'], '.3g')} ({s['profile']})",
         f"{num(a['energy_fp32_uJ'], '.3g')} FP32 / {num(a['energy_int8_uJ'], '.3g')} int8"),
        ("parameters", num(s["parameters"]), num(a["parameters"])),
        ("test images", num(s["test_images"]), num(a["test_images"])),
    ]
    print(f"\n{'':28}{'SNN (Loihi)':>40}{'ANN (same layers, ReLU)':>36}")
    for name, x, y in rows:
        print(f"{name:28}{x:>40}{y:>36}")
    if s["test_images"] is not None and s["test_images"] < a["test_images"]:
        print(f"note: the SNN figures come from the last `snnx sim` ({s['test_images']:,} test images); "
              "run `snnx sim RUN` and `snnx deploy RUN` for the whole test set")
