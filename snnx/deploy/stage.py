"""``snnx deploy RUN --target loihi2|nir``: bundle, Loihi 2 core map, energy and spike-count report.

Reads only files of the run folder: model.net (``snnx export``, or a netx file from another
tool), sim.json (``snnx sim``: the per-layer counts of the bit-exact simulation and the
fixed-point accuracy), config.yaml (input encoding) and, for ``--target nir``, model.nir. Deploy
does not simulate: the energy it reports prices the counts of the samples ``snnx sim`` ran. A
folder holding only a foreign model.net still gets its bundle and core map; without sim.json the
bundle has no energy.json and energy.md says which command produces the counts (no figure is
invented).

The bundle ``RUN/deploy/<target>/`` is built in a temporary folder beside it and renamed into
place when complete, manifest last, so a failed deploy leaves the previous bundle untouched.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from snnx import provenance
from snnx.artifacts import CORE_MAP_JSON, ENERGY_JSON, read_artifact, stamp
from snnx.deploy.energy import (
    ann_energy,
    bias_adds_per_inference,
    estimate_energy,
    macs_per_inference,
    neurobench_metrics,
)
from snnx.deploy.manifest import Manifest, next_power_of_two, verify_bundle
from snnx.deploy.mapping import core_map, format_core_map
from snnx.deploy.report import format_energy, plot_energy, write_core_map_markdown, write_markdown
from snnx.errors import SnnxError
from snnx.io import publish_dir, staging_dir, write_json
from snnx.loihi.energy_profile import load_profile
from snnx.loihi.naming import layer_name
from snnx.loihi.net import LoihiNet
from snnx.run import RunFolder
from snnx.sim.result import SimResult

TARGETS = {"loihi2": "model.net", "nir": "model.nir"}
CORE_MAP, ENERGY = CORE_MAP_JSON, ENERGY_JSON  # names from snnx.run, the one place that knows paths
ENERGY_MD, ENERGY_PNG = "energy.md", "energy_layers.png"


@dataclass(frozen=True)
class DeployReport:
    """What ``snnx deploy`` produced; saved as the bundle's JSON files (the manifest is separate)."""

    target: str
    bundle: str
    energy: dict[str, Any]
    core_map: dict[str, Any]
    manifest: dict[str, Any] = field(default_factory=dict)
    hardware: dict[str, Any] | None = None  # result of ``--run`` on Loihi 2
    energy_missing: str | None = None  # why there is no energy (no sim.json), and what to run

    @property
    def has_energy(self) -> bool:
        return self.energy_missing is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, folder: Path) -> None:
        """Write core_map.json and energy.json into ``folder`` (the manifest is written after)."""
        write_json(Path(folder) / CORE_MAP, stamp("core_map", self.core_map))
        if self.has_energy:
            write_json(Path(folder) / ENERGY, stamp("energy", self.energy))

    @classmethod
    def load(cls, folder: Path) -> DeployReport:
        """Read a bundle back, refusing it if any file changed since it was written."""
        folder = Path(folder)
        manifest = verify_bundle(folder)
        has_energy = ENERGY in manifest.files
        return cls(
            target=manifest.target,
            bundle=str(folder),
            energy=read_artifact("energy", folder / ENERGY) if has_energy else {},
            core_map=read_artifact("core_map", folder / CORE_MAP),
            manifest=manifest.to_dict(),
            energy_missing=None if has_energy else manifest.energy_missing or "no energy.json",
        )


