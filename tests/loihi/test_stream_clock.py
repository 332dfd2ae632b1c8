"""The stream clock (snnx.loihi.stream_clock): a dense_rec attractor that would leak through netx's
reset is silenced on its last step, so the stream equals every sample from rest, bit for bit; the
spikes the readout counts are unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from snnx.errors import SnnxError
from snnx.loihi.net import InputSpec, LoihiLayer, LoihiNet
from snnx.loihi.stream_clock import add_stream_clock
from snnx.loihi.weights import lava_recurrent_weights
from snnx.sim.fast import FastSimulator

T = 12


def attractor_net() -> LoihiNet:
    """Inputs 0 and 1 start an attractor (all-to-all excitation) that fires to the end of the window."""
    layer = LoihiLayer("dense", (6,), weight=np.array([[40, 40, -254]] * 6), weight_rec=np.full((6, 6), 30),
                       du=818, dv=205, vth=60)
    out = LoihiLayer("dense", (2,), weight=np.array([[50, 50, 50, 0, 0, 0], [0, 0, 0, 50, 50, 50]]),
                     du=4095, dv=0, vth=20)
    return LoihiNet(InputSpec((3,), "rate", T), (layer, out))


def inputs() -> np.ndarray:
    rng = np.random.default_rng(0)
    x = np.zeros((10, T, 3), dtype=bool)
    x[::2, 0, :2] = True  # every other sample starts the attractor; the ones between have no input
    x[:, :, :2] |= rng.random((10, T, 2)) < 0.1
    return x


def test_clock_silences_the_last_step_and_the_stream_equals_from_rest():
    net, x = attractor_net(), inputs()
    plain = FastSimulator(net, T).run(x)
    assert plain.spikes[0][:, -1].any()  # without the clock: the attractor fires to the end and leaks
    alone_plain = FastSimulator(net, T, independent=True).run(x)
    assert not all(np.array_equal(a, b) for a, b in zip(plain.spikes, alone_plain.spikes, strict=True))

    clocked, (info,) = add_stream_clock(net, 4)
    assert info.last_step == T + 1 and 1 <= info.fire_step <= info.last_step - 1
    streamed = FastSimulator(clocked, T).run(x)
    alone = FastSimulator(clocked, T, independent=True).run(x)
    assert not streamed.spikes[0][:, -1].any()
    for a, b in zip(streamed.spikes, alone.spikes, strict=True):
        assert np.array_equal(a, b)
    # the clocks fire once per sample, on the step found; the original neurons' spikes before the
    # clock's inhibition arrives are those of the network without the clock, run alone
    clock_spikes = streamed.spikes[0][:, :, 6 + info.pre:]  # after the pre-clocks (if any)
    assert (clock_spikes.sum(axis=1) == 1).all() and clock_spikes[:, info.fire_step].all()
    upto = info.fire_step + 1
    assert np.array_equal(streamed.spikes[0][:, :upto, :6], alone_plain.spikes[0][:, :upto])
    if info.fire_step == info.last_step - 1:  # the clock could fire on the very step before the last
        assert np.array_equal(streamed.predictions, alone_plain.predictions)


def test_clock_keeps_netx_weights_and_refuses_an_output_layer():
    net = attractor_net()
    clocked, _ = add_stream_clock(net, 3)
    old, new = net.layers[0], clocked.layers[0]
    w0, r0, e0 = lava_recurrent_weights(old.weight, old.weight_rec)
    w1, r1, e1 = lava_recurrent_weights(new.weight, new.weight_rec)
    assert e0 == e1 and np.array_equal(w0, w1[:6]) and np.array_equal(r0, r1[:6, :6])
    assert not clocked.layers[1].weight[:, 6:].any()  # the readout does not see the clocks
    assert add_stream_clock(net, 0)[0] is net
    rec_out = LoihiNet(InputSpec((3,), "rate", T), (LoihiLayer("dense", (2,), weight=np.full((2, 3), 10),
                                                               weight_rec=np.full((2, 2), 10), vth=30),))
    with pytest.raises(SnnxError, match="output layer"):
        add_stream_clock(rec_out, 2)


@pytest.mark.parametrize("seed", [6, 18, 24])
def test_clock_in_two_recurrent_layers_makes_samples_independent_of_order(seed):
    """Random nets with two hidden dense_rec layers that spike past their windows (and biases that
    make them fire from rest): with the clock, every sample after the first runs the same in any
    order, i.e. nothing crosses netx's reset from the sample before (without it, the order matters)."""
    from snnx.sim.randnet import random_inputs, random_recurrent_net

    rng = np.random.default_rng(seed)
    net = random_recurrent_net(rng, [6, 10, 10, 3], extreme=False)
    assert not net.synapse_layers[-1].is_recurrent
    x = random_inputs(rng, net, 12, 8, rate=0.5)
    n = len(x)

    def order_free(candidate: LoihiNet) -> bool:
        fwd, rev = FastSimulator(candidate, 8).run(x), FastSimulator(candidate, 8).run(x[::-1])
        return all(np.array_equal(a[k], b[n - 1 - k]) for k in range(1, n - 1)
                   for a, b in zip(fwd.spikes, rev.spikes, strict=True))

    assert not order_free(net)
    clocked, infos = add_stream_clock(net, 128)
    assert [i.layer for i in infos] == [0, 1]
    assert order_free(clocked)


