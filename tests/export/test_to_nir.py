"""torch -> model.nir -> torch: the graph holds the model exactly (same output spikes)."""

from __future__ import annotations

import json

import nir
import numpy as np
import pytest
import torch

from snnx.config import RunConfig
from snnx.export.from_nir import graph_to_float
from snnx.export.nir_build import build_from_nir
from snnx.export.to_nir import model_to_nir, snnx_metadata, write_nir


def _spikes(model, x):
    with torch.no_grad():
        return model(x).spikes


@pytest.mark.parametrize("kind,alpha", [("fc", 0.0), ("conv", 0.0), ("fc", 0.6), ("conv", 0.8)])
def test_round_trip_through_file_gives_identical_spikes(nets, tmp_path, kind, alpha):
    model = nets.model(nets.config(kind, alpha, hidden=[64]), seed=1)
    write_nir(model_to_nir(model, snnx_metadata(1e-4, 12, "rate", {"gain": 1.0})), tmp_path / "model.nir")
    rebuilt = build_from_nir(nir.read(tmp_path / "model.nir"))
    x = nets.spikes(12, 24, seed=2)
    original, again = _spikes(model, x), _spikes(rebuilt, x)
    assert len(original) == len(again) == len(model.layers)
    for a, b in zip(original, again, strict=True):
        assert a.sum() > 0  # the comparison means something: every layer spikes
        assert torch.equal(a, b)


def test_if_neurons_and_residual_layers_round_trip(nets, tmp_path):
    """beta = 1 is written as IF(r = 1/dt); a one-layer residual (W + I) as a plain Affine."""
    config = RunConfig.from_dict({"model": {"kind": "residual", "hidden": [40, 40], "skip": 1,
                                            "neuron": {"beta": 1.0}}})
    model = nets.model(config, seed=4, gain=2.0)
    write_nir(model_to_nir(model), tmp_path / "if.nir")
    g = nir.read(tmp_path / "if.nir")
    assert {type(g.nodes[f"lif{i}"]).__name__ for i in (1, 2, 3)} == {"IF"}
    x = nets.spikes(10, 16, seed=5)
    for a, b in zip(_spikes(model, x), _spikes(build_from_nir(g), x), strict=True):
        assert a.sum() > 0 and torch.equal(a, b)


def test_nodes_carry_the_stated_dt_convention(nets, tmp_path):
    """LIF: tau = dt/(1-beta), r = tau/dt, bias in the Affine; CubaLIF: w_in = tau_syn/dt, bias as v_leak."""
    dt = 1e-4
    for alpha in (0.0, 0.5):
        model = nets.model(nets.config("fc", alpha, hidden=[16]))
        write_nir(model_to_nir(model, snnx_metadata(dt, 25, "rate", {})), tmp_path / "m.nir")
        g = nir.read(tmp_path / "m.nir")
        p = model.layers[0].params()
        beta, theta = p.beta, float(p.threshold)
        bias = p.bias.detach().double().numpy()
        assert [type(g.nodes[n]).__name__ for n in ("input", "flatten1", "fc1", "fc2", "output")] == \
               ["Input", "Flatten", "Affine" if alpha == 0 else "Linear", "Affine" if alpha == 0 else "Linear", "Output"]
        neuron = g.nodes["lif1"]
        if alpha == 0:
            assert isinstance(neuron, nir.LIF)
            np.testing.assert_allclose(neuron.tau, dt / (1 - beta), rtol=1e-15)
            np.testing.assert_allclose(neuron.r, neuron.tau / dt, rtol=1e-15)
            assert not neuron.v_leak.any() and not neuron.v_reset.any()
            np.testing.assert_array_equal(g.nodes["fc1"].bias, bias)
        else:
            assert isinstance(neuron, nir.CubaLIF)
            np.testing.assert_allclose(neuron.tau_syn, dt / (1 - p.alpha), rtol=1e-15)
            np.testing.assert_allclose(neuron.w_in, neuron.tau_syn / dt, rtol=1e-15)
            np.testing.assert_allclose((1 - beta) * neuron.v_leak, bias, rtol=1e-12)
        np.testing.assert_array_equal(neuron.v_threshold, np.full(16, theta))
        assert float(g.metadata["dt"]) == dt
        meta = json.loads(g.metadata["snnx"])
        assert (meta["timesteps"], meta["encoding"], meta["delay"]) == (25, "rate", "one step per synapse layer")


def test_dt_is_read_from_metadata(nets, tmp_path):
    """The same network written with dt = 1 ms (tau scaled accordingly) reads back to the same decays."""
    model = nets.model(nets.config("fc", 0.5, hidden=[16]))
    a = graph_to_float(model_to_nir(model, snnx_metadata(1e-4, 25, "rate", {}), dt=1e-4))
    b = graph_to_float(model_to_nir(model, snnx_metadata(1e-3, 25, "rate", {}), dt=1e-3))
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert (la.alpha, la.beta) == (lb.alpha, lb.beta) == (model.layers[0].params().alpha,
                                                               model.layers[0].params().beta)
        np.testing.assert_allclose(la.bias, lb.bias, rtol=1e-12)
    assert (a.dt, b.dt) == (1e-4, 1e-3)


def test_graph_without_metadata_defaults_to_snntorch_dt(nets):
    model = nets.model(nets.config("fc", 0.0, hidden=[16]))
    g = model_to_nir(model, {})
    assert graph_to_float(g).dt == 1e-4


def test_node_order_in_file_does_not_matter(nets, tmp_path):
    """nir.read returns nodes alphabetically; a 12-layer chain (fc10 sorts before fc2) still reads in edge order."""
    model = nets.model(nets.config("fc", 0.0, hidden=[20] * 11), gain=2.0)
    write_nir(model_to_nir(model), tmp_path / "deep.nir")
    g = nir.read(tmp_path / "deep.nir")
    assert list(g.nodes)[:3] != ["input", "flatten1", "fc1"]
    assert [layer.name for layer in graph_to_float(g).layers] == [f"fc{i}" for i in range(1, 13)]
