"""QAT float model == exported fixed-point network, up to the integer state truncation.

The exported LoihiNet is run by a plain integer reference of docs/design.md §6.3 with the deployed
time convention (one-step synapse delay, layer l held at zero until step l + 1, as the float
model and netx do) and compared spike for spike with the QAT model. The only differences allowed are where
Loihi truncates ``dec(v, 4096 - dv)`` / ``dec(u, ...)`` toward zero and float32 rounds: they
flip a spike only when v lands within a fraction of a weight unit of the threshold.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnx.export.from_nir import graph_to_float
from snnx.export.intref import integer_reference
from snnx.export.quantize import quantize
from snnx.export.to_nir import model_to_nir
from snnx.sim.fast import simulate


def _run_both(nets, model, steps: int = 25, batch: int = 100):
    net, _ = quantize(graph_to_float(model_to_nir(model)))
    x = nets.spikes(steps, batch, seed=1)
    with torch.no_grad():
        out = model(x)
    float_spikes = [s.permute(1, 0, *range(2, s.dim())).numpy().astype(np.int64) for s in out.spikes]
    xi = x.permute(1, 0, 2, 3, 4).numpy().astype(np.int64)
    return net, xi, float_spikes, integer_reference(net, xi)


@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_fc_fixed_point_equals_qat_float(nets, alpha):
    model = nets.model(nets.config("fc", alpha, hidden=[100]), seed=0, gain=3.0, bias_std=0.05)
    net, _, f, q = _run_both(nets, model)
    same_sample = np.mean([np.array_equal(f[-1][i], q[-1][i]) for i in range(len(f[-1]))])
    flipped = [float(np.mean(a != b)) for a, b in zip(f, q, strict=True)]
    assert min(float(a.mean()) for a in f) > 0.05  # layers are active
    assert flipped[0] < 1e-4 and flipped[-1] < 1e-3, flipped
    assert same_sample >= 0.95, same_sample  # measured: 0.98 (alpha 0), 1.0 (alpha 0.5)
    lat = net.num_synapse_layers
    assert np.mean(f[-1][:, lat:].sum(1).argmax(1) == q[-1][:, lat:].sum(1).argmax(1)) >= 0.99


def test_conv_fixed_point_equals_qat_float_in_the_first_layer_and_predictions(nets):
    """Random untrained conv nets are chaotic (one flipped spike cascades), so deep layers differ more."""
    model = nets.model(nets.config("conv", 0.0), seed=0, gain=3.0, bias_std=0.0)
    net, _, f, q = _run_both(nets, model, batch=60)
    assert float(np.mean(f[0] != q[0])) < 1e-4
    lat = net.num_synapse_layers
    assert np.mean(f[-1][:, lat:].sum(1).argmax(1) == q[-1][:, lat:].sum(1).argmax(1)) >= 0.9


@pytest.mark.parametrize("kind", ["fc", "conv"])
def test_integer_reference_is_the_fast_simulator(nets, kind):
    """Bit for bit, with and without biases (netx's staggered start held in both)."""
    for bias_std in (0.0, 0.1):
        model = nets.model(nets.config(kind, 0.3, hidden=[50]), seed=2, gain=3.0, bias_std=bias_std)
        net, xi, _, q = _run_both(nets, model, steps=10, batch=20)
        assert (net.synapse_layers[0].bias is not None) == (bias_std > 0)
        fast = simulate(net, xi > 0).spikes
        assert all(np.array_equal(a, b) for a, b in zip(q, fast, strict=True))
