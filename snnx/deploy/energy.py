"""Energy per inference from counted activity, under a profile of per-operation energies.

    E_dynamic = synops x E_syn + spikes x E_upd,spiking + (updates - spikes) x E_upd,inactive
                + spikes x (E_spike,tile + hops x E_hop)
    E_static  = P_static,core x cores used x steps x t_step
    latency   = steps x t_step           (steps = T + L per inference)

Profiles (:mod:`snnx.loihi.energy_profile`) are data: ``snnx/loihi/profiles/NAME.json`` or a user's
JSON file with the same keys; every constant carries its source, and the report prints them. The ANN comparison
(the same network as a non-spiking net, one forward pass) uses Horowitz's 45 nm figures;
:func:`ann_energy` is public so other commands (``snnx compare``) price MACs the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snnx.loihi.energy_profile import PUBLISHED_MNIST, EnergyProfile, dynamic_parts_pJ
from snnx.loihi.net import LoihiNet

HOROWITZ_SOURCE = (
    "Horowitz, 'Computing's energy problem', ISSCC 2014, 45 nm: FP32 mult 3.7 + add 0.9 pJ, "
    "int8 mult 0.2 + add 0.03 pJ; arithmetic only, memory access excluded (a lower bound for the ANN)"
)
ANN_45NM = {
    "fp32": {"mac_pJ": 4.6, "add_pJ": 0.9},
    "int8": {"mac_pJ": 0.23, "add_pJ": 0.03},
}

REFERENCE_POINTS = [
    {**PUBLISHED_MNIST[0], "what": "Loihi, MNIST"},
    {
        "what": "Loihi 2, PilotNet-LIF (measured)",
        "energy_per_inference_uJ": 1660.0,
        "accuracy": None,
        "source": "lava-dl benchmark, measured on Loihi 2",
    },
]


# ----------------------------------------------------------------------------- ANN side


def macs_per_inference(net: LoihiNet) -> int:
    """MACs of one forward pass of the same network as an ANN: out neurons x fan-in per layer."""
    return sum(layer.num_neurons * (int(layer.weight[0].size) + (layer.num_neurons if layer.is_recurrent else 0))
               for layer in net.synapse_layers)  # an RNN cell: input and recurrent weights


def bias_adds_per_inference(net: LoihiNet) -> int:
    """One add per neuron of each layer with a bias."""
    return sum(layer.num_neurons for layer in net.synapse_layers if layer.bias is not None)


def ann_energy(macs: int, adds: int = 0) -> dict[str, Any]:
    """Energy (uJ) of ``macs`` multiply-accumulates and ``adds`` additions at 45 nm, FP32 and int8."""
    out: dict[str, Any] = {"macs_per_inference": int(macs), "adds_per_inference": int(adds)}
    for kind, c in ANN_45NM.items():
        out[f"{kind}_energy_per_inference_uJ"] = (macs * c["mac_pJ"] + adds * c["add_pJ"]) * 1e-6
    out["constants_pJ"] = ANN_45NM
    out["source"] = HOROWITZ_SOURCE
    return out


# ----------------------------------------------------------------------------- SNN side


def layer_energy(
    activity: dict[str, Any], cores: int, steps: int, profile: EnergyProfile
) -> dict[str, Any]:
    """Energy of one layer (pJ per inference by component, uJ totals) from its per-sample counts."""
    synops, spikes, updates = (
        float(activity["synops"]),
        float(activity["spikes"]),
        float(activity["neuron_updates"]),
    )
    parts_pJ = {
        **dynamic_parts_pJ(synops, spikes, max(updates, spikes), profile),
        "static": profile["static_power_per_core_uW"] * cores * steps * profile["step_time_us"],
    }
    dynamic = parts_pJ["synops"] + parts_pJ["neuron_updates"] + parts_pJ["spikes"]
    return {
        "name": activity["name"],
        "kind": activity["kind"],
        "neurons": int(activity["neurons"]),
        "cores": int(cores),
        "input_spikes_per_inference": float(activity["input_spikes"]),
        "synops_per_inference": synops,
        "spikes_per_inference": spikes,
        "neuron_updates_per_inference": updates,
        "energy_pJ": parts_pJ,
        "dynamic_energy_uJ": dynamic * 1e-6,
        "static_energy_uJ": parts_pJ["static"] * 1e-6,
        "energy_uJ": (dynamic + parts_pJ["static"]) * 1e-6,
    }


def estimate_energy(
    activity: list[dict[str, Any]],
    cores: list[int],
    steps: int,
    profile: EnergyProfile,
    *,
    timesteps: int,
    accuracy: float | None,
    samples: int,
    ann: dict[str, Any],
) -> dict[str, Any]:
    """The ``energy.json`` dict: totals per inference, per-layer list, latency, ANN, references."""
    layers = [layer_energy(a, c, steps, profile) for a, c in zip(activity, cores, strict=True)]

    def total(key: str) -> float:
        return float(sum(layer[key] for layer in layers))

    dynamic, static = total("dynamic_energy_uJ"), total("static_energy_uJ")
    energy = dynamic + static
    return {
        "energy_per_inference_uJ": energy,
        "dynamic_energy_per_inference_uJ": dynamic,
        "static_energy_per_inference_uJ": static,
        "synops_per_inference": total("synops_per_inference"),
        "spikes_per_inference": total("spikes_per_inference"),
        "neuron_updates_per_inference": total("neuron_updates_per_inference"),
        "input_spikes_per_inference": float(layers[0]["input_spikes_per_inference"])
        if layers
        else 0.0,
        "energy_by_component_uJ": {
            key: sum(layer["energy_pJ"][key] for layer in layers) * 1e-6
            for key in ("synops", "neuron_updates", "spikes", "static")
        },
        "accuracy": accuracy,
        "samples": int(samples),
        "timesteps": int(timesteps),
        "steps_per_inference": int(steps),
        "step_time_us": profile["step_time_us"],
        "latency_us": steps * profile["step_time_us"],
        "cores": int(sum(cores)),
        "profile": profile.to_dict(),
        "layers": layers,
        "ann": {
            **ann,
            "snn_over_fp32": energy / ann["fp32_energy_per_inference_uJ"]
            if ann["fp32_energy_per_inference_uJ"]
            else None,
            "snn_over_int8": energy / ann["int8_energy_per_inference_uJ"]
            if ann["int8_energy_per_inference_uJ"]
            else None,
        },
        "reference_points": REFERENCE_POINTS,
        "published_mnist": PUBLISHED_MNIST,
        "formula": (
            "E = synops*E_syn + spikes*E_upd,spiking + (updates-spikes)*E_upd,inactive "
            "+ spikes*(E_spike,tile + hops*E_hop) + P_static,core*cores*steps*t_step"
        ),
    }


# ----------------------------------------------------------------------------- NeuroBench


NEUROBENCH_SOURCE = (
    "NeuroBench 2.x definitions (neurobench.metrics: static Footprint, ConnectionSparsity; workload "
    "ActivationSparsity, SynapticOperations, MembraneUpdates), computed by snnx on the deployed network "
    "and its bit-exact simulation; docs/design.md §8.1"
)


def footprint_bytes(tensors: list[np.ndarray]) -> int:
    """NeuroBench's Footprint: bytes of every parameter and buffer tensor (elements x item size)."""
    return int(sum(t.size * t.itemsize for t in tensors))


