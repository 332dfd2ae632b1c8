"""Spikes -> counts: fan-out, synaptic operations and neuron updates checked by hand and against Lava."""

from __future__ import annotations

import numpy as np
import pytest

from snnx.errors import SnnxError
from snnx.loihi.net import InputSpec, LoihiLayer, LoihiNet
from snnx.sim.activity import ActivityAccumulator, LayerActivity
from snnx.sim.fast import simulate
from snnx.sim.randnet import random_conv_net, random_inputs


def test_accumulator_by_hand():
    """Two samples, T + L = 3 steps: every count below is worked out on paper."""
    net = LoihiNet(
        InputSpec((3,), timesteps=2),
        [
            LoihiLayer("dense", (2,), name="hidden", weight=np.array([[2, 0, 4], [0, 0, -2]])),
            LoihiLayer("dense", (1,), weight=np.array([[2, 2]])),
        ],
    )
    x = np.zeros((2, 2, 3), dtype=bool)
    x[0, 0] = [1, 1, 0]  # fan-outs 1 + 0
    x[0, 1] = [0, 0, 1]  # 2
    x[1, 1] = [1, 0, 1]  # 1 + 2
    s1 = np.zeros((2, 4, 2), dtype=bool)
    s1[0, 1] = [1, 1]  # fan-out 1 each
    s1[1, 2, 0] = 1
    s2 = np.zeros((2, 4, 1), dtype=bool)
    s2[0, 2, 0] = 1
    acc = ActivityAccumulator(net)
    acc.add(x, [s1, s2])
    first, second = acc.result()
    assert (first.name, second.name) == ("hidden", "dense2")
    assert first.input_spikes == 5 / 2 and first.synops == 6 / 2 and first.spikes == 3 / 2
    assert first.synapses == 3 and first.neurons == 2
    assert first.neuron_updates == 2 * 4
    assert second.input_spikes == 3 / 2 and second.synops == 3 / 2 and second.spikes == 1 / 2
    assert second.neuron_updates == 1 * 4
    # round trip through a dict (what sim.json stores)
    assert LayerActivity.from_dict(first.to_dict()) == first


def test_graded_input_counts_one_event_per_nonzero_payload():
    net = LoihiNet(InputSpec((2,), timesteps=1), [LoihiLayer("dense", (3,), weight=np.full((3, 2), 2))])
    acc = ActivityAccumulator(net)
    acc.add(np.array([[[200, 0]]], dtype=np.uint8), [np.zeros((1, 2, 3), dtype=bool)])
    (layer,) = acc.result()
    assert layer.input_spikes == 1 and layer.synops == 3


def test_shape_mismatch_is_one_line_error():
    net = LoihiNet(InputSpec((3,)), [LoihiLayer("dense", (2,), weight=np.zeros((2, 3), dtype=int))])
    with pytest.raises(SnnxError, match="do not match"):
        ActivityAccumulator(net).add(np.zeros((1, 2, 4), dtype=bool), [np.zeros((1, 3, 2), dtype=bool)])


def test_counts_from_fast_simulator_over_batches_equal_one_batch():
    rng = np.random.default_rng(5)
    net = random_conv_net(rng, in_shape=(2, 7, 9), convs=[(4, 3, 2)], dense=[6])
    x = random_inputs(rng, net, 6, 4)
    whole, parts = ActivityAccumulator(net), ActivityAccumulator(net)
    whole.add(x, simulate(net, x).spikes)
    for lo in (0, 2, 5):
        chunk = x[lo : lo + {0: 2, 2: 3, 5: 1}[lo]]
        parts.add(chunk, simulate(net, chunk).spikes)
    assert whole.result() == parts.result()


@pytest.mark.lava
def test_synops_from_fast_simulator_equal_those_from_lava_spikes(tmp_path):
    from snnx.sim.lava_backend import run_lava

    rng = np.random.default_rng(7)
    net = random_conv_net(rng, in_shape=(2, 7, 9), convs=[(4, 3, 2)], dense=[6], extreme=False)
    x = random_inputs(rng, net, 3, 5, rate=0.3)
    fast, lava = ActivityAccumulator(net), ActivityAccumulator(net)
    fast.add(x, simulate(net, x).spikes)
    lava.add(x, run_lava(net, x, workdir=tmp_path).spikes)
    assert all(a.synops > 0 for a in fast.result())
    assert fast.result() == lava.result()
