"""A stream clock for netx dense_rec layers: silence the last step, so the deployed stream leaks nothing.

netx's reset between streamed samples zeroes u and v but not a dense_rec layer's recurrent synapse:
the layer's spikes of its last step enter the next sample (docs/design.md §12). A trained
recurrent layer often ends in a self-sustained attractor, so the stream leaks. The clock needs
no retraining: ``clocks`` extra neurons in the layer, with no input and a bias that makes them
first cross threshold a fixed number of steps after netx's reset (the neuron state is exactly
known from rest: integer CUBA, snnx.loihi.cuba), inhibit every neuron of the layer (and
themselves) through ``weight_rec`` at the most negative weight the layer already has (so netx's
joint weight exponent is unchanged), and reach the next layer with zero weights. They fire once
per sample, at the latest step that still silences the layer's last step; with the layer silent
there, every sample of the stream runs exactly as it would alone (tests/sim/test_stream_clock.py).
If the clocks can fire no later than d steps before the last, the layer's last d in-window steps
are inhibited too (the export prints the step).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snnx.errors import SnnxError
from snnx.loihi.cuba import cuba_params, cuba_step
from snnx.loihi.limits import BIAS_MAX
from snnx.loihi.net import LoihiLayer, LoihiNet
from snnx.loihi.weights import lava_recurrent_weights


@dataclasses.dataclass(frozen=True)
class ClockInfo:
    layer: int  # 0-based synapse-layer index
    clocks: int
    bias: int
    fire_step: int  # the step (of the sample's window, 0-based) at which the clocks spike
    last_step: int  # the layer's last step before its reset (the one that leaks)
    weight: int  # the inhibitory recurrent weight of each clock


def first_spikes(layer: LoihiLayer, horizon: int) -> np.ndarray:
    """For every bias 1..BIAS_MAX: the running step (from reset) at which a lone neuron of ``layer``
    with that bias and no input first spikes, or -1 if not within ``horizon`` steps."""
    biases = np.arange(1, BIAS_MAX + 1)
    p = dataclasses.replace(cuba_params(layer), bias=biases)
    u = np.zeros(len(biases), np.int32)
    v = np.zeros(len(biases), np.int32)
    first = np.full(len(biases), -1)
    for k in range(horizon):
        s, u, v = cuba_step(np.zeros(len(biases), np.int64), u, v, p)
        first[(first < 0) & s] = k
    return first


def add_stream_clock(net: LoihiNet, clocks: int) -> tuple[LoihiNet, list[ClockInfo]]:
    """``net`` with ``clocks`` clock neurons in every hidden dense_rec layer (see the module docstring)."""
    if clocks <= 0:
        return net, []
    steps = net.input.timesteps + net.num_synapse_layers  # S: netx's reset interval
    layers = list(net.layers)
    synapse_pos = [j for j, ly in enumerate(layers) if ly.is_synapse]
    infos = []
    for i, j in enumerate(synapse_pos):
        layer = layers[j]
        if not layer.is_recurrent:
            continue
        if i == len(synapse_pos) - 1:
            raise SnnxError(f"the stream clock cannot go into the output layer {i + 1} (it would add classes); "
                            "export without it")
        nxt = layers[synapse_pos[i + 1]]
        if nxt.kind != "dense":
            raise SnnxError(f"the stream clock needs a dense layer after dense_rec layer {i + 1}")
        # layer i runs from its reset (step i + 1) to step S + i - 1; the clocks must spike on the
        # step before that last one: running step S - 3
        target = steps - 3
        first = first_spikes(layer, steps)
        ok = np.flatnonzero((first >= 1) & (first <= target))  # never on the step of the reset itself
        best = None if not ok.size else (int(ok[0]) + 1, int(first[ok[0]]))  # smallest bias: latest spike
        if best is None:
            raise SnnxError(f"layer {i + 1}: no bias makes a clock neuron fire before the last step; "
                            "export without the stream clock")
        bias, k = best
        n = int(np.prod(layer.shape))
        cat = np.hstack([layer.weight, layer.weight_rec])
        w_inh = -(int(np.abs(cat).max()) // 2 * 2)
        weight = np.vstack([layer.weight, np.zeros((clocks, layer.weight.shape[1]), np.int64)])
        weight_rec = np.zeros((n + clocks, n + clocks), np.int64)
        weight_rec[:n, :n] = layer.weight_rec
        weight_rec[:, n:] = w_inh  # every neuron, the clocks included: one spike per sample
        old_bias = np.zeros(n, np.int64) if layer.bias is None else np.asarray(layer.bias).reshape(-1)
        new = dataclasses.replace(layer, shape=(n + clocks,), weight=weight, weight_rec=weight_rec,
                                  bias=np.concatenate([old_bias, np.full(clocks, bias)]))
        w0, r0, e0 = lava_recurrent_weights(layer.weight, layer.weight_rec)
        w1, r1, e1 = lava_recurrent_weights(new.weight, new.weight_rec)
        if e0 != e1 or not (np.array_equal(w0, w1[:n]) and np.array_equal(r0, r1[:n, :n])):
            raise SnnxError(f"layer {i + 1}: the stream clock would change netx's weight exponent; "
                            "export without it")
        layers[j] = new
        layers[synapse_pos[i + 1]] = dataclasses.replace(
            nxt, weight=np.hstack([nxt.weight, np.zeros((nxt.weight.shape[0], clocks), np.int64)]))
        infos.append(ClockInfo(i, clocks, bias, i + 1 + k, steps + i - 1, w_inh))
    return dataclasses.replace(net, layers=tuple(layers)), infos
