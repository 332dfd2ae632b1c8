"""The fast simulator equals Lava (netx, fixed_pt) bit for bit: spikes, u and v, every layer, every step."""

from __future__ import annotations

import numpy as np
import pytest

from snnx.loihi.net import InputSpec, LoihiLayer, LoihiNet
from snnx.sim.fast import simulate
from snnx.sim.lava_backend import run_lava
from snnx.sim.randnet import random_conv_net, random_dense_net, random_inputs

pytestmark = pytest.mark.lava


def assert_identical(net: LoihiNet, x: np.ndarray, tmp_path) -> None:
    fast = simulate(net, x, record_state=True)
    lava = run_lava(net, x, record_state=True, workdir=tmp_path)
    assert len(fast.spikes) == len(lava.spikes) == net.num_synapse_layers
    for i in range(net.num_synapse_layers):
        for key in ("spikes", "u", "v"):
            a, b = getattr(fast, key)[i], getattr(lava, key)[i]
            assert a.shape == b.shape
            if not np.array_equal(a, b):
                where = tuple(np.argwhere(a != b)[0])
                pytest.fail(
                    f"layer {i + 1} {key} differs at (sample, step, ...) {where}: fast {a[where]}, lava {b[where]}"
                )


@pytest.mark.parametrize("seed", range(8))
def test_random_dense_nets(tmp_path, seed):
    """Random sizes, sign modes, odd/zero weights, extreme decays, biases and thresholds."""
    rng = np.random.default_rng(100 + seed)
    sizes = [int(rng.integers(1, 40)) for _ in range(int(rng.integers(2, 5)))]
    net = random_dense_net(rng, sizes)
    assert_identical(net, random_inputs(rng, net, 3, int(rng.integers(1, 9))), tmp_path)


@pytest.mark.parametrize("seed", range(3))
def test_random_conv_nets(tmp_path, seed):
    """Strided, dilated and grouped convolutions, per-neuron biases, flatten into dense."""
    rng = np.random.default_rng(200 + seed)
    net = random_conv_net(rng, in_shape=(2, 7, 9), convs=[(4, 3, 2), (4, 3, 1)], dense=[6])
    assert_identical(net, random_inputs(rng, net, 2, 5), tmp_path)


def test_current_wraps_and_voltage_saturates(tmp_path):
    """Dense input that pushes u past 2**23 (wrap) and v to +-(2**23 - 1) (saturation)."""
    n_in = 200
    layers = [
        # u never decays (du = 0), 200 * 255 * 64 per step: u wraps within a few steps
        LoihiLayer("dense", (4,), weight=np.full((4, n_in), 255), du=0, dv=0, vth=131071),
        # inhibitory weights and the most negative bias
        LoihiLayer(
            "dense",
            (3,),
            weight=np.full((3, 4), -256),
            bias=np.full(3, -4096),
            du=0,
            dv=4095,
            vth=0,
        ),
    ]
    mixed = np.tile([254, -256], (3, n_in // 2))
    net = LoihiNet(InputSpec((n_in,)), layers)
    x = np.ones((2, 12, n_in), dtype=np.uint8)
    x[1, ::3] = 0
    fast = simulate(net, x, record_state=True)
    # the cases are really hit: u falls although its input only adds (it wrapped), v saturates
    assert (np.diff(fast.u[0][0, :, 0]) < 0).any()
    assert min(v.min() for v in fast.v) == -(2**23 - 1)
    assert_identical(net, x, tmp_path)
    net2 = LoihiNet(
        InputSpec((n_in,)), [LoihiLayer("dense", (3,), weight=mixed, du=4095, dv=0, vth=5)]
    )
    assert_identical(net2, x, tmp_path)


def test_graded_input(tmp_path):
    """Integer-valued (graded) input spikes: Lava multiplies instead of summing columns."""
    rng = np.random.default_rng(5)
    net = random_dense_net(rng, [10, 6, 4], extreme=False)
    x = rng.integers(0, 256, (2, 4, 10)).astype(np.uint8)
    assert_identical(net, x, tmp_path)


def test_graded_conv_sums_beyond_float32(tmp_path):
    """Conv sums above 2**24 with odd values: exact in Lava (scipy, float64, DESIGN §6.2), where a
    float32 conv would round the last bit; the fast simulator switches to float64 and agrees."""
    rng = np.random.default_rng(11)
    weight = np.full((2, 32, 3, 3), 255)
    weight[1] = 253
    layers = [
        LoihiLayer("conv", (2, 1, 1), weight=weight, du=4095, dv=4095, vth=2**16),
        LoihiLayer("flatten", (2,)),
        LoihiLayer("dense", (2,), weight=np.array([[2, -2], [-2, 2]]), du=4095, dv=0, vth=1),
    ]
    net = LoihiNet(InputSpec((32, 3, 3), encoding="direct"), layers)
    x = rng.integers(240, 256, (2, 3, 32, 3, 3)).astype(np.uint8)
    x[..., 0, 0, 0] |= 1  # odd values: an exact sum is odd, float32 above 2**24 cannot hold it
    sums = np.einsum("ntchw,kchw->ntk", x.astype(np.int64), weight)
    assert sums.min() > 2**24 and (sums % 2 == 1).any()
    assert_identical(net, x, tmp_path)
