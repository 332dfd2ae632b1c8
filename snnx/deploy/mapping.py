"""Loihi 2 core mapping: per layer neurons, synapses, synaptic-memory words, axons and cores.

An approximation calibrated to the per-core tables Intel's Loihi 2 compiler printed in
lava-dl's netx tutorials (:mod:`snnx.loihi.limits`, docs/design.md §8). As that compiler does,
each synapse layer gets its own cores and its neurons are split evenly over them; a dense
layer's synapses live in the cores of the neurons they feed, one row per input axon holding
every weight of the core's neurons, zeros included, so a layer takes the fewest cores whose
neurons fit and whose rows fit the synaptic memory. Input spikes are injected by the host /
embedded CPUs and take no neuro core here.
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
    """Bits per weight: netx's ``num_weight_bits`` for this matrix (<= 8), what Lava is given."""
    _, bits, _ = netx_optimize_weight_bits(layer.weight.reshape(layer.weight.shape[0], -1))
    return int(min(max(bits, 1), limits.max_weight_bits))


def neuron_type(layer: LoihiLayer) -> str:
    """netx's neuron type of the layer ("CUBA" unless the layer says otherwise)."""
    return str(getattr(layer, "neuron", None) or "CUBA")  # read defensively: older LoihiLayers lack it


def dense_cores(
    inputs: int, neurons: int, bits: int, per_core: int, limits: Loihi2Limits = LOIHI2
) -> tuple[int, int]:
    """(cores, words in the fullest core) of a dense layer: the fewest cores that fit.

    ``per_core`` is the neuron capacity of the layer's neuron type. With ``k`` cores a core
    holds ``ceil(neurons / k)`` neurons and one row per input axon (limits.row_words).
    """
    k = max(1, math.ceil(neurons / per_core))
    while True:
        words = inputs * limits.row_words(math.ceil(neurons / k), bits)
        if words <= limits.synaptic_memory_words_per_core or k >= neurons:
            return k, words
        k += 1


def map_layer(
    layer: LoihiLayer, in_shape: tuple[int, ...], index: int, limits: Loihi2Limits = LOIHI2
) -> dict[str, Any]:
    """One layer's resources and the cores it needs."""
    fo = fan_out(layer, in_shape)
    dense_layer = dataclasses.replace(layer, weight=np.ones_like(layer.weight))
    connections = int(fan_out(dense_layer, in_shape).sum())
    synapses = int(fo.sum())
    rec = recurrent_fan_out(layer)  # dense_rec: the recurrent synapses live on the same cores
    synapses += 0 if rec is None else int(rec.sum())
    bits = weight_bits(layer, limits)
    neurons, inputs = layer.num_neurons, int(np.prod(in_shape))
    ntype = neuron_type(layer)
    per_core = limits.neurons_for(ntype)
    cores_for_neurons = math.ceil(neurons / per_core)
    notes = []
    if layer.kind == "dense":
        cores, core_words = dense_cores(inputs, neurons, bits, per_core, limits)
        words = sum(inputs * limits.row_words(n, bits) for n in _split(neurons, cores))
        if inputs > limits.input_axons_per_core:
            notes.append(
                f"{inputs:,} inputs exceed the {limits.input_axons_per_core:,} input axons of a core; "
                "Intel's compiler would have to split the fan-in, which this map does not model"
            )
    else:  # conv, counted unrolled: an upper bound (Loihi 2 shares conv weights within a core)
        per_synapse = limits.stored_weight_bits(bits) + limits.synapse_overhead_bits
        words = math.ceil(connections * per_synapse / limits.synaptic_word_bits)
        cores = max(cores_for_neurons, math.ceil(words / limits.synaptic_memory_words_per_core))
        core_words = math.ceil(words / cores)
    fits = core_words <= limits.synaptic_memory_words_per_core and not notes
    if core_words > limits.synaptic_memory_words_per_core:
        notes.append(
            f"one neuron's rows already need {core_words:,} words, more than the "
            f"{limits.synaptic_memory_words_per_core:,} of a core"
        )
    fi = fan_in(layer)
    return {
        "name": layer_name(layer, index),
        "kind": layer.kind,
        "neuron_type": ntype,
        "shape": list(layer.shape),
        "neurons": neurons,
        "inputs": inputs,
        "synapses": synapses,
        "connections": connections,
        "bits_per_weight": bits,
        "stored_bits_per_weight": limits.stored_weight_bits(bits),
        "synaptic_memory_words": words,
        "synaptic_memory_words_fullest_core": core_words,
        "synaptic_memory_use": core_words / limits.synaptic_memory_words_per_core,
        "neurons_per_core": math.ceil(neurons / cores),
        "fan_in_max": int(fi.max()) if fi.size else 0,
        "fan_in_mean": synapses / max(neurons, 1),
        "fan_out_max": int(fo.max()) if fo.size else 0,
        "fan_out_mean": synapses / max(fo.size, 1),
        "cores": max(1, cores),
        "limited_by": "synaptic memory" if cores > cores_for_neurons else "neurons",
        "fits": fits,
        "warnings": notes,
    }


