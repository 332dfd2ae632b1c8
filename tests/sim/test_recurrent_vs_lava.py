"""netx dense_rec (Lava RecurrentDense): the fast simulator equals Lava bit for bit, spikes, u and v,
every layer and step, over a stream of samples (the recurrent state crosses netx's reset)."""

from __future__ import annotations

import numpy as np
import pytest

from snnx.loihi.net import InputSpec, LoihiLayer, LoihiNet
from snnx.sim.fast import FastSimulator
from snnx.sim.lava_backend import run_lava
from snnx.sim.randnet import random_inputs, random_recurrent_net

pytestmark = pytest.mark.lava


def assert_stream_identical(net: LoihiNet, x: np.ndarray, tmp_path, graded: bool = False) -> None:
    """One Lava run over all samples = the fast simulator fed the samples in two calls."""
    lava = run_lava(net, x, record_state=True, workdir=tmp_path)
    sim = FastSimulator(net, x.shape[1], graded=graded, stream=True)
    cut = len(x) // 2
    parts = [sim.run(x[:cut], record_state=True), sim.run(x[cut:], record_state=True)]
    crossed = 0
    for i in range(net.num_synapse_layers):
        for key in ("spikes", "u", "v"):
            a = np.concatenate([getattr(p, key)[i] for p in parts])
            b = getattr(lava, key)[i]
            if not np.array_equal(a, b):
                where = tuple(np.argwhere(a != b)[0])
                pytest.fail(f"layer {i + 1} {key} differs at (sample, step, ...) {where}: fast {a[where]}, lava {b[where]}")
        if net.synapse_layers[i].is_recurrent:
            alone = FastSimulator(net, x.shape[1], graded=graded).run(x[1:])  # sample 1 without its predecessor
            crossed += int(not np.array_equal(alone.spikes[i][0], lava.spikes[i][1]))
    return crossed


@pytest.mark.parametrize("seed", range(3))
def test_random_recurrent_nets(tmp_path, seed):
    """Random dense_rec nets (sign modes, odd weights, decays, biases) driven to spike past their windows."""
    rng = np.random.default_rng(300 + seed)
    sizes = [int(rng.integers(3, 25)) for _ in range(int(rng.integers(3, 5)))]
    net = random_recurrent_net(rng, sizes)
    assert_stream_identical(net, random_inputs(rng, net, 6, int(rng.integers(2, 9)), rate=0.5), tmp_path)


def test_recurrent_graded_input_wraps_and_saturates(tmp_path):
    """Graded input into a dense_rec layer whose u wraps and v saturates, leaking into the next sample."""
    rng = np.random.default_rng(7)
    n_in, n = 30, 6
    rec = LoihiLayer("dense", (n,), weight=np.full((n, n_in), 254), weight_rec=rng.integers(-128, 128, (n, n)) * 2,
                     du=0, dv=0, vth=400, bias=np.full(n, 3000))
    out = LoihiLayer("dense", (3,), weight=rng.integers(-128, 128, (3, n)) * 2, du=4095, dv=100, vth=5)
    net = LoihiNet(InputSpec((n_in,), "direct", 5), (rec, out))
    x = rng.integers(0, 256, (5, 5, n_in)).astype(np.uint8)
    assert_stream_identical(net, x, tmp_path, graded=True)
    lava_u = run_lava(net, x, record_state=True, workdir=tmp_path).u[0]
    assert np.abs(lava_u).max() > 2**22  # the case exercises the large-current range


def test_state_crosses_samples(tmp_path):
    """The leak is real: a net that keeps firing past its window changes the next sample's spikes,
    and the fast simulator reproduces it (a per-sample model would not)."""
    layer = LoihiLayer("dense", (4,), weight=np.full((4, 3), 40), weight_rec=np.full((4, 4), 60),
                       du=4095, dv=200, vth=30)
    out = LoihiLayer("dense", (2,), weight=np.array([[50, 0, 0, 0], [0, 0, 0, 50]]), du=4095, dv=0, vth=20)
    net = LoihiNet(InputSpec((3,), "rate", 3), (layer, out))
    x = np.zeros((3, 3, 3), dtype=np.uint8)
    x[0, 0] = 1  # only the first sample has input; the recurrent layer keeps itself firing
    assert assert_stream_identical(net, x, tmp_path) >= 1


