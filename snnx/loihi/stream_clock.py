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
A bias alone times the clocks only coarsely (a few steps apart near the end of a long window).
When no bias hits the step exactly, a few "pre-clock" neurons (a bias, no input, an even weight of at most the
layer's largest magnitude onto the clocks only, zero onto everything else) fire earlier and push
the clocks so that they spike on exactly that step; the clocks' inhibition then silences the
pre-clocks' last step too. Only if no such pair is found do the clocks fire d steps early, and the
layer's last d in-window steps are inhibited too (the export prints the step).
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
    pre: int = 0  # pre-clock neurons that push the clocks onto their step (0: the bias alone does)
    pre_bias: int = 0


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


def _pre_clock(layer: LoihiLayer, steps: int, target: int, clocks: int, bias: int, w: int,
               max_pre: int = 8, window: int = 256) -> tuple[int, int, int, int] | None:
    """(pre-clocks m, their bias, the clocks' bias, their weight onto the clocks) that make the clocks first spike exactly on running
    step ``target``: m pre-clocks with a bias spike periodically from reset, each spike adding m x
    a push of at most ``w`` (as Lava computes it, with the layer's netx exponent) to the clocks' current one step
    later; the clocks' bias is below ``bias`` (which alone fires too early, at most ``window``
    below it). Every pair of biases is simulated at once through the last step, the clocks'
    inhibition included (no one of the group may spike there). None if no choice does it."""
    pre_first = first_spikes(layer, target)
    b_pre = np.flatnonzero((pre_first >= 0) & (pre_first < target - 1)) + 1
    b_clk = np.arange(max(1, bias - window), bias)
    if not b_pre.size or not b_clk.size:
        return None
    # one pre-clock at every even push up to w (the sum m x w is what counts), then more of them
    tries = [(1, push) for push in range(w, 0, -2)] + [(m, w) for m in range(2, min(max_pre, clocks - 1) + 1)]
    for m, push in tries:
        w_pc, w_inh, exp = _group_weights(layer, m, clocks, push, w)
        got = _clock_steps(layer, steps, m, clocks, w_pc, w_inh, exp, b_pre, b_clk)
        hit = np.argwhere(got == target)
        if hit.size:
            i, j = hit[np.lexsort((-hit[:, 1], hit[:, 0]))[0]]  # smallest pre-clock bias, then largest clock bias
            return m, int(b_pre[i]), int(b_clk[j]), push
    return None


def _group_weights(layer: LoihiLayer, m: int, clocks: int, push: int, w: int) -> tuple[int, int, int]:
    """Lava's pre -> clock and clock -> anyone weights (``push``, ``-w`` before netx's bit optimization)
    in the layer the m pre-clocks and ``clocks`` clocks join, and that layer's netx exponent."""
    n, n_in = layer.weight_rec.shape[0], layer.weight.shape[1]
    full_w = np.vstack([layer.weight, np.zeros((m + clocks, n_in), np.int64)])
    full_r = np.zeros((n + m + clocks, n + m + clocks), np.int64)
    full_r[:n, :n] = layer.weight_rec
    full_r[n + m:, n:n + m] = push
    full_r[:, n + m:] = -w
    _, r, exp = lava_recurrent_weights(full_w, full_r)
    return int(r[n + m, n]), int(r[n, n + m]), exp


def _clock_steps(layer: LoihiLayer, steps: int, m: int, clocks: int, w_pc: int, w_inh: int, exp: int,
                 b_pre: np.ndarray, b_clk: np.ndarray) -> np.ndarray:
    """[pre-clock bias, clock bias]: the running step at which the clocks first spike, -1 if never,
    -2 if they spike twice or anyone of the group spikes on the last running step (S - 2). The
    group receives nothing but its own spikes, and the neurons of each kind act alike, so one of
    each (state [.., 2]: pre-clock, clock) with the summed currents is exactly Lava's run."""
    shape = (len(b_pre), len(b_clk))
    bias = np.stack(np.broadcast_arrays(b_pre[:, None], b_clk[None, :]), axis=-1)
    p = dataclasses.replace(cuba_params(layer), bias=bias)
    u = np.zeros((*shape, 2), np.int32)
    v = np.zeros_like(u)
    s = np.zeros((*shape, 2), bool)
    first = np.full(shape, -1)
    bad = np.zeros(shape, bool)
    for t in range(steps - 1):  # running steps 0 .. S - 2 (the last)
        inh = clocks * w_inh * s[..., 1].astype(np.int64)
        a = np.stack([inh, inh + m * w_pc * s[..., 0].astype(np.int64)], axis=-1)
        a = a >> -exp if exp < 0 else a << exp
        s, u, v = cuba_step(a, u, v, p)
        bad |= s[..., 1] & (first >= 0)
        first[(first < 0) & s[..., 1]] = t
    bad |= s.any(axis=-1)
    first[bad] = -2
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
        pre, pre_bias, push = 0, 0, 0
        if k < target and (found := _pre_clock(layer, steps, target, clocks, bias, -w_inh)) is not None:
            pre, pre_bias, bias, push = found
            k = target
        extra = pre + clocks  # pre-clocks first, then the clocks
        weight = np.vstack([layer.weight, np.zeros((extra, layer.weight.shape[1]), np.int64)])
        weight_rec = np.zeros((n + extra, n + extra), np.int64)
        weight_rec[:n, :n] = layer.weight_rec
        weight_rec[n + pre:, n:n + pre] = push  # pre-clocks push the clocks only
        weight_rec[:, n + pre:] = w_inh  # every neuron, the clocks included: one spike per sample
        old_bias = np.zeros(n, np.int64) if layer.bias is None else np.asarray(layer.bias).reshape(-1)
        new = dataclasses.replace(layer, shape=(n + extra,), weight=weight, weight_rec=weight_rec,
                                  bias=np.concatenate([old_bias, np.full(pre, pre_bias), np.full(clocks, bias)]))
        w0, r0, e0 = lava_recurrent_weights(layer.weight, layer.weight_rec)
        w1, r1, e1 = lava_recurrent_weights(new.weight, new.weight_rec)
        if e0 != e1 or not (np.array_equal(w0, w1[:n]) and np.array_equal(r0, r1[:n, :n])):
            raise SnnxError(f"layer {i + 1}: the stream clock would change netx's weight exponent; "
                            "export without it")
        layers[j] = new
        layers[synapse_pos[i + 1]] = dataclasses.replace(
            nxt, weight=np.hstack([nxt.weight, np.zeros((nxt.weight.shape[0], extra), np.int64)]))
        infos.append(ClockInfo(i, clocks, bias, i + 1 + k, steps + i - 1, w_inh, pre, pre_bias))
    return dataclasses.replace(net, layers=tuple(layers)), infos
