"""The Loihi 2 core map against the per-core tables Intel's compiler printed in lava-dl's tutorials.

Each published figure is recomputed from the network's shape and weight bits (docs/design.md §8):
lava-dl tutorials/lava/lib/dl/netx/{mnist,oxford,pilotnet_snn,pilotnet_sdnn}.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from snnx.artifacts import schema_id
from snnx.deploy.mapping import core_map, format_core_map, weight_bits
from snnx.loihi.limits import LOIHI2, Loihi2Limits
from snnx.loihi.net import InputSpec, LoihiLayer, LoihiNet


def weights(out: int, inp: int, bits: int, zeros: float = 0.1, seed: int = 0) -> np.ndarray:
    """A mixed-sign (out, inp) matrix netx stores with ``bits`` bits, a fraction ``zeros`` of it zero."""
    rng = np.random.default_rng(seed)
    m, step = 2 ** (bits - 1) - 1, 2 ** (9 - bits)
    w = rng.integers(-m, m + 1, size=(out, inp)) * step
    w[rng.random((out, inp)) < zeros] = 0
    w.flat[:2] = (m * step, -m * step)
    return w


def dense_net(sizes: list[int], bits: list[int], zeros: float = 0.1) -> LoihiNet:
    layers = [
        LoihiLayer("dense", (n_out,), weight=weights(n_out, n_in, b, zeros, seed=i))
        for i, (n_in, n_out, b) in enumerate(zip(sizes[:-1], sizes[1:], bits, strict=True))
    ]
    return LoihiNet(InputSpec((sizes[0],), encoding="spikes"), layers)


def pct(used: float, capacity: int) -> float:
    """A utilisation as the compiler prints it: percent with two decimals."""
    return round(100 * used / capacity, 2)


def test_mnist_tutorial_network_maps_to_five_cores():
    """netx/mnist/run.ipynb: 784-128-64-10 CUBA with 8-bit weights took 1 + 1 + 3 = 5 cores."""
    net = dense_net([784, 128, 64, 10], [8, 8, 8])
    assert [weight_bits(layer) for layer in net.synapse_layers] == [8, 8, 8]
    cmap = core_map(net)
    assert [e["cores"] for e in cmap["layers"]] == [3, 1, 1]
    assert cmap["total_cores"] == 5 and cmap["chips"] == 1 and cmap["fits"]
    first, second, third = cmap["layers"]
    assert first["limited_by"] == "synaptic memory" and second["limited_by"] == "neurons"
    # the table's Synapses column of the one-core layers: 16.80 % and 1.60 %
    assert pct(second["synaptic_memory_words_fullest_core"], 16000) == 16.80
    assert pct(third["synaptic_memory_words_fullest_core"], 16000) == 1.60
    # Neurons 1.56 % / 0.24 %, AxonIn 4.90 % / 0.80 % / 0.40 % of a core
    assert [pct(n, LOIHI2.neurons_for("CUBA")) for n in (64, 10)] == [1.56, 0.24]
    assert [pct(e["inputs"], LOIHI2.input_axons_per_core) for e in cmap["layers"]] == [4.90, 0.80, 0.40]
    # two cores are not enough for the first layer: 64 neurons per core need more than a core's words
    assert 784 * LOIHI2.row_words(64, 8) > LOIHI2.synaptic_memory_words_per_core
    assert "5" in format_core_map(cmap).splitlines()[-1]


def test_mnist_tutorial_fullest_core_of_the_first_layer():
    """The table's 3-core row is a core of 50 neurons: Neurons 1.22 %, Synapses 78.40 %, AxonMap 0.31 %."""
    assert pct(50, LOIHI2.neurons_for("CUBA")) == 1.22
    assert pct(784 * LOIHI2.row_words(50, 8), LOIHI2.synaptic_memory_words_per_core) == 78.40
    assert pct(50, LOIHI2.output_axons_per_core) == 0.31


