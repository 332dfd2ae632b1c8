"""The fast simulator's pieces against hand-computed numbers and its own integer reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnx.errors import SnnxError
from snnx.loihi.cuba import CubaParams
from snnx.loihi.net import InputSpec, LoihiLayer, LoihiNet
from snnx.loihi.weights import lava_dense_weight
from snnx.sim import fast
from snnx.sim.fast import FastSimulator, _Conv, _Dense, _Lif, predictions, simulate
from snnx.sim.randnet import random_dense_net, random_inputs


@pytest.mark.parametrize("seed", range(10))
def test_float_recurrence_equals_integer_reference(seed):
    """The float64 fast path gives the int32 reference's spikes, u and v (including wraps),
    also for netx's du = -1 (iDecay 0) and dv = 4096 (vDecay 4096)."""
    rng = np.random.default_rng(seed)
    shape = (7,)
    p = CubaParams(
        du=int(rng.choice([-1, 0, 1, 2047, 4094, 4095])),
        dv=int(rng.choice([0, 1, 205, 4095, 4096])),
        vth=int(rng.choice([0, 3, 1000, 131071])),
        bias=rng.integers(-4096, 4096, shape),
    )
    a_max = int(rng.choice([10, 2**12, 2**16]))
    a = rng.integers(-a_max, a_max + 1, (20, 5, *shape)).astype(np.float32)
    lif = _Lif(p, shape, float(a_max), 24)
    assert lif.exact_float
    res_f = [np.zeros((24, 5, *shape), dtype=dt) for dt in (bool, np.int64, np.int64)]
    res_i = [np.zeros_like(r) for r in res_f]
    lif._run_float(a, 2, 24, *res_f)
    lif._run_int(a, 2, 24, *res_i)
    for f, i in zip(res_f, res_i, strict=True):
        assert np.array_equal(f, i)


@pytest.mark.parametrize("seed", range(8))
def test_float32_recurrence_at_its_bounds(seed):
    """Where the plan picks float32, inputs held at the largest |a| it allows (driving |u|, |v|
    to their bounds) still give the int32 reference's spikes, u and v."""
    rng = np.random.default_rng(100 + seed)
    shape = (6,)
    p = CubaParams(
        du=int(rng.choice([-1, 0, 1000, 4095])),
        dv=int(rng.choice([0, 1024, 3000, 4095, 4096])),
        vth=int(rng.choice([0, 1000, 131071])),
        bias=rng.integers(-4096, 4096, shape),
    )
    steps = 24
    fits = [m for m in 2 ** np.arange(0, 18) if _Lif(p, shape, float(m), steps).dtype == np.float32]
    a_max = int(max(fits, default=1))
    sign = np.where(rng.random((4, 1)) < 0.5, -1, 1)  # per sample: held at -a_max or +a_max
    a = np.concatenate([np.broadcast_to(sign * a_max, (20, 4, *shape)),
                        rng.integers(-a_max, a_max + 1, (20, 2, *shape))], axis=1).astype(np.float32)
    lif = _Lif(p, shape, float(a_max), steps)
    res_f = [np.zeros((steps, 6, *shape), dtype=dt) for dt in (bool, np.int64, np.int64)]
    res_i = [np.zeros_like(r) for r in res_f]
    lif._run_float(a, 1, steps, *res_f)
    lif._run_int(a, 1, steps, *res_i)
    for f, i in zip(res_f, res_i, strict=True):
        assert np.array_equal(f, i)
    assert fits or lif.dtype == np.float64


@pytest.mark.parametrize("in_max", [1, 255])
def test_dense_gemm_paths_are_exact(in_max):
    rng = np.random.default_rng(in_max)
    w = rng.integers(-256, 256, (30, 500))
    layer = LoihiLayer("dense", (30,), weight=w)
    syn = _Dense(layer, (500,), in_max)
    x = rng.integers(0, in_max + 1, (64, 500)).astype(np.uint8 if in_max > 1 else bool)
    w_lava, exp = lava_dense_weight(w)
    want = (x.astype(np.int64) @ w_lava.T) >> -exp
    assert np.array_equal(np.asarray(syn(x)).astype(np.int64), want)