def test_pre_clocks_time_the_clock_exactly_where_a_bias_alone_cannot():
    """Row-MNIST's decays (du 2047, dv 410) and threshold (401) over 28 steps: biases 42 and 43 make a lone
    neuron first spike on running steps 29 and 25, never on 27, the step before the last. Pre-clock
    neurons push the clocks onto it: they fire on the step before the last, the stream equals every
    sample from rest and the readout sees exactly the spikes of the network without the clock."""
    from snnx.loihi.stream_clock import first_spikes

    steps = 28
    layer = LoihiLayer("dense", (6,), weight=np.array([[120, 120, -254]] * 6), weight_rec=np.full((6, 6), 90),
                       du=2047, dv=410, vth=401)
    out = LoihiLayer("dense", (2,), weight=np.array([[50, 50, 50, 0, 0, 0], [0, 0, 0, 50, 50, 50]]),
                     du=4095, dv=0, vth=20)
    net = LoihiNet(InputSpec((3,), "rate", steps), (layer, out))
    target = steps + 2 - 3  # running step: S - 3 with S = steps + 2 layers
    assert target not in first_spikes(layer, steps + 2)  # no bias alone fires on that step
    rng = np.random.default_rng(0)
    x = np.zeros((10, steps, 3), dtype=bool)
    x[::2, 0, :2] = True
    x[:, :, :2] |= rng.random((10, steps, 2)) < 0.1
    assert FastSimulator(net, steps).run(x).spikes[0][:, -1].any()  # the attractor leaks without a clock

    clocked, (info,) = add_stream_clock(net, 4)
    assert info.pre >= 1 and info.fire_step == info.last_step - 1
    streamed = FastSimulator(clocked, steps).run(x)
    alone = FastSimulator(clocked, steps, independent=True).run(x)
    for a, b in zip(streamed.spikes, alone.spikes, strict=True):
        assert np.array_equal(a, b)
    assert not streamed.spikes[0][:, -1].any()
    clocks = streamed.spikes[0][:, :, 6 + info.pre:]
    assert (clocks.sum(axis=1) == 1).all() and clocks[:, info.fire_step].all()
    plain_alone = FastSimulator(net, steps, independent=True).run(x)
    upto = info.fire_step + 1
    assert np.array_equal(streamed.spikes[0][:, :upto, :6], plain_alone.spikes[0][:, :upto])
    assert np.array_equal(streamed.spikes[1], plain_alone.spikes[1])  # the readout is unchanged