def deploy_command(
    run: Path, target: str, run_hw: bool, profile: str | None, data_dir: Path | None
) -> DeployReport:
    """Build RUN/deploy/<target>/, print the core map and energy tables, optionally run on Loihi 2.

    ``data_dir`` is only used by ``--run`` (the test images fed to the chip).
    """
    folder = RunFolder(run)
    run = folder.root
    if target not in TARGETS:
        raise SnnxError(f"--target {target!r} is not one of {', '.join(TARGETS)}")
    if run_hw:
        from snnx.deploy.hw import require_lava_loihi

        if target != "loihi2":
            raise SnnxError(
                f"--run runs the Loihi 2 bundle; use --target loihi2 (got --target {target})"
            )
        require_lava_loihi()
    provenance.check_fresh(run, "model.net")
    provenance.check_fresh(run, "sim.json")  # priced spikes must come from this model.net
    net = folder.load_net()
    if target == "nir" and not folder.nir.is_file():
        raise SnnxError(
            f"{folder.nir} not found; --target nir bundles the NIR graph `snnx export {run}` writes "
            f"(a folder holding only a netx model.net deploys with --target loihi2)"
        )
    model_path = folder.net if target == "loihi2" else folder.nir
    config = folder.load_config()
    if run_hw and config is None:
        raise SnnxError(
            f"--run needs {folder.config} (which test set to feed); it is written by `snnx train`"
        )
    prof = load_profile(profile or (config.deploy.energy_profile if config else None))
    sim = _load_sim(folder, run_hw)

    cmap = core_map(net)
    energy, missing = {}, None
    if sim is not None:
        activity = _activity(sim, net, cmap)
        ann = ann_energy(macs_per_inference(net), bias_adds_per_inference(net))
        energy = estimate_energy(
            activity,
            [entry["cores"] for entry in cmap["layers"]],
            sim.steps,
            prof,
            timesteps=sim.timesteps,
            accuracy=sim.fixed_accuracy,
            samples=sim.samples,
            ann=ann,
        )
        energy["backend"] = sim.backend
        energy["neurobench"] = neurobench_metrics(net, activity, sim.timesteps)
        energy["input"] = sim.input  # a user's spike file (``snnx sim --input``), else None: the test set
    else:
        missing = _no_energy(folder, net, config)
    manifest = _manifest(net, config, sim, target, TARGETS[target], run)
    manifest.energy_missing = missing
    manifest.inputs = {"model.net": provenance.digest(folder.net), **provenance.checkpoint_inputs(run)}
    if sim is not None:
        manifest.inputs["sim.json"] = provenance.digest(run / "sim.json")

    final = folder.bundle(target)
    report = DeployReport(target, str(final), energy, cmap, energy_missing=missing)
    _write_bundle(final, model_path, report, manifest)
    report = replace(report, manifest=manifest.to_dict())
    print(format_core_map(cmap))
    print()
    print(format_energy(energy) if report.has_energy else f"energy: not computed: {missing}")
    print(f"wrote {final}/ ({', '.join(sorted(manifest.files))}, manifest.json)")
    if run_hw:
        from snnx.deploy.hw import run_bundle_on_loihi2

        report = replace(
            report, hardware=run_bundle_on_loihi2(final, config, sim.samples, data_dir)
        )
    return report


# ----------------------------------------------------------------------------- inputs


def _load_sim(folder: RunFolder, required: bool) -> SimResult | None:
    """sim.json, or None when there is none (the bundle then has no energy; ``--run`` needs it)."""
    if not folder.sim.is_file():
        if required:
            raise SnnxError(
                f"{folder.sim} not found; run `snnx sim {folder.root}` first (--run feeds the samples it ran)"
            )
        return None
    sim = folder.load_sim()
    if not sim.layers:
        raise SnnxError(
            f"{folder.sim} has no per-layer spike counts; re-run `snnx sim {folder.root}`"
        )
    return sim


def _no_energy(folder: RunFolder, net: LoihiNet, config) -> str:
    """What cannot be computed without sim.json, and the command that makes it possible."""
    run = folder.root
    if config is not None or net.input.encoding != "spikes":
        how = f"`snnx sim {run}` (the test set)"
    else:
        shape = ", ".join(str(s) for s in net.input.shape)
        how = (f"`snnx sim {run} --input spikes.npy [--labels labels.npy]` (spikes.npy: [samples, T, {shape}]; "
               "model.net does not say how images become spikes)")
    return (f"energy, synaptic ops and latency need the spike counts of a simulation and {folder.sim} does not "
            f"exist; run {how}, then `snnx deploy {run}` again")


