"""Loihi 2 core mapping: per layer neurons, synapses, synaptic memory, fan-in/out and cores.

An estimate under the approximate limits of :mod:`snnx.loihi.limits`: synapses live in
the core of the neuron they feed, so a layer needs enough cores for its neurons *and* for
the memory of its incoming synapses (bits per weight x stored synapses + per-neuron state).
Input spikes are injected by the host / embedded CPUs and take no neuro core here.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from snnx.loihi.accounting import fan_out, recurrent_fan_out
from snnx.loihi.limits import LOIHI2, Loihi2Limits
from snnx.loihi.naming import layer_name
from snnx.loihi.net import LoihiLayer, LoihiNet
from snnx.loihi.weights import netx_optimize_weight_bits


def synapse_inputs(net: LoihiNet) -> list[tuple[LoihiLayer, tuple[int, ...]]]:
    """Each synapse layer with the shape of what feeds it (flatten layers pass shapes through)."""
    out, shape = [], tuple(net.input.shape)
    for layer in net.layers:
        if layer.is_synapse:
            out.append((layer, shape))
        shape = tuple(layer.shape)
    return out


def fan_in(layer: LoihiLayer) -> np.ndarray:
    """Nonzero incoming synapses per output channel (dense: per neuron; conv: interior neurons)."""
    nz = layer.weight != 0
    return nz.reshape(nz.shape[0], -1).sum(axis=1)


def weight_bits(layer: LoihiLayer, limits: Loihi2Limits = LOIHI2) -> int:
    """Bits per stored weight: netx's ``num_weight_bits`` for this matrix (<= 8)."""
    _, bits, _ = netx_optimize_weight_bits(layer.weight.reshape(layer.weight.shape[0], -1))
    return int(min(max(bits, 1), limits.max_weight_bits))


def map_layer(
    layer: LoihiLayer, in_shape: tuple[int, ...], index: int, limits: Loihi2Limits = LOIHI2
) -> dict[str, Any]:
    """One layer's resources and the cores it needs."""
    fo = fan_out(layer, in_shape)
    dense_layer = dataclasses.replace(layer, weight=np.ones_like(layer.weight))
    synapses = int(fo.sum())
    rec = recurrent_fan_out(layer)  # dense_rec: the recurrent synapses live on the same cores
    synapses += 0 if rec is None else int(rec.sum())
    bits = weight_bits(layer, limits)
    neurons = layer.num_neurons
    memory_bits = bits * synapses + limits.neuron_state_bits * neurons
    memory_bytes = math.ceil(memory_bits / 8)
    fi = fan_in(layer)
    cores_for_neurons = math.ceil(neurons / limits.neurons_per_core)
    cores_for_memory = math.ceil(memory_bytes / limits.synaptic_memory_bytes_per_core)
    return {
        "name": layer_name(layer, index),
        "kind": layer.kind,
        "shape": list(layer.shape),
        "neurons": neurons,
        "inputs": int(np.prod(in_shape)),
        "synapses": synapses,
        "connections": int(fan_out(dense_layer, in_shape).sum()),
        "bits_per_weight": bits,
        "synaptic_memory_bytes": memory_bytes,
        "fan_in_max": int(fi.max()) if fi.size else 0,
        "fan_in_mean": synapses / max(neurons, 1),
        "fan_out_max": int(fo.max()) if fo.size else 0,
        "fan_out_mean": synapses / max(fo.size, 1),
        "cores": max(1, cores_for_neurons, cores_for_memory),
        "limited_by": "memory" if cores_for_memory > cores_for_neurons else "neurons",
    }


def core_map(net: LoihiNet, limits: Loihi2Limits = LOIHI2) -> dict[str, Any]:
    """The ``core_map.json`` dict: per-layer resources, totals in cores and chips."""
    layers = [
        map_layer(layer, shape, i, limits) for i, (layer, shape) in enumerate(synapse_inputs(net))
    ]
    total_cores = sum(entry["cores"] for entry in layers)
    return {
        "approximate": True,
        "hardware": limits.to_dict(),
        "layers": layers,
        "total_neurons": sum(entry["neurons"] for entry in layers),
        "total_synapses": sum(entry["synapses"] for entry in layers),
        "total_synaptic_memory_bytes": sum(entry["synaptic_memory_bytes"] for entry in layers),
        "total_cores": total_cores,
        "chips": math.ceil(total_cores / limits.cores_per_chip),
        "notes": [
            "synapses = stored (nonzero) weights; connections = all weights incl. zeros",
            "synaptic memory = bits per weight x synapses + neuron state bits x neurons",
            "input spikes come from the host/embedded CPUs and use no neuro core",
            "conv synapses are counted unrolled (one per connection); Loihi 2's convolutional weight "
            "sharing can store far fewer, so conv memory and cores are upper bounds",
        ],
    }


def format_core_map(cmap: dict[str, Any]) -> str:
    """The table printed by ``snnx deploy``."""
    head = f"{'layer':10s}{'neurons':>9s}{'synapses':>11s}{'bits':>6s}{'memory KB':>11s}{'fan-in':>8s}{'fan-out':>9s}{'cores':>7s}"
    lines = ["Loihi 2 core map (approximate)", head, "-" * len(head)]
    for e in cmap["layers"]:
        lines.append(
            f"{e['name']:10s}{e['neurons']:>9,d}{e['synapses']:>11,d}{e['bits_per_weight']:>6d}"
            f"{e['synaptic_memory_bytes'] / 1024:>11.1f}{e['fan_in_max']:>8d}{e['fan_out_max']:>9d}{e['cores']:>7d}"
        )
    lines.append("-" * len(head))
    lines.append(
        f"{'total':10s}{cmap['total_neurons']:>9,d}{cmap['total_synapses']:>11,d}{'':6s}"
        f"{cmap['total_synaptic_memory_bytes'] / 1024:>11.1f}{'':17s}{cmap['total_cores']:>7d}"
        f"   -> {cmap['chips']} chip(s)"
    )
    return "\n".join(lines)
