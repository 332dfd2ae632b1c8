"""netx features lava-dl files carry: read as netx 0.6 builds them, or refused in one line that
names the layer and the feature (docs/design.md §6.4, §7.1)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from snnx.errors import SnnxError
from snnx.loihi.net import InputSpec, LoihiLayer, LoihiNet
from snnx.loihi.netx import read_netx, write_netx


def _put_str(g, key, value):
    g.create_dataset(key, (1,), "S10", [value.encode("ascii")])


def netx_file(path, neuron_type="CUBA", extra=None, input_neuron=False, conv_neuron=True):
    """A small file laid out as lava-dl writes them: input (maybe an Input block), conv, flatten, dense."""
    with h5py.File(path, "w") as f:
        layer = f.create_group("layer")
        g = layer.create_group("0")
        _put_str(g, "type", "input")
        g.create_dataset("shape", data=np.array([2, 5, 5]))
        if input_neuron:
            g.create_dataset("weight", data=np.float32(40.0))
            g.create_dataset("bias", data=np.float32(36.0))
            n = g.create_group("neuron")
            _put_str(n, "type", neuron_type)
            for key, value in (("iDecay", 4096), ("vDecay", 1024), ("vThMant", 25), ("refDelay", 1)):
                n.create_dataset(key, data=value)
        g = layer.create_group("1")
        _put_str(g, "type", "conv")
        g.create_dataset("shape", data=np.array([3, 3, 3]))
        g.create_dataset("weight", data=np.ones((3, 2, 3, 3, 1), dtype=np.float32) * 4)
        for key, value in (("stride", [1, 1]), ("padding", [0, 0]), ("dilation", [1, 1]), ("groups", 1)):
            g.create_dataset(key, data=value)
        if conv_neuron:
            n = g.create_group("neuron")
            _put_str(n, "type", neuron_type)
            for key, value in (("iDecay", 0), ("vDecay", 4096), ("vThMant", 25), ("refDelay", 3)):
                n.create_dataset(key, data=value)
        g = layer.create_group("2")
        _put_str(g, "type", "flatten")
        g.create_dataset("shape", data=np.array([1, 1, 27]))
        g = layer.create_group("3")
        _put_str(g, "type", "dense")
        g.create_dataset("shape", data=np.array([4, 1, 1]))
        g.create_dataset("weight", data=np.arange(4 * 27, dtype=np.float32).reshape(4, 27) % 7 - 3)
        g.create_dataset("bias", data=np.array([5.0]))
        for key, fill in (extra or {}).items():
            fill(layer[key])
    return path


def test_lava_dl_layout_is_read_as_netx_builds_it(tmp_path):
    """Input block (its weight and bias ignored, as netx does), LOIHI neurons, iDecay 0 (du = -1),
    vDecay 4096, 5-D conv weights, [1, 1, N] shapes, a scalar bias, a dense readout without neurons."""
    net = read_netx(netx_file(tmp_path / "a.net", "LOIHI", input_neuron=True))
    block, conv, _, dense = net.layers
    assert (block.kind, block.shape, block.neuron, block.bias) == ("input", (2, 5, 5), "LOIHI", None)
    assert (block.du, block.dv, block.vth) == (4095, 1024, 25)
    assert (conv.du, conv.dv, conv.ref_delay, conv.weight.shape) == (-1, 4096, 3, (3, 2, 3, 3))
    assert dense.neuron == "none" and (dense.du, dense.dv, dense.vth) == (-1, 4096, 1 << 17)
    assert dense.shape == (4,) and np.array_equal(dense.bias, np.full(4, 5))
    back = read_netx(write_netx(net, tmp_path / "b.net"))
    assert [(x.kind, x.neuron, x.du, x.dv, x.vth, x.ref_delay) for x in back.layers] == [
        (x.kind, x.neuron, x.du, x.dv, x.vth, x.ref_delay) for x in net.layers]
    with h5py.File(tmp_path / "b.net") as f:
        assert "neuron" in f["layer/0"] and "neuron" not in f["layer/3"]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"neuron_type": "SDNN"}, ["layer/1", "SDNN", "reset_interval"]),
        ({"neuron_type": "SDNN", "input_neuron": True}, ["layer/0", "SDNN"]),
        ({"neuron_type": "RF_IZ"}, ["layer/1", "RF_IZ"]),
        ({"conv_neuron": False}, ["layer/1", "conv layer without a neuron group"]),
        ({"extra": {"3": lambda g: g.create_dataset("delay", data=np.ones(4))}}, ["layer/3", "delay"]),
        ({"extra": {"1": lambda g: g["neuron"].create_dataset("messageBits", data=8)}},
         ["layer/1", "messageBits"]),
        ({"extra": {"1": lambda g: g["neuron"]["iDecay"].write_direct(np.array(5000))}},
         ["layer/1", "iDecay 5000"]),
    ],
)
def test_what_lava_runs_but_snnx_does_not_is_refused_in_one_line(tmp_path, kwargs, words):
    with pytest.raises(SnnxError) as e:
        read_netx(netx_file(tmp_path / "x.net", **kwargs))
    msg = str(e.value)
    assert "\n" not in msg and all(w in msg for w in words), msg


def test_input_block_must_come_first_and_match_the_input():
    block = LoihiLayer("input", (3,), du=4095, dv=0, vth=5)
    dense = LoihiLayer("dense", (2,), weight=np.ones((2, 3)), vth=5)
    LoihiNet(InputSpec((3,)), [block, dense])
    with pytest.raises(SnnxError, match="first layer"):
        LoihiNet(InputSpec((3,)), [dense, LoihiLayer("input", (2,), vth=5)])
    with pytest.raises(SnnxError, match="first layer"):
        LoihiNet(InputSpec((4,)), [block, dense])
    with pytest.raises(SnnxError, match="no weight or bias"):
        LoihiLayer("input", (3,), weight=np.ones((3, 3)))
    with pytest.raises(SnnxError, match="only a dense layer"):
        LoihiLayer("conv", (1, 1, 1), weight=np.ones((1, 1, 1, 1)), neuron="none")