@pytest.mark.parametrize(
    "axons, neurons, bits, words",
    [
        (256, 200, 7, 16128),  # oxford: 256 -> 200, 7-bit, one core (SynMem allocation)
        (200, 256, 8, 16200),  # oxford: 200 -> 256, 8-bit, one core
        (2560, 100, 3, 66560),  # pilotnet_snn: 2560 -> 100, 3-bit, one core
        (2560, 17, 3, 12800),  # pilotnet_snn: the same layer over 6 cores (17 neurons)
        (2560, 100, 4, 66560),  # pilotnet_sdnn: 2560 -> 100, 4-bit
        (100, 50, 4, 1300),  # pilotnet_snn: 100 -> 50, 4-bit
        (100, 50, 6, 1500),  # pilotnet_sdnn: 100 -> 50, 6-bit
        (50, 10, 5, 150),  # pilotnet: 50 -> 10, 5-bit
        (10, 1, 6, 10),  # pilotnet_snn: 10 -> 1, 6-bit
    ],
)
def test_synaptic_words_match_the_compilers_allocations(axons, neurons, bits, words):
    assert axons * LOIHI2.row_words(neurons, bits) == words


def test_zero_weights_cost_as_much_as_nonzero_ones():
    """pilotnet_snn's 2560 -> 100 layer is 73 % zeros and costs as much as a full one (dense storage)."""
    sparse, full = (core_map(dense_net([300, 40], [8], zeros=z))["layers"][0] for z in (0.7, 0.0))
    assert sparse["synapses"] < 0.4 * full["synapses"]
    assert sparse["synaptic_memory_words"] == full["synaptic_memory_words"]
    assert sparse["connections"] == full["connections"] == 300 * 40


def test_fewer_weight_bits_take_less_memory():
    """Stored widths are rounded up to even: 7 costs as 8, 3 as 4, and 4 bits less than 8."""
    words = {b: core_map(dense_net([784, 128], [b]))["layers"][0] for b in (3, 4, 7, 8)}
    assert words[7]["synaptic_memory_words"] == words[8]["synaptic_memory_words"]
    assert words[3]["synaptic_memory_words"] == words[4]["synaptic_memory_words"]
    assert words[4]["synaptic_memory_words"] < words[8]["synaptic_memory_words"]
    assert words[4]["cores"] == 2 and words[8]["cores"] == 3  # 784 x row_words(64, 4) = 14,112 words fit


def test_neuron_limit_and_types():
    net = dense_net([10, 9000], [8])
    assert core_map(net)["layers"][0]["cores"] == 3  # ceil(9000 / 4096)
    assert core_map(net)["layers"][0]["limited_by"] == "neurons"
    few = dataclasses.replace(LOIHI2, neurons_per_core_by_type={"CUBA": 1000})
    assert core_map(net, few)["layers"][0]["cores"] == 9
    assert LOIHI2.neurons_for("LOIHI") == LOIHI2.neurons_for("SDNN") == 4096
    assert LOIHI2.neurons_for("a type nobody published") == LOIHI2.neurons_per_core


def test_too_many_inputs_for_one_core_is_reported_not_hidden():
    cmap = core_map(dense_net([20000, 4], [8]))
    layer = cmap["layers"][0]
    assert not layer["fits"] and not cmap["fits"]
    assert any("input axons" in w for w in layer["warnings"])
    assert "warning" in format_core_map(cmap)


def test_limits_are_labelled_and_the_schema_is_versioned():
    assert "calibrated" in Loihi2Limits().source and "approximat" in Loihi2Limits().source
    cmap = core_map(dense_net([10, 3], [8]))
    assert cmap["approximate"] is True and "calibrated" in cmap["model"]
    assert schema_id("core_map") == "snnx.core_map/2"


def test_an_input_block_takes_cores_of_its_own():
    """A lava-dl Input block's neurons sit on neuro cores (pilotnet_snn's 3x66x200 LOIHI input); no synapses.

    LoihiNets from before Input-block support have no ``input_block``; the map reads it with getattr,
    so a stand-in net with one is enough here.
    """
    net = dense_net([39600, 10], [8])
    block = SimpleNamespace(num_neurons=39600, neuron="LOIHI", shape=(3, 66, 200))
    with_block = SimpleNamespace(input=net.input, layers=net.layers, input_block=block)
    plain, cmap = core_map(net), core_map(with_block)
    assert plain["input_block"] is None
    assert cmap["input_block"]["cores"] == 10  # ceil(39,600 / 4,096); the compiler used 13 (3,168 each)
    assert cmap["total_cores"] == plain["total_cores"] + 10
    assert cmap["total_neurons"] == plain["total_neurons"] + 39600
    assert [e["name"] for e in cmap["layers"]] == [e["name"] for e in plain["layers"]]  # sim.json's layers
    assert "input" in format_core_map(cmap)
