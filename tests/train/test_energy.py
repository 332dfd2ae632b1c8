"""Chip-priced training: the differentiable energy estimate is deploy's energy accounting, and
the energy and firing-rate terms lower the spikes they price."""

from __future__ import annotations

import contextlib
import csv
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CLASSIC

from snnx.cli import main
from snnx.deploy.energy import layer_energy
from snnx.export.stage import export_command
from snnx.loihi.energy_profile import load_profile
from snnx.loihi.netx import read_netx
from snnx.sim.activity import ActivityAccumulator
from snnx.train.energy import energy_uJ, fan_outs, layer_counts, rates


@pytest.mark.parametrize("kind", ["fc", "conv"])
def test_estimate_equals_the_energy_report_on_the_same_spikes(kind: str, nets, tmp_path: Path) -> None:
    """The float model's spikes, counted by snnx.sim.activity on the exported model.net and priced by
    deploy's layer_energy, give the training estimate's synops, spikes and uJ exactly."""
    extra = {"hidden": [48, 24]} if kind == "fc" else {"conv": "8c5s2-8c3s2", "hidden": [16]}
    config = nets.config(kind, **extra)
    model = nets.model(config, seed=3)
    run = nets.save(tmp_path / kind, config, model)
    with contextlib.redirect_stdout(io.StringIO()):
        export_command(run, "loihi", None, None, None, None, None)
    net = read_netx(run / "model.net")
    x = nets.spikes(25, 16, seed=1)
    with torch.no_grad():
        out = model(x)
    counts = layer_counts(x, out, fan_outs(model))
    acc = ActivityAccumulator(net)
    acc.add(x.movedim(1, 0).numpy(), [s.movedim(1, 0).numpy() for s in out.spikes])
    activity = acc.result()
    profile = load_profile(None)
    assert len(activity) == len(counts) and all(a.spikes > 1 for a in activity)
    steps = x.shape[0] + model.latency
    report = 0.0
    for a, c in zip(activity, counts, strict=True):
        assert float(c.input_spikes) == pytest.approx(a.input_spikes, rel=1e-6)
        assert float(c.synops) == pytest.approx(a.synops, rel=1e-6)
        assert float(c.spikes) == pytest.approx(a.spikes, rel=1e-6)
        assert c.neuron_updates == pytest.approx(a.neuron_updates)
        report += layer_energy(a.to_dict(), 1, steps, profile)["dynamic_energy_uJ"]
    assert float(energy_uJ(counts, profile)) == pytest.approx(report, rel=1e-6)
    assert report > 0.05  # synops dominate: a real price, not a rounding residue


def test_estimate_has_gradients_through_the_spikes(nets) -> None:
    config = nets.config("fc", hidden=[32])
    model = nets.model(config, seed=0).train()
    x = nets.spikes(10, 8)
    out = model(x)
    counts = layer_counts(x, out, fan_outs(model))
    energy_uJ(counts, load_profile(None)).backward()
    grads = [layer.synapse.weight.grad for layer in model.layers]
    assert all(g is not None and float(g.abs().sum()) > 0 for g in grads)
    assert float(rates(counts)[0]) == pytest.approx(float(out.spikes[0].mean()), rel=1e-5)


def test_trainable_fan_out_is_the_count_with_the_pruning_gradient(nets) -> None:
    """The trainable fan-out keeps the exact count; its gradient is d/dW of sum_j |W_int[j, i]| /
    mean |nonzero W_int|, the scale-free proxy (docs/design.md §13), through the QAT weights."""
    model = nets.model(nets.config("fc", hidden=[32]), seed=2).train()
    fos = fan_outs(model, trainable=True)
    assert [torch.equal(a.detach(), b) for a, b in zip(fos, fan_outs(model), strict=True)] == [True, True]
    layer = model.layers[0]
    w_q = layer.params().weight.detach()
    weights = torch.arange(w_q.shape[1], dtype=torch.float32)
    (fos[0] * weights).sum().backward()
    mean_nz = w_q.abs().sum() / (w_q != 0).sum()
    expected = torch.sign(w_q) * weights / mean_nz  # the mean is detached; the STE passes the rest
    assert torch.allclose(layer.synapse.weight.grad, expected, rtol=1e-4, atol=1e-6)


def _rows(run: Path) -> list[dict[str, float]]:
    with open(run / "metrics.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _train(run: Path, data: Path, *sets: str) -> list[dict[str, float]]:
    args = ["train.epochs=2", *CLASSIC, "model.hidden=[64]", "train.lr=5e-3", *sets]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", "-o", str(run), "--data-dir", str(data), *(a for s in args for a in ("--set", s))]) == 0
    return _rows(run)


def test_energy_weight_lowers_spikes_and_energy(synthetic_data: Path, tmp_path: Path) -> None:
    plain = _train(tmp_path / "plain", synthetic_data)
    priced = _train(tmp_path / "priced", synthetic_data, "train.energy_weight=30")
    assert "energy_uJ" in plain[-1]
    assert priced[-1]["rate_layer1"] < 0.7 * plain[-1]["rate_layer1"]
    assert priced[-1]["rate_layer2"] < plain[-1]["rate_layer2"]
    # the input layer's synaptic ops (fixed by the synthetic input) dominate: a few percent less
    assert priced[-1]["energy_uJ"] < 0.98 * plain[-1]["energy_uJ"]
    assert priced[-1]["test_acc"] > 0.5  # still learns the synthetic classes


def test_rate_targets_pull_the_hidden_rate_to_the_target(synthetic_data: Path, tmp_path: Path) -> None:
    rows = _train(tmp_path / "rate", synthetic_data, "train.rate_targets=[0.02]", "train.rate_weight=2000")
    assert abs(rows[-1]["rate_layer1"] - 0.02) < 0.015
    assert np.isfinite(rows[-1]["loss"])
