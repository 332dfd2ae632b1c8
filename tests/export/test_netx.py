"""netx HDF5: round trips, netx (lava-dl) builds our files, we read lava-dl's files, errors."""

from __future__ import annotations

from dataclasses import replace

import h5py
import numpy as np
import pytest

from snnx.errors import SnnxError
from snnx.loihi.net import LoihiLayer, LoihiNet
from snnx.loihi.netx import read_netx, write_netx
from snnx.sim.lava_build import build_lava_network
from snnx.sim.randnet import random_conv_net, random_dense_net


def assert_same_net(a: LoihiNet, b: LoihiNet) -> None:
    assert a.input == b.input
    assert a.dt == b.dt and a.source == b.source
    assert len(a.layers) == len(b.layers)
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert (la.kind, la.shape, la.name, la.scale) == (lb.kind, lb.shape, lb.name, lb.scale)
        if la.kind == "flatten":
            continue
        assert np.array_equal(la.weight, lb.weight)
        assert (la.bias is None) == (lb.bias is None)
        if la.bias is not None:
            assert np.array_equal(la.bias, lb.bias)
        assert (la.du, la.dv, la.vth, la.weight_exp) == (lb.du, lb.dv, lb.vth, lb.weight_exp)
        assert (la.stride, la.padding, la.dilation, la.groups) == (
            lb.stride,
            lb.padding,
            lb.dilation,
            lb.groups,
        )


@pytest.mark.parametrize("seed", range(6))
def test_round_trip_random_nets(tmp_path, seed):
    rng = np.random.default_rng(seed)
    net = random_dense_net(rng, [12, 7, 3]) if seed % 2 else random_conv_net(rng)
    if seed == 2:  # a conv bias that differs across H, W must be stored per neuron
        first = replace(net.layers[0], bias=rng.integers(-100, 100, net.layers[0].shape))
        net = replace(net, layers=(first, *net.layers[1:]))
    net = replace(net, dt=2e-4, input=replace(net.input, params={"gain": 0.5}))
    write_netx(net, tmp_path / "model.net")
    assert_same_net(net, read_netx(tmp_path / "model.net"))


def test_netx_builds_our_file_with_torch_layout(tmp_path):
    """lava-dl netx loads the file; shapes, weights and biases land where Lava expects them."""
    rng = np.random.default_rng(7)
    net = random_conv_net(rng, convs=[(4, 3, 2)], dense=[5], extreme=False)
    first = replace(net.layers[0], bias=rng.integers(-100, 100, net.layers[0].shape))  # per neuron
    net = replace(net, layers=(first, *net.layers[1:]))
    net.layers[2].weight[:] = 0  # all-zero dense layer: netx alone would crash
    write_netx(net, tmp_path / "model.net")
    lava_net = build_lava_network(tmp_path / "model.net")
    conv, dense = lava_net.layers
    c, h, w = net.layers[0].shape
    assert conv.shape == (w, h, c)  # netx's WHC
    assert lava_net.inp.shape == tuple(reversed(net.input.shape))
    assert np.array_equal(conv.neuron.bias_mant.init, net.layers[0].bias.transpose(2, 1, 0))
    assert np.array_equal(conv.neuron.vth.init, net.layers[0].vth)
    assert conv.neuron.du.init == net.layers[0].du and conv.neuron.dv.init == net.layers[0].dv
    # Lava's conv weight is (out, x, y, in) with flipped kernels: netx flips back to torch layout
    lw = conv.synapse.weight.init
    assert np.array_equal(lw[:, ::-1, ::-1, :].transpose(0, 3, 2, 1), net.layers[0].weight)
    assert not np.any(dense.synapse.weights.init)


def test_reads_file_written_by_lava_dl(tmp_path):
    """A model.net exported by lava-dl's slayer (no input layer, float weights, no snnx metadata)."""
    torch = pytest.importorskip("torch")
    slayer = pytest.importorskip("lava.lib.dl.slayer")
    params = {"threshold": 1.25, "current_decay": 0.25, "voltage_decay": 0.03}
    blocks = [slayer.block.cuba.Dense(params, 20, 8), slayer.block.cuba.Dense(params, 8, 3)]
    x = torch.rand(1, 20, 4)
    for b in blocks:
        x = b(x)
    with h5py.File(tmp_path / "model.net", "w") as f:
        group = f.create_group("layer")
        for i, b in enumerate(blocks):
            b.export_hdf5(group.create_group(str(i)))
    net = read_netx(tmp_path / "model.net")
    assert net.input.shape == (20,) and net.input.encoding == "spikes"
    assert [layer.shape for layer in net.layers] == [(8,), (3,)]
    assert net.layers[0].du == 1023 and net.layers[0].vth == 80  # iDecay 1024, vThMant 1.25 * 64
    with h5py.File(tmp_path / "model.net") as f:
        assert np.array_equal(net.layers[1].weight, f["layer/1/weight"][()].astype(int))


def test_errors_are_one_line(tmp_path):
    with pytest.raises(SnnxError, match="snnx export"):
        read_netx(tmp_path / "missing.net")
    (tmp_path / "text.net").write_text("not hdf5")
    with pytest.raises(SnnxError, match="not an HDF5"):
        read_netx(tmp_path / "text.net")
    with h5py.File(tmp_path / "empty.net", "w") as f:
        f.create_group("other")
    with pytest.raises(SnnxError, match="no netx 'layer'"):
        read_netx(tmp_path / "empty.net")
    net = random_dense_net(np.random.default_rng(0), [4, 3])
    write_netx(net, tmp_path / "pool.net")
    with h5py.File(tmp_path / "pool.net", "a") as f:
        del f["layer/1/type"]
        f["layer/1"].create_dataset("type", (1,), "S10", [b"pool"])
    with pytest.raises(SnnxError, match="'pool' is not supported"):
        read_netx(tmp_path / "pool.net")


def test_write_is_atomic(tmp_path):
    net = random_dense_net(np.random.default_rng(1), [4, 3])
    write_netx(net, tmp_path / "model.net")
    before = (tmp_path / "model.net").read_bytes()
    bad = LoihiNet(
        input=net.input,
        layers=[LoihiLayer("dense", (3,), weight=np.ones((3, 4), int), weight_exp=2)],
    )
    with pytest.raises(SnnxError, match="weight_exp"):
        write_netx(bad, tmp_path / "model.net")
    assert (tmp_path / "model.net").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.net"]
