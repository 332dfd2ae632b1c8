"""A dense_rec layer whose last step is silent leaks nothing through netx's reset: in the deployed
stream the next sample runs exactly as it would alone, from rest (docs/design.md §12)."""

from __future__ import annotations

import json

import numpy as np

from snnx.loihi.net import InputSpec, LoihiLayer, LoihiNet
from snnx.sim.fast import FastSimulator

T = 4


def kill_switch_net() -> LoihiNet:
    """Inputs 0 and 1 start a self-sustained attractor in the dense_rec layer (every neuron excites
    every other); input 2 is a strong inhibitory "kill" that silences the layer for the rest of
    the window when it fires on the last input step."""
    weight = np.array([[40, 40, -254]] * 4)
    layer = LoihiLayer("dense", (4,), weight=weight, weight_rec=np.full((4, 4), 50), du=4095, dv=200, vth=30)
    # readout: class 0 while the layer fires, class 1 (its bias, inhibited by the layer) while it is silent
    out = LoihiLayer("dense", (2,), weight=np.array([[50, 50, 0, 0], [-100, -100, 0, 0]]), bias=np.array([0, 25]),
                     du=4095, dv=0, vth=20)
    return LoihiNet(InputSpec((3,), "rate", T), (layer, out))


def kill_switch_inputs() -> np.ndarray:
    """Samples: started and left firing, started and killed, no input, started and left, no input
    (kept firing by the leak), started and killed."""
    x = np.zeros((6, T, 3), dtype=bool)
    for k in (0, 1, 3, 5):
        x[k, 0, :2] = True
    for k in (1, 5):
        x[k, T - 1, 2] = True
    return x


def test_silent_last_step_means_stream_equals_from_rest():
    net = kill_switch_net()
    x = kill_switch_inputs()
    streamed = FastSimulator(net, T).run(x)
    alone = FastSimulator(net, T, independent=True).run(x)
    silent_end = ~streamed.spikes[0][:, -1].any(axis=1)  # the dense_rec layer's last step (it is layer 0)
    assert silent_end.tolist() == [False, True, True, False, False, True]

    def same(k: int) -> bool:
        return all(np.array_equal(s[k], a[k]) for s, a in zip(streamed.spikes, alone.spikes, strict=True))

    assert same(0)  # no bias: the rest state before the first reset is silent too
    for k in range(1, len(x)):
        if silent_end[k - 1]:
            assert same(k), f"sample {k} follows a silent end but differs from its run from rest"
    assert not same(4)  # after an attractor left firing, the silent sample fires: the leak is real
    assert streamed.spikes[0][4].any() and not alone.spikes[0][4].any()


def test_sim_reports_stream_and_from_rest(tmp_path):
    """`snnx sim` on a dense_rec net: fixed_accuracy is the deployed stream, and the report adds each
    sample from rest and how many samples the leak changed."""
    import snnx
    from snnx.loihi.netx import write_netx

    net = kill_switch_net()
    x = kill_switch_inputs()
    run = tmp_path / "run"
    run.mkdir()
    write_netx(net, run / "model.net")
    np.save(tmp_path / "x.npy", x.astype(np.uint8))
    alone = FastSimulator(net, T, independent=True).run(x)
    streamed = FastSimulator(net, T).run(x)
    labels = alone.predictions
    np.save(tmp_path / "y.npy", labels)
    res = snnx.simulate(run, backend="fast", input=tmp_path / "x.npy", labels=tmp_path / "y.npy")
    assert res.fixed_accuracy_from_rest == 1.0
    assert res.fixed_accuracy == float(np.mean(streamed.predictions == labels)) < 1.0
    differ = [not all(np.array_equal(s[k], a[k]) for s, a in zip(streamed.spikes, alone.spikes, strict=True))
              for k in range(len(x))]
    assert res.leaked_samples == sum(differ) >= 1
    saved = json.loads((run / "sim.json").read_text())
    assert saved["leaked_samples"] == res.leaked_samples