def connection_sparsity(weights: list[np.ndarray]) -> float:
    """NeuroBench's ConnectionSparsity: zero weights over all weights of the synapse layers."""
    total = sum(int(w.size) for w in weights)
    return sum(int(np.count_nonzero(w == 0)) for w in weights) / total if total else 0.0


def activation_sparsity(spikes: float, neuron_steps: float) -> float:
    """NeuroBench's ActivationSparsity: 1 - nonzero outputs / outputs, over layers, steps, samples."""
    return 1.0 - spikes / neuron_steps if neuron_steps else 0.0


def deployed_tensors(layer: Any) -> list[np.ndarray]:
    """A layer's parameters as model.net holds them: the weights at the chip's 8-bit weight
    precision (netx/Lava store even values in [-256, 254], i.e. an int8 mantissa; zeros included),
    the biases and the scalars du, dv, vth, weight_exp each at the smallest integer type holding them."""
    mantissa = np.right_shift(layer.weight, 1) if not np.any(layer.weight % 2) else layer.weight
    tensors = [mantissa] + ([layer.bias] if layer.bias is not None else [])
    tensors.append(np.array([layer.du, layer.dv, layer.vth, layer.weight_exp]))
    return [t.astype(_smallest_int(t)) for t in tensors]


def _smallest_int(values: np.ndarray) -> type:
    lo, hi = (int(values.min()), int(values.max())) if values.size else (0, 0)
    for dtype in (np.int8, np.int16, np.int32):
        if np.iinfo(dtype).min <= lo and hi <= np.iinfo(dtype).max:
            return dtype
    return np.int64


def neurobench_metrics(net: LoihiNet, activity: list[dict[str, Any]], timesteps: int) -> dict[str, Any]:
    """NeuroBench's metrics of the deployed network, per inference (means over the simulated samples).

    The definitions are NeuroBench's (the functions above; tests/deploy/test_neurobench.py checks
    them against its own implementation), applied to model.net and the bit-exact simulation:
    Footprint of :func:`deployed_tensors` (``footprint_float32_bytes``: the same tensors as FP32);
    SynapticOperations: Effective_ACs = synaptic ops of layers fed binary spikes, Effective_MACs =
    of layers fed graded values (the direct-coded input), both nonzero input x nonzero weight as
    :mod:`snnx.sim.activity` counts them over the T + L steps; Dense = every synapse, zeros
    included, at each of the T input steps (NeuroBench's T forward calls); ActivationSparsity over
    the T + L steps; MembraneUpdates = :func:`snnx.sim.activity.membrane_changes` (None when the
    simulation gave no membranes, e.g. the Lava backend).
    """
    from dataclasses import replace

    from snnx.data.encoders import is_binary
    from snnx.loihi.accounting import fan_out

    tensors: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    dense = 0
    shape = tuple(net.input.shape)
    for layer in net.layers:
        if layer.is_synapse:
            tensors += deployed_tensors(layer)
            weights.append(layer.weight)
            dense += int(fan_out(replace(layer, weight=np.ones_like(layer.weight)), shape).sum()) * int(timesteps)
        shape = tuple(layer.shape)
    synops = [float(a["synops"]) for a in activity]
    macs = synops[0] if synops and not is_binary(net.input.encoding) else 0.0
    membrane = [a.get("membrane_updates") for a in activity]
    return {
        "Footprint": footprint_bytes(tensors),
        "footprint_float32_bytes": 4 * sum(int(t.size) for t in tensors),
        "ConnectionSparsity": connection_sparsity(weights),
        "ActivationSparsity": activation_sparsity(sum(float(a["spikes"]) for a in activity),
                                                  sum(float(a["neuron_updates"]) for a in activity)),
        "SynapticOperations": {"Effective_MACs": macs, "Effective_ACs": float(sum(synops)) - macs,
                               "Dense": float(dense)},
        "MembraneUpdates": None if not membrane or any(m is None for m in membrane) else float(sum(membrane)),
        "source": NEUROBENCH_SOURCE,
    }
