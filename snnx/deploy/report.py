"""Human-readable energy reports: energy.md, a per-layer bar chart, and the stdout table.

Every number comes from the ``energy.json`` dict (:func:`snnx.deploy.energy.estimate_energy`),
so the three views can never disagree with the JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snnx.io import atomic_path, write_text

COMPONENTS = ("synops", "neuron_updates", "spikes", "static")


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f} %"


def _samples(e: dict[str, Any]) -> str:
    """Which samples the counts are means over: the test set's, or a user's spike file's."""
    source = e.get("input")
    return f"{e['samples']:,} samples of {source}" if source else f"{e['samples']:,} test images"


def format_energy(e: dict[str, Any]) -> str:
    """The energy table printed by ``snnx deploy``."""
    head = f"{'layer':10s}{'in spikes':>11s}{'synops':>12s}{'spikes':>9s}{'updates':>10s}{'energy uJ':>11s}"
    lines = [
        f"energy per inference, profile {e['profile']['name']} (mean over {_samples(e)})",
        head,
        "-" * len(head),
    ]
    for layer in e["layers"]:
        lines.append(
            f"{layer['name']:10s}{layer['input_spikes_per_inference']:>11,.1f}{layer['synops_per_inference']:>12,.0f}"
            f"{layer['spikes_per_inference']:>9,.1f}{layer['neuron_updates_per_inference']:>10,.0f}{layer['energy_uJ']:>11.4f}"
        )
    lines.append("-" * len(head))
    lines.append(
        f"{'total':10s}{e['input_spikes_per_inference']:>11,.1f}{e['synops_per_inference']:>12,.0f}"
        f"{e['spikes_per_inference']:>9,.1f}{e['neuron_updates_per_inference']:>10,.0f}{e['energy_per_inference_uJ']:>11.4f}"
    )
    ann = e["ann"]
    lines += [
        f"energy {e['energy_per_inference_uJ']:.4g} uJ = dynamic {e['dynamic_energy_per_inference_uJ']:.4g} + "
        f"static {e['static_energy_per_inference_uJ']:.4g} uJ; latency {e['latency_us']:.0f} us "
        f"({e['steps_per_inference']} steps x {e['step_time_us']:g} us, assumed); fixed-point accuracy {_pct(e['accuracy'])}"
        f" ({_samples(e)})",
        f"same network as an ANN: {ann['macs_per_inference']:,} MACs -> FP32 {ann['fp32_energy_per_inference_uJ']:.4g} uJ, "
        f"int8 {ann['int8_energy_per_inference_uJ']:.4g} uJ (45 nm, arithmetic only)",
        *([neurobench_line(e["neurobench"])] if e.get("neurobench") else []),
        "published: "
        + "; ".join(
            f"{r['what']} {r['energy_per_inference_uJ']:g} uJ ({r['source']})"
            for r in e["reference_points"]
        ),
    ]
    return "\n".join(lines)


def neurobench_line(nb: dict[str, Any]) -> str:
    """NeuroBench's metrics of the deployed network in one line."""
    ops = nb["SynapticOperations"]
    mem = "n/a" if nb.get("MembraneUpdates") is None else f"{nb['MembraneUpdates']:,.0f}"
    return (f"NeuroBench: Footprint {nb['Footprint']:,} B, ConnectionSparsity {nb['ConnectionSparsity']:.4f}, "
            f"ActivationSparsity {nb['ActivationSparsity']:.4f}, SynapticOperations Effective_ACs "
            f"{ops['Effective_ACs']:,.0f} / Effective_MACs {ops['Effective_MACs']:,.0f} / Dense {ops['Dense']:,.0f}, "
            f"MembraneUpdates {mem}")