def _activity(sim: SimResult, net: LoihiNet, cmap: dict[str, Any]) -> list[dict[str, Any]]:
    """sim.json's per-layer counts, checked against model.net (a stale sim.json is refused)."""
    layers = net.synapse_layers
    if len(sim.layers) != len(layers):
        raise SnnxError(
            f"sim.json has {len(sim.layers)} layers but model.net has {len(layers)}; re-run `snnx sim` after `snnx export`"
        )
    out = []
    for i, (entry, layer, mapped) in enumerate(
        zip(sim.layers, layers, cmap["layers"], strict=True)
    ):
        want = (layer_name(layer, i), layer.num_neurons, mapped["synapses"])
        got = (entry.get("name"), entry.get("neurons"), entry.get("synapses", mapped["synapses"]))
        if tuple(got) != want:
            raise SnnxError(
                f"sim.json layer {i + 1} (name, neurons, synapses) = {got} does not match model.net {want}; "
                "re-run `snnx sim` after `snnx export`"
            )
        if "synops" not in entry or "input_spikes" not in entry:
            raise SnnxError(f"sim.json layer {want[0]} has no synaptic-op count; re-run `snnx sim`")
        e = dict(entry)
        if not e.get(
            "neuron_updates"
        ):  # written before the count existed: every neuron, every step
            e["neuron_updates"] = float(layer.num_neurons * sim.steps)
        out.append(e)
    return out


def _manifest(
    net: LoihiNet, config, sim: SimResult | None, target: str, model: str, run: Path
) -> Manifest:
    from snnx.data.encoders import is_binary

    # model.net's input spec is the one truth for the encoding; the dataset is the training config's
    encoding, params = net.input.encoding, dict(net.input.params)
    dataset = config.data.dataset if config is not None else (sim.dataset if sim else None)
    timesteps = int(sim.timesteps) if sim is not None else int(net.input.timesteps or 0) or None
    from snnx.sim.lava_backend import reset_offset

    latency = net.num_synapse_layers
    offset = reset_offset(net)
    port = (
        "net.in_layer.neuron.a_in (lava-dl Input block: netx builds it as neurons fed the raw input)"
        if net.input_block is not None
        else "net.inp of the netx network (layer 0)"
    )
    how = (
        "lava.lib.dl.netx.hdf5.Network(net_config='model.net', reset_interval=reset_interval, "
        "reset_offset=reset_offset); send sample k's T input frames into " + port.split(" ")[0] + " at steps "
        "k*reset_interval+1..k*reset_interval+T (dense-first: flat C,H,W order; conv-first: W,H,C); "
        "read net.out and count spikes over the readout window"
    )
    if timesteps is None:
        how += (f"; T is not recorded in model.net: use a power-of-two reset_interval >= T + {latency - 1} "
                "and the readout window [L + 1, T + L]")
    return Manifest(
        target=target,
        model=model,
        input={
            "shape": list(net.input.shape),
            "encoding": encoding,
            "params": params,
            "timesteps": timesteps,
            "graded": not is_binary(encoding)
            if encoding in ("rate", "latency", "direct", "rows", "pairs")
            else bool(sim is not None and sim.encoding == "graded spikes"),
            "dataset": dataset,
            "port": port,
            "how_to_run": how,
        },
        output={
            "shape": list(net.output_shape),
            "readout": "class = argmax (first maximum) of the output spike counts over the readout window",
            "readout_window": [latency + 1, timesteps + latency] if timesteps else None,
        },
        timesteps=timesteps,
        latency_steps=latency,
        steps_per_sample=timesteps + latency if timesteps else None,
        reset_interval=next_power_of_two(max(1, timesteps + latency - 1)) if timesteps else None,
        reset_offset=offset,
        source=str(run.resolve()),
    )


# ----------------------------------------------------------------------------- bundle


def _write_bundle(final: Path, model_path: Path, report: DeployReport, manifest: Manifest) -> None:
    """Everything into a staging folder, manifest last, then one atomic exchange into place."""
    with staging_dir(final.parent, final.name) as tmp:
        shutil.copyfile(model_path, tmp / model_path.name)
        report.save(tmp)
        if report.has_energy:
            write_markdown(tmp / ENERGY_MD, report.energy, report.core_map)
            plot_energy(tmp / ENERGY_PNG, report.energy)
        else:
            write_core_map_markdown(tmp / ENERGY_MD, report.core_map, report.energy_missing or "")
        manifest.save(tmp)
        verify_bundle(tmp)
        publish_dir(tmp, final)