def test_recurrent_synops_are_counted():
    """Synaptic ops of a dense_rec layer: input spikes x fan-out plus its own spikes x recurrent fan-out."""
    from snnx.sim.activity import ActivityAccumulator

    w_rec = np.zeros((3, 3), dtype=np.int64)
    w_rec[:, 0] = 2  # neuron 0 reaches all three, the others reach nobody
    w_rec[1, 1] = 2  # neuron 1 reaches itself
    layer = LoihiLayer("dense", (3,), weight=np.full((3, 2), 2), weight_rec=w_rec, vth=1)
    net = LoihiNet(InputSpec((2,), "rate", 2), (layer,))
    acc = ActivityAccumulator(net)
    x = np.array([[[1, 0], [1, 1]]])  # 3 input spikes, each to 3 neurons
    s = np.zeros((1, 3, 3), dtype=bool)
    s[0, 1, 0] = s[0, 2, 0] = s[0, 2, 1] = True  # neuron 0 twice (x3), neuron 1 once (x1)
    acc.add(x, [s])
    (act,) = acc.result()
    assert act.synops == 3 * 3 + 2 * 3 + 1
    assert act.synapses == 6 + 4


def test_independent_samples_equal_separate_lava_runs(tmp_path):
    """``independent=True``: every sample as its own fresh Lava run (no state from the sample before)."""
    rng = np.random.default_rng(11)
    net = random_recurrent_net(rng, [6, 8, 3])
    x = random_inputs(rng, net, 2, 4, rate=0.6)
    fast = FastSimulator(net, 4, independent=True).run(x, record_state=True)
    for k in range(2):
        lava = run_lava(net, x[k:k + 1], record_state=True, workdir=tmp_path)
        for i in range(2):
            assert np.array_equal(fast.spikes[i][k:k + 1], lava.spikes[i])
            assert np.array_equal(fast.v[i][k:k + 1], lava.v[i])


def test_sim_stage_both_backends_on_a_recurrent_run(make_run, synthetic_mnist):
    """`snnx export` writes dense_rec and `snnx sim --backend both` streams the test images through
    Lava and the fast engine (batch by batch, one stream) with identical spikes."""
    import json

    import h5py

    import snnx

    run = make_run("rec", recurrent=True, hidden=[24])
    snnx.export(run)
    with h5py.File(run / "model.net") as f:
        assert [f[f"layer/{k}/type"][0] for k in range(1, 4)] == [b"flatten", b"dense_rec", b"dense"]
    snnx.simulate(run, backend="both", samples=12, data_dir=synthetic_mnist)
    sim = json.loads((run / "sim.json").read_text())
    assert sim["lava_fast_identical"] is True
    assert sim["spikes_per_sample"][0]["fixed"] > 1



def test_sim_stage_runs_a_recurrent_stream_once(tmp_path):
    """The counted fast engine carries dense_rec state from batch to batch and records membranes in
    the same pass: batches (of one sample, too) through the stage give the spikes of one stream."""
    from snnx.loihi.netx import write_netx
    from snnx.sim.fast import FastSimulator
    from snnx.sim.randnet import random_inputs, random_recurrent_net
    from snnx.sim.stage import Batch, _FixedRuns

    rng = np.random.default_rng(3)
    net = random_recurrent_net(rng, [12, 10, 6])
    write_netx(net, tmp_path / "model.net")
    x = random_inputs(rng, net, 14, 8, rate=0.5)
    runs = _FixedRuns(net, tmp_path / "model.net", 8, False, "fast", keep_spikes=True)
    for sl in (slice(0, 1), slice(1, 2), slice(2, 14)):
        runs.add(Batch(sl, x[sl], None, None))
    staged = [np.concatenate(parts) for parts in zip(*runs.spikes["fast"], strict=True)]
    whole = FastSimulator(net, 8, stream=True).run(x).spikes
    assert any(s[1:].any() for s in whole)
    for got, want in zip(staged, whole, strict=True):
        assert np.array_equal(got, want)