def energy_markdown(e: dict[str, Any], cmap: dict[str, Any]) -> str:
    """energy.md: the table, every constant with its source, the ANN line and the references."""
    p = e["profile"]
    out = [
        "# Energy and spike-count report",
        "",
        f"Profile **{p['name']}**: {p['description']}",
        "",
        f"Counts are means over {_samples(e)} of the bit-exact fixed-point simulation "
        f"(T = {e['timesteps']} input steps, {e['steps_per_inference']} steps per inference). "
        f"Fixed-point accuracy: {_pct(e['accuracy'])}.",
        "",
        "| layer | neurons | cores | input spikes | synaptic ops | spikes | neuron updates | energy (uJ) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for layer in e["layers"]:
        out.append(
            f"| {layer['name']} | {layer['neurons']:,} | {layer['cores']} | {layer['input_spikes_per_inference']:,.1f} | "
            f"{layer['synops_per_inference']:,.0f} | {layer['spikes_per_inference']:,.1f} | "
            f"{layer['neuron_updates_per_inference']:,.0f} | {layer['energy_uJ']:.4f} |"
        )
    out.append(
        f"| **total** | {cmap['total_neurons']:,} | {cmap['total_cores']} | {e['input_spikes_per_inference']:,.1f} | "
        f"{e['synops_per_inference']:,.0f} | {e['spikes_per_inference']:,.1f} | "
        f"{e['neuron_updates_per_inference']:,.0f} | **{e['energy_per_inference_uJ']:.4f}** |"
    )
    comp = e["energy_by_component_uJ"]
    out += [
        "",
        f"**Energy per inference: {e['energy_per_inference_uJ']:.4g} uJ** "
        f"(dynamic {e['dynamic_energy_per_inference_uJ']:.4g} uJ + static {e['static_energy_per_inference_uJ']:.4g} uJ; "
        + ", ".join(f"{k} {v:.4g} uJ" for k, v in comp.items())
        + ").",
        f"Latency estimate: {e['steps_per_inference']} steps x {e['step_time_us']:g} us = {e['latency_us']:.0f} us.",
        f"Loihi 2 resources (approximate): {cmap['total_cores']} cores, {cmap['chips']} chip(s).",
        "",
        f"Model: `{e['formula']}`",
        "",
        "## Constants",
        "",
        "| constant | value | source |",
        "|---|---:|---|",
    ]
    for key, c in p["constants"].items():
        out.append(f"| {key} | {c['value']:g} | {c['source']} |")
    ann = e["ann"]
    out += [
        "",
        "## The same network as an ANN",
        "",
        f"{ann['macs_per_inference']:,} MACs and {ann['adds_per_inference']:,} bias additions per inference (one forward pass): "
        f"FP32 {ann['fp32_energy_per_inference_uJ']:.4g} uJ, int8 {ann['int8_energy_per_inference_uJ']:.4g} uJ. "
        f"Source: {ann['source']}.",
        "",
    ]
    nb = e.get("neurobench")
    if nb:
        ops = nb["SynapticOperations"]
        mem = "n/a (this backend gives no membranes)" if nb.get("MembraneUpdates") is None else f"{nb['MembraneUpdates']:,.1f}"
        out += [
            "## NeuroBench metrics",
            "",
            "Per inference, as NeuroBench 2.x defines them, on model.net and this simulation "
            "(docs/design.md §8.1 says what differs from NeuroBench run on the float model).",
            "",
            "| metric | value |",
            "|---|---:|",
            f"| Footprint (bytes; FP32: {nb['footprint_float32_bytes']:,}) | {nb['Footprint']:,} |",
            f"| ConnectionSparsity | {nb['ConnectionSparsity']:.4f} |",
            f"| ActivationSparsity | {nb['ActivationSparsity']:.4f} |",
            f"| SynapticOperations Effective_ACs | {ops['Effective_ACs']:,.1f} |",
            f"| SynapticOperations Effective_MACs | {ops['Effective_MACs']:,.1f} |",
            f"| SynapticOperations Dense | {ops['Dense']:,.0f} |",
            f"| MembraneUpdates | {mem} |",
            "",
        ]
    out += [
        "## Published reference points",
        "",
        "| system | energy per inference (uJ) | accuracy | source |",
        "|---|---:|---:|---|",
    ]
    known = {(q["energy_per_inference_uJ"], q["accuracy"]) for q in e["reference_points"]}
    for r in e.get("published_mnist", []):
        if (r["energy_per_inference_uJ"], r["accuracy"]) in known:
            continue
        out.append(
            f"| {r['what']}, MNIST | {r['energy_per_inference_uJ']:g} | {_pct(r['accuracy'])} | {r['source']} |"
        )
    for r in e["reference_points"]:
        out.append(
            f"| {r['what']} | {r['energy_per_inference_uJ']:g} | {_pct(r['accuracy'])} | {r['source']} |"
        )
    return "\n".join(out) + "\n"


def write_markdown(path: Path, e: dict[str, Any], cmap: dict[str, Any]) -> Path:
    return write_text(path, energy_markdown(e, cmap))


def core_map_markdown(cmap: dict[str, Any], missing: str) -> str:
    """energy.md of a bundle without energy: the core map, and what is missing and how to get it."""
    out = [
        "# Energy and spike-count report",
        "",
        f"**Energy not computed**: {missing}.",
        "",
        f"Loihi 2 resources ({cmap.get('model', 'approximate')}): {cmap['total_cores']} cores, "
        f"{cmap['chips']} chip(s).",
        "",
        "| layer | neurons | connections | weight bits | synaptic words | cores |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for e in cmap["layers"]:
        out.append(
            f"| {e['name']} | {e['neurons']:,} | {e['connections']:,} | {e['bits_per_weight']} | "
            f"{e['synaptic_memory_words']:,} | {e['cores']} |"
        )
    return "\n".join(out) + "\n"


def write_core_map_markdown(path: Path, cmap: dict[str, Any], missing: str) -> Path:
    return write_text(path, core_map_markdown(cmap, missing))


def plot_energy(path: Path, e: dict[str, Any]) -> Path:
    """Stacked bars: energy per layer by component (uJ per inference)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [layer["name"] for layer in e["layers"]]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(names) + 2), 3.5))
    bottom = [0.0] * len(names)
    for comp in COMPONENTS:
        vals = [layer["energy_pJ"][comp] * 1e-6 for layer in e["layers"]]
        ax.bar(names, vals, bottom=bottom, label=comp.replace("_", " "))
        bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    ax.set_ylabel("energy per inference (uJ)")
    ax.set_title(
        f"{e['energy_per_inference_uJ']:.3g} uJ per inference ({e['profile']['name']})", fontsize=10
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return Path(path)