@pytest.mark.parametrize("path", ["qconv", "im2col"])
@pytest.mark.parametrize("seed", range(4))
def test_conv_int8_paths_equal_integer_cross_correlation(seed, path, monkeypatch):
    """Binary input through oneDNN's int8 convolution, or channels-last im2col and the int8 GEMM
    (where that convolution is missing), 9-bit weights split in two, equals an int64
    cross-correlation, with stride, padding and dilation, in both layouts."""
    if path == "im2col":
        monkeypatch.setattr(fast, "_int8_conv_works", lambda: False)
    rng = np.random.default_rng(seed)
    c, k = int(rng.integers(1, 4)), int(rng.choice([1, 3, 5]))
    stride, pad, dil = int(rng.integers(1, 3)), int(rng.integers(0, 3)), int(rng.integers(1, 3))
    in_shape = (c, 9, 11)
    w = rng.integers(-256, 256, (5, c, k, k))
    x = rng.random((7, *in_shape)) < 0.6
    want = torch.nn.functional.conv2d(
        torch.from_numpy(x.astype(np.float64)), torch.from_numpy(w.astype(np.float64)), None,
        stride, pad, dil).numpy()
    layer = LoihiLayer("conv", tuple(want.shape[1:]), weight=w, stride=(stride, stride),
                       padding=(pad, pad), dilation=(dil, dil))
    chw = _Conv(layer, in_shape, 1)
    hwc = _Conv(layer, in_shape, 1, hwc=True)
    assert (chw.qconv if path == "qconv" else chw.gemm) is not None
    assert np.array_equal(chw(x), want)
    assert np.array_equal(hwc(x.transpose(0, 2, 3, 1)), want.transpose(0, 2, 3, 1))


def test_layers_are_held_in_reset_until_the_sample_arrives():
    """Layer l (1-based) is silent for steps 1..l even with a bias that fires every step."""
    layers = [
        LoihiLayer(
            "dense",
            (2,),
            weight=np.zeros((2, 3), int),
            bias=np.full(2, 100),
            vth=1,
            du=4095,
            dv=4095,
        ),
        LoihiLayer(
            "dense",
            (2,),
            weight=np.zeros((2, 2), int),
            bias=np.full(2, 100),
            vth=1,
            du=4095,
            dv=4095,
        ),
    ]
    net = LoihiNet(InputSpec((3,)), layers)
    run = simulate(net, np.zeros((1, 4, 3), dtype=np.uint8))
    assert run.spikes[0][0].all(axis=1).tolist() == [False, True, True, True, True, True]
    assert run.spikes[1][0].all(axis=1).tolist() == [False, False, True, True, True, True]
    assert run.counts.tolist() == [[4, 4]]  # steps L+1..T+L


def test_predictions_first_max_wins():
    assert predictions(np.array([[1, 3, 3], [0, 0, 0], [2, 1, 0]])).tolist() == [1, 0, 0]


def test_batches_are_independent():
    """Simulating samples together or one by one gives the same result (no state leaks)."""
    rng = np.random.default_rng(3)
    net = random_dense_net(rng, [20, 15, 5])
    x = random_inputs(rng, net, 6, 7, rate=0.4)
    sim = FastSimulator(net, 7)
    whole = sim.run(x, record_state=True)
    for k in range(6):
        one = sim.run(x[k : k + 1], record_state=True)
        for i in range(2):
            assert np.array_equal(one.spikes[i][0], whole.spikes[i][k])
            assert np.array_equal(one.v[i][0], whole.v[i][k])


def test_bad_inputs():
    net = random_dense_net(np.random.default_rng(0), [4, 3])
    with pytest.raises(SnnxError, match="shape"):
        simulate(net, np.zeros((2, 3, 5)))
    with pytest.raises(SnnxError, match=r"\[0, 255\]"):
        simulate(net, np.full((2, 3, 4), 300))
    with pytest.raises(SnnxError, match="integers"):
        simulate(net, np.full((2, 3, 4), 0.5))