def _split(n: int, k: int) -> list[int]:
    """``n`` neurons over ``k`` cores as evenly as possible."""
    return [n // k + (i < n % k) for i in range(k)]


def core_map(net: LoihiNet, limits: Loihi2Limits = LOIHI2) -> dict[str, Any]:
    """The ``core_map.json`` dict: per-layer resources, totals in cores and chips."""
    layers = [
        map_layer(layer, shape, i, limits) for i, (layer, shape) in enumerate(synapse_inputs(net))
    ]
    block = _input_block(net, limits)
    total_cores = sum(entry["cores"] for entry in layers) + (block["cores"] if block else 0)
    return {
        "approximate": True,
        "model": (
            "approximation calibrated to Intel's Loihi 2 compiler outputs printed in lava-dl's netx "
            "tutorials (docs/design.md §8); the compiler decides the real placement"
        ),
        "hardware": limits.to_dict(),
        "layers": layers,
        "input_block": block,
        "total_neurons": sum(entry["neurons"] for entry in layers) + (block["neurons"] if block else 0),
        "total_synapses": sum(entry["synapses"] for entry in layers),
        "total_synaptic_memory_words": sum(entry["synaptic_memory_words"] for entry in layers),
        "total_cores": total_cores,
        "chips": math.ceil(total_cores / limits.cores_per_chip),
        "fits": all(entry["fits"] for entry in layers),
        "notes": [
            "synapses = nonzero weights; connections = all weights incl. zeros, which a dense layer "
            "stores as well (no compression, docs/design.md §8)",
            f"synaptic memory = per input axon and core, ceil((neurons x (weight bits rounded up to even + "
            f"{limits.synapse_overhead_bits}) + {limits.row_header_bits}) / {limits.synaptic_word_bits}) words; "
            f"{limits.synaptic_memory_words_per_core:,} words per core",
            "each layer takes its own cores, its neurons split evenly; input spikes come from the "
            "host/embedded CPUs and use no neuro core",
            "conv synapses are counted unrolled (one per connection); Loihi 2's convolutional weight "
            "sharing stores far fewer, so conv memory and cores are upper bounds",
        ],
    }


def _input_block(net: LoihiNet, limits: Loihi2Limits) -> dict[str, Any] | None:
    """lava-dl's Input block, if the net starts with one: neurons on neuro cores, no synapses.

    Read defensively (``getattr``): LoihiNets without Input-block support have no such attribute.
    """
    block = getattr(net, "input_block", None)
    if block is None:
        return None
    neurons, ntype = int(block.num_neurons), neuron_type(block)
    return {
        "name": "input",
        "kind": "input",
        "neuron_type": ntype,
        "shape": list(block.shape),
        "neurons": neurons,
        "cores": max(1, math.ceil(neurons / limits.neurons_for(ntype))),
        "note": "lava-dl Input block: its neurons take neuro cores (Intel's compiler put pilotnet_snn's "
        "3x66x200 = 39,600 on 13 cores), fed by the host; no synapses",
    }


def format_core_map(cmap: dict[str, Any]) -> str:
    """The table printed by ``snnx deploy``."""
    head = (
        f"{'layer':10s}{'neurons':>9s}{'synapses':>11s}{'bits':>6s}{'words':>9s}{'fullest':>9s}"
        f"{'fan-in':>8s}{'fan-out':>9s}{'cores':>7s}"
    )
    lines = ["Loihi 2 core map (approximation calibrated to Intel's compiler, docs/design.md §8)",
             head, "-" * len(head)]
    for e in cmap["layers"]:
        lines.append(
            f"{e['name']:10s}{e['neurons']:>9,d}{e['connections']:>11,d}{e['bits_per_weight']:>6d}"
            f"{e['synaptic_memory_words']:>9,d}{100 * e['synaptic_memory_use']:>8.1f}%"
            f"{e['fan_in_max']:>8d}{e['fan_out_max']:>9d}{e['cores']:>7d}"
        )
    block = cmap.get("input_block")
    if block:
        lines.append(f"{'input':10s}{block['neurons']:>9,d}{'':>58s}{block['cores']:>7d}")
    lines.append("-" * len(head))
    lines.append(
        f"{'total':10s}{cmap['total_neurons']:>9,d}{sum(e['connections'] for e in cmap['layers']):>11,d}"
        f"{'':6s}{cmap['total_synaptic_memory_words']:>9,d}{'':26s}{cmap['total_cores']:>7d}"
        f"   -> {cmap['chips']} chip(s)"
    )
    for e in cmap["layers"]:
        lines += [f"warning: {e['name']}: {w}" for w in e["warnings"]]
    return "\n".join(lines)
