"""Quantizer edge cases: zero / single-sign / odd weights, bit-width limits, percentile scale."""

from __future__ import annotations

import numpy as np
import pytest

from snnx.errors import SnnxError
from snnx.export.from_nir import FloatLayer, FloatNet
from snnx.export.quantize import quantize, quantize_layer
from snnx.loihi.limits import BIAS_MAX, BIAS_MIN, VTH_MAX
from snnx.loihi.netx import read_netx, write_netx
from snnx.loihi.weights import lava_dense_weight
from snnx.sim.lava_build import build_lava_network


def _dense(weight, bias=None, threshold=1.0, alpha=0.0, beta=0.9, name="fc1") -> FloatLayer:
    w = np.asarray(weight, dtype=np.float64)
    return FloatLayer(name=name, kind="dense", weight=w, bias=None if bias is None else np.asarray(bias, float),
                      alpha=alpha, beta=beta, threshold=threshold, in_shape=(w.shape[1],), out_shape=(w.shape[0],))


def _net(*layers: FloatLayer) -> FloatNet:
    return FloatNet(input_shape=layers[0].in_shape, layers=list(layers), timesteps=5, encoding="rate")


def test_grid_values_map_exactly():
    rng = np.random.default_rng(0)
    k = 37.0
    ints = 2 * rng.integers(-127, 128, (6, 9))  # max-abs maps the largest |w| to 254
    ints[0, 0] = 254
    layer = _dense(ints / k, bias=np.arange(-3, 3) / k, threshold=1000 / k, alpha=0.25, beta=0.75)
    q, rep = quantize_layer(layer)
    assert np.isclose(q.scale, k) and np.array_equal(q.weight, ints)
    assert q.vth == 1000 and list(q.bias) == list(range(-3, 3))
    assert (q.du, q.dv) == (round(0.75 * 4096) - 1, round(0.25 * 4096))
    assert rep.clipped == 0 and rep.max_weight_error < 1e-12 and rep.weight_exp == 0


def test_all_zero_layer_quantizes_saves_and_builds_in_lava(tmp_path):
    zero = _dense(np.zeros((4, 6)), bias=[0.1, 0, 0, -0.2], threshold=0.5)
    nxt = _dense(np.ones((3, 4)) * 0.3, name="fc2")
    net, rep = quantize(_net(zero, nxt))
    assert not net.layers[0].weight.any()
    assert net.layers[0].vth == 254  # the larger of threshold and |bias| maps to 254: 8 bits of resolution
    assert list(net.layers[0].bias) == [51, 0, 0, -102]
    write_netx(net, tmp_path / "model.net")
    assert len(build_lava_network(tmp_path / "model.net").layers) == 2
    assert rep.layers[0].weight_min == rep.layers[0].weight_max == 0


@pytest.mark.parametrize("sign", [1, -1])
def test_single_sign_layers_use_every_integer_and_lava_keeps_them(sign):
    rng = np.random.default_rng(1)
    w = sign * rng.uniform(0, 1, (20, 30))
    q, rep = quantize_layer(_dense(w))
    assert (q.weight * sign >= 0).all() and np.abs(q.weight).max() == 254
    assert (q.weight % 2 == 1).any()  # odd integers are used: finer grid than the mixed-sign one
    lava_w, exp = lava_dense_weight(q.weight)
    assert np.array_equal(lava_w * 2.0**exp, q.weight)  # Lava computes with exactly these
    assert rep.max_weight_error <= 0.5 / q.scale + 1e-12


def test_mixed_sign_weights_are_even_so_lava_does_not_floor_them():
    rng = np.random.default_rng(2)
    q, rep = quantize_layer(_dense(rng.normal(0, 1, (20, 30))))
    assert (q.weight % 2 == 0).all() and np.abs(q.weight).max() == 254
    lava_w, exp = lava_dense_weight(q.weight)
    assert np.array_equal(lava_w * 2.0**exp, q.weight)
    assert rep.max_weight_error <= 1.0 / q.scale + 1e-12


def test_odd_integer_weights_in_a_mixed_layer_round_to_the_even_grid():
    """Weights that are odd integers at scale k (e.g. from a tool without QAT) are not silently floored by Lava."""
    q, _ = quantize_layer(_dense(np.array([[254, -3, 5, 1]]) / 1.0))  # k = 1: odd integers at the scale
    assert (q.weight % 2 == 0).all() and list(q.weight[0]) == [254, -4, 6, 2]  # half away from zero, even
    lava_w, exp = lava_dense_weight(q.weight)
    assert np.array_equal(lava_w * 2.0**exp, q.weight)


def test_threshold_at_the_17_bit_limit_passes_and_one_more_fails():
    w = np.array([[1.0, -1.0]])  # k = 254
    ok, _ = quantize_layer(_dense(w, threshold=VTH_MAX / 254))
    assert ok.vth == VTH_MAX
    with pytest.raises(SnnxError, match=r"layer fc1: threshold \(vth\) 131072 .*\[0, 131071\]"):
        quantize_layer(_dense(w, threshold=(VTH_MAX + 1) / 254))


def test_bias_overflow_names_layer_value_and_limit():
    w = np.array([[1.0, -1.0], [0.5, 0.5]])
    ok, _ = quantize_layer(_dense(w, bias=[BIAS_MAX / 254, BIAS_MIN / 254]))
    assert list(ok.bias) == [BIAS_MAX, BIAS_MIN]
    with pytest.raises(SnnxError, match=r"layer fc1: bias -4097 .*\[-4096, 4095\]"):
        quantize_layer(_dense(w, bias=[0.0, (BIAS_MIN - 1) / 254]))


def test_percentile_scale_clips_outliers_for_finer_resolution():
    rng = np.random.default_rng(3)
    w = rng.normal(0, 1, (50, 100))
    w[0, :5] = 40.0  # a few outliers would waste the 8-bit range under max-abs
    qmax, rmax = quantize_layer(_dense(w))
    qpct, rpct = quantize_layer(_dense(w), rule="percentile", percentile=99.0)
    assert rmax.clipped == 0 and 0.005 < rpct.clipped <= 0.011
    assert qpct.scale > 10 * qmax.scale
    bulk = np.abs(w) < 10
    err = [np.sqrt(np.mean((q.weight / q.scale - w)[bulk] ** 2)) for q in (qmax, qpct)]
    assert err[1] < err[0] / 2  # the bulk is represented better (measured 0.037 vs 0.092)
    assert rpct.rms_weight_error > rmax.rms_weight_error  # ...at the price of the clipped outliers
    assert qpct.weight.max() == 254 and qpct.weight.min() >= -256


def test_graded_input_raises_first_layer_threshold_and_bias(tmp_path):
    rng = np.random.default_rng(4)
    layer = _dense(rng.normal(0, 0.1, (5, 8)), bias=np.full(5, 0.01), threshold=1.0)
    net, rep = quantize(_net(layer), graded=True)
    s = net.input.params["input_scale"]
    assert 1 <= s <= 255 and rep.input_scale == s
    assert net.layers[0].vth == round(net.layers[0].scale * s)
    write_netx(net, tmp_path / "g.net")
    assert read_netx(tmp_path / "g.net").input.params["input_scale"] == s
